"""Smoke test of the benchmarks: each runs in its smallest mode and prints a table (nothing here is timed).

They run one after another in one Python process (tests/one_process.py: each as its own ``__main__``, as
``python -m`` runs it), so Python, aws-cdk-lib and jsii start once; ``python -m bench`` gives each a fresh process
for its figures.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.__main__ import commands  # noqa: E402
from tests.one_process import Program, run_one_after_another  # noqa: E402


def test_every_benchmark_prints_a_table_in_its_smallest_mode(tmp_path: Path) -> None:
    picture = tmp_path / "timelines.png"
    runs = [command[2:] for command in commands(quick=True, picture=picture)]  # [module, *arguments]
    programs = [Program(" ".join(run), "module", run[0], run[1:]) for run in runs]
    ran = run_one_after_another(programs, cwd=REPO, stderr_in_outputs=False)
    for program, section, code in zip(programs, ran.outputs, ran.codes, strict=True):
        name = program.label
        assert code == 0, f"{name} failed:\n{section}\n{ran.stderr[-3000:]}"
        lines = section.splitlines()
        assert any(line.startswith("## ") for line in lines), f"{name} printed no heading:\n{section}"
        rules = [i for i, line in enumerate(lines) if line.startswith("| ---") or line.startswith("| :")]
        assert rules and all(lines[i + 1].startswith("| ") for i in rules), f"{name} printed no table:\n{section}"
        assert "Traceback" not in section, f"{name}:\n{section}"
    assert "Traceback" not in ran.stderr, ran.stderr[-3000:]
    assert picture.stat().st_size > 10_000  # a real PNG, not an empty file
