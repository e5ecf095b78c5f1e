"""The CI script's own logic (.ci/run), run in bash on small commands (milliseconds)."""

import re
import subprocess

import pytest
from _book import ROOT, readme_command


def stage_function() -> str:
    """The text of the `stage` function in .ci/run."""
    script = (ROOT / ".ci" / "run").read_text()
    match = re.search(r"^stage\(\) \{.*?^\}", script, re.MULTILINE | re.DOTALL)
    assert match, ".ci/run must define a stage function"
    return match.group(0)


def run_bash(body: str) -> subprocess.CompletedProcess:
    script = "set -euo pipefail\n" + stage_function() + "\n" + body
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("command, expected", [("true", "1"), ("false", "0"), ("exit 3", "0")])
def test_a_stage_left_of_or_reports_its_commands_failure(command, expected):
    # bash turns set -e off inside a function called left of `||`: stage must still return
    # the command's status, or `stage "browser check" ... || browser_ok=0` hides a failure.
    result = run_bash(f'ok=1\nstage demo bash -c "{command}" || ok=0\necho "ok=$ok"')
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == f"ok={expected}"
    assert "ci: demo took" in result.stdout  # the time is reported either way


def test_a_failing_stage_stops_the_script():
    result = run_bash('stage demo bash -c "exit 4"\necho "not reached"')
    assert result.returncode == 4
    assert "not reached" not in result.stdout


def test_ci_runs_the_unit_tests_under_a_coverage_gate_of_every_line():
    import configparser

    test_cmd, coverage = readme_command("test"), readme_command("coverage")
    python, pytest_args = test_cmd.split(" -m pytest ")
    # the README's own unit-test selection, run by coverage and then reported on
    assert coverage == (f'{python} -m coverage run -m pytest {pytest_args} '
                        f'-m "not slow and not chapters" && {python} -m coverage report')
    script = (ROOT / ".ci" / "run").read_text()
    assert 'stage "unit tests, with line coverage" bash -c "$coverage"' in script
    config = configparser.ConfigParser()
    config.read(ROOT / ".coveragerc")
    assert config["run"]["source"] == "nnscratch"
    assert float(config["report"]["fail_under"]) == 100  # "the unit tests run every line"
