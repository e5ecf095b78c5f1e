"""Pure pieces of the book's Sphinx extension (tools/book_extension.py).

The extension runs in every build of the book; these check, in milliseconds, the decisions
that a local build cannot show: the buttons of the published site.
"""

import book_extension
import pytest
from _book import ROOT

REPO = "https://github.com/someone/dl-book"


def test_a_build_that_does_not_know_its_repository_shows_no_button():
    assert book_extension.repository_options({}) == {}
    assert book_extension.repository_options({"NNBOOK_REPOSITORY": "  "}) == {}


def test_the_pages_workflow_turns_on_the_buttons_and_binder():
    options = book_extension.repository_options(
        {"NNBOOK_REPOSITORY": REPO + "/", "NNBOOK_BRANCH": "main"})
    assert options["repository_url"] == REPO
    assert options["repository_branch"] == "main"
    assert options["path_to_docs"] == ""    # "suggest edit" opens <branch>/book/<page>.md
    assert options["use_repository_button"] and options["use_issues_button"]
    assert options["use_edit_page_button"]
    assert options["launch_buttons"] == {"binderhub_url": "https://mybinder.org",
                                         "notebook_interface": "jupyterlab"}
    assert "colab_url" not in options["launch_buttons"]   # Colab cannot open a .md chapter


def test_a_server_other_than_github_com_gets_no_binder_button():
    options = book_extension.repository_options(
        {"NNBOOK_REPOSITORY": "https://github.example.com/team/book"})
    assert options["repository_branch"] == "main"
    assert options["repository_provider"] == "github"
    assert "launch_buttons" not in options


@pytest.mark.parametrize("url", ["someone/dl-book", "https://github.com/someone", "file:///x/y"])
def test_an_address_that_is_not_a_repository_is_refused(url):
    with pytest.raises(ValueError, match="NNBOOK_REPOSITORY"):
        book_extension.repository_options({"NNBOOK_REPOSITORY": url})


def test_the_workflow_sets_the_variables_the_extension_reads():
    workflow = (ROOT / ".github" / "workflows" / "book.yml").read_text()
    assert f"{book_extension.REPOSITORY_VARIABLE}: ${{{{ github.server_url }}}}/${{{{ github.repository }}}}" in workflow
    assert f"{book_extension.BRANCH_VARIABLE}: ${{{{ github.ref_name }}}}" in workflow
