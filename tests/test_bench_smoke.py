"""Smoke test of the benchmarks: each runs in its smallest mode and prints a table (nothing here is timed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.__main__ import commands  # noqa: E402


def test_every_benchmark_prints_a_table_in_its_smallest_mode(tmp_path: Path) -> None:
    picture = tmp_path / "timelines.png"
    runs = [
        (command, subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        for command in commands(quick=True, picture=picture)
    ]  # side by side: together they take about as long as the slowest
    for command, process in runs:
        out, err = process.communicate(timeout=300)
        name = " ".join(command[2:])
        assert process.returncode == 0, f"{name} failed:\n{out}\n{err}"
        lines = out.splitlines()
        assert any(line.startswith("## ") for line in lines), f"{name} printed no heading:\n{out}"
        rules = [i for i, line in enumerate(lines) if line.startswith("| ---") or line.startswith("| :")]
        assert rules and all(lines[i + 1].startswith("| ") for i in rules), f"{name} printed no table:\n{out}"
        assert "Traceback" not in err, f"{name}:\n{err}"
    assert picture.stat().st_size > 10_000  # a real PNG, not an empty file
