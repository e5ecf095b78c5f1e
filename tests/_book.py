"""The book's pages, as the tests see them: read through tools/toc.py, the one reader of _toc.yml."""

import re
import subprocess
from pathlib import Path

import toc

ROOT = toc.ROOT


def notebook_chapters() -> list[Path]:
    """The source files of the pages of _toc.yml that are notebooks, in reading order."""
    return [toc.source(ROOT, d) for d in toc.notebooks(ROOT)]


def readme_command(name: str) -> str:
    """The README command CI runs for marker ``name``, read by .ci/run's own function."""
    script = (ROOT / ".ci" / "run").read_text()
    function = re.search(r"^readme_command\(\) \{.*?^\}", script, re.MULTILINE | re.DOTALL)
    assert function, ".ci/run must define a readme_command function"
    result = subprocess.run(["bash", "-c", f"{function.group(0)}\nreadme_command {name}"],
                            capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()
