"""Several Python programs run one after another in one Python process, each as ``python`` would run it on its
own (a fresh ``__main__`` namespace, its own ``sys.argv``; a folder given: its working directory and
``sys.path[0]``), so that Python, aws-cdk-lib and jsii start once. Modules stay imported from one to the next, and
CDK's Node process reads the environment once, at the first program that uses aws-cdk-lib."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

# Each program's output follows a line "@@ <its label>"; the last line is every program's exit code.
RUNNER = """
import json, os, runpy, sys, traceback
codes = []
for program in json.loads(sys.argv[1]):
    print("@@ " + program["label"], flush=True)
    if program["folder"]:
        os.chdir(program["folder"])
        sys.path[0] = program["folder"]  # as `python script.py` (or pytest's rootdir) would have it
    sys.argv = [program["target"], *program["args"]]
    try:
        if program["how"] == "pytest":
            import pytest
            code = int(pytest.main(program["args"]))
        elif program["how"] == "module":
            runpy.run_module(program["target"], run_name="__main__", alter_sys=True)
            code = 0
        else:
            runpy.run_path(program["target"], run_name="__main__")
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


@dataclass(frozen=True)
class Program:
    """``python <target> <args>`` (how="script"), ``python -m <target> <args>`` ("module") or ``pytest <args>``
    ("pytest"), labelled in the output; ``folder``: its working directory."""

    label: str
    how: str
    target: str
    args: list[str] = field(default_factory=list)
    folder: str | None = None


@dataclass(frozen=True)
class Ran:
    codes: list[int]
    outputs: list[str]  # by program: what it printed (and its errors, when stderr went with it)
    stderr: str  # what went to stderr, when it did not go with the programs' output


def run_one_after_another(
    programs: list[Program], *, cwd: Path, env: Mapping[str, str] | None = None, stderr_in_outputs: bool
) -> Ran:
    command = [sys.executable, "-c", RUNNER, json.dumps([asdict(p) for p in programs])]
    stderr = subprocess.STDOUT if stderr_in_outputs else subprocess.PIPE
    done = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True, timeout=900)
    *printed, last = done.stdout.strip().splitlines() or [""]
    assert done.returncode == 0 and last.startswith("["), done.stdout[-3000:] + (done.stderr or "")[-3000:]
    outputs = "\n".join(printed).split("\n@@ ")  # the first line is "@@ ...": no newline before it
    outputs[0] = outputs[0].removeprefix("@@ ")
    assert [output.split("\n", 1)[0] for output in outputs] == [p.label for p in programs]
    return Ran(json.loads(last), outputs, done.stderr or "")
