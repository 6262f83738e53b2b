"""The README's examples run as written: every Python block is marked; a block marked ``<!-- runnable -->`` runs as
a script, and one marked ``<!-- runnable: pytest -->`` passes as a test file, each in an empty folder outside the
repository (all in one Python process, each in a namespace of its own). tests/test_wheel.py type-checks them all
with ``mypy --strict`` against the installed wheel."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.once_per_run import once_per_run
from tests.one_process import Program, run_one_after_another

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


# All blocks run in one Python process (tests/one_process.py), each in its own empty folder as its own script or
# pytest run. CDK_OUTDIR is unset, so each App synthesizes into a new folder of its own (CDK's default, under
# TMPDIR): CDK's Node process reads the environment once, so a CDK_OUTDIR per block would not reach it. Modules stay
# imported from block to block (tests/test_wheel.py type-checks each block alone with `mypy --strict`).
PYTEST_ARGS = ["-q", "-p", "no:cacheprovider", "test_example.py"]


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every block run once per test run, outside the repository: by block, its exit code and its output."""

    def run() -> dict[str, Any]:
        programs = []
        for index, (how, code) in enumerate(BLOCKS):
            folder = tmp_path_factory.mktemp(f"block{index}")
            if how == "pytest":
                (folder / "test_example.py").write_text(code)
                programs.append(Program(str(folder), "pytest", "pytest", PYTEST_ARGS, folder=str(folder)))
            else:
                (folder / "example.py").write_text(code)
                programs.append(Program(str(folder), "script", str(folder / "example.py"), folder=str(folder)))
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CDK_OUTDIR")}
        env["TMPDIR"] = str(tmp_path_factory.mktemp("tmp"))  # each App's own cdk.out folder (removed at exit) goes here
        ran = run_one_after_another(programs, cwd=Path(programs[0].folder or "."), env=env, stderr_in_outputs=True)
        return {"codes": ran.codes, "outputs": ran.outputs}  # each block's errors in its own output

    result: dict[str, Any] = once_per_run(tmp_path_factory, "readme-examples", run)
    return result


@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_a_readme_example_runs_as_written(index: int, ran: dict[str, Any]) -> None:
    assert ran["codes"][index] == 0, str(ran["outputs"][index])[-6000:]
