"""The README's examples run as written: every Python block is marked; a block marked ``<!-- runnable -->`` runs as
a script, and one marked ``<!-- runnable: pytest -->`` passes as a test file, each in an empty folder outside the
repository. tests/test_wheel.py type-checks them all with ``mypy --strict`` against the installed wheel."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^<!-- runnable(?:: (?P<how>pytest))? -->\n```python\n(?P<code>.*?)^```", re.MULTILINE | re.DOTALL)


def runnable_blocks(markdown: str) -> list[tuple[str, str]]:
    """(how, code) of each marked block: how is "script" or "pytest"."""
    return [(m.group("how") or "script", m.group("code")) for m in BLOCK.finditer(markdown)]


BLOCKS = runnable_blocks((REPO / "README.md").read_text())


def test_the_readme_marks_every_python_example_runnable() -> None:
    hows = [how for how, _ in BLOCKS]
    assert hows.count("script") >= 2 and hows.count("pytest") >= 1
    # An unmarked example would be checked by nothing: every one runs here and passes `mypy --strict` in the
    # consumer project (tests/test_wheel.py).
    assert (REPO / "README.md").read_text().count("```python") == len(BLOCKS)


def test_the_readme_stays_a_guide_of_at_most_40_kb() -> None:
    """The README is the package's description on the index: install, use, props; lab notes go to docs/."""
    assert len((REPO / "README.md").read_bytes()) <= 40 * 1024


def test_ci_runs_exactly_the_readmes_set_up_and_test_commands() -> None:
    """A fresh clone is set up and tested the way the README tells a person to, so CI proves the README."""
    commands = dict(
        re.findall(r"^\| (set-up|main job[^|]*|tests) \| `([^`]+)` \|$", (REPO / "README.md").read_text(), re.M)
    )
    assert set(commands) == {"set-up", "main job: synthesize the example app and rehearse its deployment", "tests"}
    run = [line for line in (REPO / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert run[-2:] == [commands["set-up"], commands["tests"]]


@pytest.mark.parametrize(("how", "code"), BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_a_readme_example_runs_as_written(how: str, code: str, tmp_path: Path) -> None:
    env = {**os.environ, "CDK_OUTDIR": str(tmp_path / "cdk.out")}
    env.pop("PYTHONPATH", None)
    if how == "pytest":
        (tmp_path / "test_example.py").write_text(code)
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_example.py"]
    else:
        (tmp_path / "example.py").write_text(code)
        command = [sys.executable, "example.py"]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
