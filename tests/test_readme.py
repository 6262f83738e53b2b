"""The README's examples run as written: every Python block is marked; a block marked ``<!-- runnable -->`` runs as
a script, and one marked ``<!-- runnable: pytest -->`` passes as a test file, each in an empty folder outside the
repository (all in one Python process, each in a namespace of its own). tests/test_wheel.py type-checks them all
with ``mypy --strict`` against the installed wheel."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.once_per_run import once_per_run

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


# Runs every block in one Python process (starting Python, aws-cdk-lib and jsii once instead of once a block), each
# in its own empty folder as its own script (a fresh namespace, its own sys.path[0] and argv) or as its own pytest
# run. CDK_OUTDIR is unset, so each App synthesizes into a new folder of its own (CDK's default, under TMPDIR): CDK's
# Node process reads the environment once, so setting CDK_OUTDIR per block would not reach it. Modules stay
# imported from block to block (tests/test_wheel.py type-checks each block alone with `mypy --strict`). Each block's
# output follows a line "@@ <folder>"; the last line is every block's exit code.
RUNNER = """
import json, os, runpy, sys, traceback
codes = []
for folder, how in json.loads(sys.argv[1]):
    os.chdir(folder)
    sys.path[0] = folder  # as `python example.py` (or pytest's rootdir) would have it
    print("@@ " + folder, flush=True)
    try:
        if how == "pytest":
            import pytest
            sys.argv = ["pytest"]
            code = int(pytest.main(["-q", "-p", "no:cacheprovider", "test_example.py"]))
        else:
            script = os.path.join(folder, "example.py")
            sys.argv = [script]
            runpy.run_path(script, run_name="__main__")
            code = 0
    except SystemExit as stopped:
        if isinstance(stopped.code, int) or stopped.code is None:
            code = stopped.code or 0
        else:
            print(stopped.code)
            code = 1
    except BaseException:
        traceback.print_exc(file=sys.stdout)
        code = 1
    sys.stdout.flush()
    codes.append(code)
print(json.dumps(codes))
"""


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every block run once per test run, outside the repository: by block, its exit code and its output."""

    def run() -> dict[str, Any]:
        folders = []
        for index, (how, code) in enumerate(BLOCKS):
            folder = tmp_path_factory.mktemp(f"block{index}")
            (folder / ("test_example.py" if how == "pytest" else "example.py")).write_text(code)
            folders.append((str(folder), how))
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CDK_OUTDIR")}
        env["TMPDIR"] = str(tmp_path_factory.mktemp("tmp"))  # each App's own cdk.out folder (removed at exit) goes here
        command = [sys.executable, "-c", RUNNER, json.dumps(folders)]
        out, err = subprocess.PIPE, subprocess.STDOUT  # each block's errors in its own section
        done = subprocess.run(command, cwd=folders[0][0], env=env, stdout=out, stderr=err, text=True, timeout=900)
        *printed, last = done.stdout.strip().splitlines() or [""]
        assert done.returncode == 0 and last.startswith("["), done.stdout[-5000:]
        sections = "\n".join(printed).split("\n@@ ")  # the first line is "@@ ...": no newline before it
        sections[0] = sections[0].removeprefix("@@ ")
        assert [section.split("\n", 1)[0] for section in sections] == [folder for folder, _ in folders]
        return {"codes": json.loads(last), "outputs": sections}

    result: dict[str, Any] = once_per_run(tmp_path_factory, "readme-examples", run)
    return result


@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_a_readme_example_runs_as_written(index: int, ran: dict[str, Any]) -> None:
    assert ran["codes"][index] == 0, str(ran["outputs"][index])[-6000:]
