"""Sphinx extension: chapters numbered from 0, so that chapter N is Step N.

The book's steps start at Step 0 ("Before you start"); Sphinx numbers the first chapter 1.
After Sphinx (with sphinx-multitoc-numbering, which makes the numbering run on across the
parts of ``_toc.yml``, and sphinx-external-toc, which renumbers the chapters) has numbered
the sections, this shifts every number's first component
down by one: Step 4's theory page is section 4.1 and its second figure Figure 4.2, in the
navigation, the page titles, figure captions, equation numbers and ``{numref}`` links.
Figure and equation numbers follow because Sphinx derives them from the section numbers
after this runs. Parts marked ``numbered: false`` in ``_toc.yml`` (the reference pages) are
not numbered at all.

The PDF numbers its chapters in LaTeX; ``_config.yml``'s LaTeX preamble makes the same shift
there.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.environment.collectors.toctree import TocTreeCollector

FIRST_CHAPTER = 0


def shift(number: Any) -> Any:
    """``(5, 2)`` → ``(4, 2)``; a list is shifted in place (Sphinx shares it between nodes)."""
    if not number:
        return number
    if isinstance(number, list):
        number[0] += FIRST_CHAPTER - 1
        return number
    return (number[0] + FIRST_CHAPTER - 1, *number[1:])


def _shift_nodes(env: BuildEnvironment) -> None:
    seen: set[int] = set()  # the same list object sits on a toc entry and on its page's title
    trees = list(env.tocs.values()) + list(env.titles.values())
    for tree in trees:
        for node in tree.findall(lambda n: "secnumber" in getattr(n, "attributes", {})):
            number = node["secnumber"]
            if isinstance(number, list) and id(number) not in seen:
                seen.add(id(number))
                shift(number)
            elif isinstance(number, tuple):
                node["secnumber"] = shift(number)


def _wrap(assign):
    def assign_section_numbers(self: TocTreeCollector, env: BuildEnvironment) -> list[str]:
        old = env.toc_secnumbers
        assign(self, env)
        env.toc_secnumbers = {
            doc: {anchor: shift(number) for anchor, number in numbers.items()}
            for doc, numbers in env.toc_secnumbers.items()
        }
        _shift_nodes(env)
        # the wrapped function compared unshifted numbers with shifted ones: compare again
        return [doc for doc, numbers in env.toc_secnumbers.items() if old.get(doc) != numbers]

    assign_section_numbers.nnbook_wrapped = True
    return assign_section_numbers


def _active_collector_class(app: Sphinx) -> type:
    """The class of the collector that numbers sections in this build.

    sphinx-external-toc replaces Sphinx's TocTreeCollector with a subclass whose
    ``assign_section_numbers`` calls Sphinx's and then renumbers the chapters from 1 itself;
    the shift must wrap the outermost of the two.
    """
    for listener in app.events.listeners.get("env-get-updated", []):
        owner = getattr(listener.handler, "__self__", None)
        if isinstance(owner, TocTreeCollector):
            return type(owner)
    return TocTreeCollector


def _install(app: Sphinx, env: BuildEnvironment, docnames: list[str]) -> None:
    # jupyter-book sets sphinx-multitoc-numbering up after Sphinx's initialization (its setup
    # replaces Sphinx's method); reading begins later, and numbering happens after reading.
    cls = _active_collector_class(app)
    current = cls.assign_section_numbers
    if not getattr(current, "nnbook_wrapped", False):
        cls.assign_section_numbers = _wrap(current)


def setup(app: Sphinx) -> dict:
    app.connect("env-before-read-docs", _install)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
