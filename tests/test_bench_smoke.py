"""Smoke test of the benchmarks: each runs in its smallest mode and prints a table (nothing here is timed).

They run one after another in one Python process (each as its own ``__main__``, as ``python -m`` runs it), so
Python, aws-cdk-lib and jsii start once; ``python -m bench`` gives each a fresh process for its figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.__main__ import commands  # noqa: E402

# Each benchmark module run as ``__main__`` with its arguments; its output follows a line "@@ <its command line>",
# and the last line is every benchmark's exit code.
RUNNER = """
import json, runpy, sys, traceback
codes = []
for argv in json.loads(sys.argv[1]):
    print("@@ " + " ".join(argv), flush=True)
    sys.argv = ["python", *argv[1:]]
    try:
        runpy.run_module(argv[0], run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as stopped:
        code = stopped.code if isinstance(stopped.code, int) else int(stopped.code is not None)
    except BaseException:
        traceback.print_exc(file=sys.stdout)
        code = 1
    sys.stdout.flush()
    codes.append(code)
print(json.dumps(codes))
"""


def test_every_benchmark_prints_a_table_in_its_smallest_mode(tmp_path: Path) -> None:
    picture = tmp_path / "timelines.png"
    runs = [command[2:] for command in commands(quick=True, picture=picture)]  # [module, *arguments]
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, json.dumps(runs)], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0 and done.stdout.strip(), done.stdout[-3000:] + done.stderr[-3000:]
    *printed, last = done.stdout.strip().splitlines()
    codes = json.loads(last)
    sections = "\n".join(printed).split("\n@@ ")  # the first line is "@@ ...": no newline before it
    sections[0] = sections[0].removeprefix("@@ ")
    assert len(sections) == len(runs) == len(codes)
    for run, section, code in zip(runs, sections, codes, strict=True):
        name = " ".join(run)
        assert section.startswith(name), section[:200]
        assert code == 0, f"{name} failed:\n{section}\n{done.stderr[-3000:]}"
        lines = section.splitlines()
        assert any(line.startswith("## ") for line in lines), f"{name} printed no heading:\n{section}"
        rules = [i for i, line in enumerate(lines) if line.startswith("| ---") or line.startswith("| :")]
        assert rules and all(lines[i + 1].startswith("| ") for i in rules), f"{name} printed no table:\n{section}"
        assert "Traceback" not in section, f"{name}:\n{section}"
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert picture.stat().st_size > 10_000  # a real PNG, not an empty file
