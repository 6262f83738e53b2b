"""Run every benchmark, each in its own fresh process, and print their tables.

python -m bench            # the published figures; also redraws docs/performance-timelines.png
python -m bench --quick    # the smallest mode of each (the picture goes to a temporary folder)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def commands(*, quick: bool, picture: Path | None) -> list[list[str]]:
    """The benchmarks' command lines (``python -m bench.<name> ...``), smallest mode when ``quick``."""
    plot = ["bench.plot_timelines", *(["--out", str(picture)] if picture else [])]
    if quick:
        runs = [
            ["bench.lifecycle", "--quick"],
            ["bench.cold_start", "--runs", "1"],
            ["bench.synth_scaling", "--sizes", "1", "2", "--runs", "1"],
            ["bench.clips", "--quick"],
            plot,
        ]
    else:
        runs = [["bench.lifecycle"], ["bench.cold_start"], ["bench.synth_scaling"], ["bench.clips"], plot]
    return [[sys.executable, "-m", *run] for run in runs]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the smallest mode of each benchmark")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        picture = Path(folder) / "performance-timelines.png" if args.quick else None
        for command in commands(quick=args.quick, picture=picture):
            print(f"$ python -m {' '.join(command[2:])}", flush=True)
            done = subprocess.run(command, cwd=REPO, check=False)
            if done.returncode:
                return done.returncode
            print(flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
