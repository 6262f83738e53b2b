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
# in its own empty folder as its own script (a fresh namespace: nothing one block imports or defines reaches the
# next), or as its own pytest run; prints each block's exit code as the last line.
RUNNER = """
import json, os, runpy, sys, traceback
codes = {}
for folder, how in json.loads(sys.argv[1]).items():
    os.chdir(folder)
    os.environ["CDK_OUTDIR"] = os.path.join(folder, "cdk.out")
    print(f"== {folder} ({how})", flush=True)
    try:
        if how == "pytest":
            import pytest
            code = int(pytest.main(["-q", "-p", "no:cacheprovider", "test_example.py"]))
        else:
            sys.path[0] = folder  # as `python example.py` would have it
            runpy.run_path("example.py", run_name="__main__")
            code = 0
    except SystemExit as stopped:
        code = stopped.code if isinstance(stopped.code, int) else int(stopped.code is not None)
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    codes[folder] = code
print(json.dumps(codes))
"""


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every block run once per test run, outside the repository: exit code and folder by block, and the output."""

    def run() -> dict[str, Any]:
        folders = {}
        for index, (how, code) in enumerate(BLOCKS):
            folder = tmp_path_factory.mktemp(f"block{index}")
            (folder / ("test_example.py" if how == "pytest" else "example.py")).write_text(code)
            folders[str(folder)] = how
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CDK_OUTDIR")}
        command = [sys.executable, "-c", RUNNER, json.dumps(folders)]
        cwd = next(iter(folders))
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
        output = done.stdout + done.stderr
        assert done.returncode == 0 and done.stdout.strip(), output[-5000:]
        codes = json.loads(done.stdout.strip().splitlines()[-1])
        return {"codes": [codes[folder] for folder in folders], "folders": list(folders), "output": output}

    result: dict[str, Any] = once_per_run(tmp_path_factory, "readme-examples", run)
    return result


@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_a_readme_example_runs_as_written(index: int, ran: dict[str, Any]) -> None:
    output = str(ran["output"])
    this = output[output.find(f"== {ran['folders'][index]} (") :]  # its part of the output, and what followed
    assert ran["codes"][index] == 0, this[:6000]
