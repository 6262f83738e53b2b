"""Handler cold start: importing the Lambda asset's ``index`` beside a bare ``import boto3``, and the asset's size.

The asset is built with ``bundling.build_asset`` into a temporary folder. Each measurement is a fresh
``python -X importtime -c "import <module>"`` run from an empty temporary folder with ``PYTHONPATH=<asset>``,
so the asset's copies (``index.py`` and the ``harvest_handler`` package, ``mediapackage_harvest/contract/``,
crhelper, Powertools) come first on the path and, with ``python -S``, the repository's package is not on it at
all; boto3 comes from the environment's packages, as in the Lambda runtime. ``PYTHONDONTWRITEBYTECODE=1`` keeps
the asset without ``.pyc``, as deployed: Lambda's code folder is read-only, so the handler's own modules compile on
every cold start. The two imports alternate, run by run; the figure is Python's own cumulative import time for the
module (interpreter start-up excluded).

    python -m bench.cold_start                 # 7 runs each
    python -m bench.cold_start --runs 1        # the smallest mode
    python -m bench.cold_start --before REF    # also the handler as it was at git REF, side by side
"""

from __future__ import annotations

import argparse
import compileall
import io
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.tables import markdown_table
from mediapackage_harvest.bundling import build_asset

RUNS = 7
REPO = Path(__file__).resolve().parents[1]
GOAL_RATIO = 1.5
LAMBDA_ZIPPED_LIMIT_MB, LAMBDA_UNZIPPED_LIMIT_MB = 50, 250
ASSET_MODULES = ("index", "harvest_handler", "crhelper", "aws_lambda_powertools", "mediapackage_harvest.contract")


@dataclass(frozen=True)
class ImportRun:
    """One ``-X importtime`` run: the module's cumulative microseconds and self time per top-level package."""

    cumulative_us: int
    self_us_by_package: dict[str, int]


@dataclass(frozen=True)
class AssetSize:
    files: int
    unzipped_bytes: int
    zipped_bytes: int


def measure_import(module: str, asset: Path, cwd: Path) -> ImportRun:
    """Import ``module`` in a fresh interpreter with only the asset ahead of the environment's packages."""
    done = subprocess.run(
        [sys.executable, "-S", "-X", "importtime", "-c", f"import {module}"],
        cwd=cwd,
        env=_environment(asset),
        capture_output=True,
        text=True,
        check=True,
    )
    return parse_importtime(done.stderr, module)


def parse_importtime(text: str, module: str) -> ImportRun:
    """``import time: <self> | <cumulative> | <indented name>`` lines; the module's own line is unindented."""
    cumulative: int | None = None
    by_package: dict[str, int] = {}
    for line in text.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        fields = line.removeprefix("import time:").split("|")
        if not fields[0].strip().isdigit():
            continue  # the header line
        self_us, cumulative_us, name = int(fields[0]), int(fields[1]), fields[2]
        package = name.strip().split(".")[0]
        by_package[package] = by_package.get(package, 0) + self_us
        if name == f" {module}":
            cumulative = cumulative_us
    if cumulative is None:
        raise RuntimeError(f"-X importtime reported no top-level import of {module}:\n{text[-2000:]}")
    return ImportRun(cumulative, by_package)


def check_not_shadowed(asset: Path, cwd: Path) -> None:
    """Fail unless the handler, spec, crhelper and Powertools all load from the asset."""
    code = "import importlib, sys\nfor n in sys.argv[1:]: print(importlib.import_module(n).__file__)"
    done = subprocess.run(
        [sys.executable, "-S", "-c", code, *ASSET_MODULES],
        cwd=cwd,
        env=_environment(asset),
        capture_output=True,
        text=True,
        check=True,
    )
    outside = [f for f in done.stdout.split() if not Path(f).resolve().is_relative_to(asset.resolve())]
    if outside:
        raise RuntimeError(f"modules loaded from outside the asset: {outside}")


def asset_size(asset: Path) -> AssetSize:
    """Files and bytes of the asset folder, and of it zipped (DEFLATE, level 9) in memory."""
    files = sorted(p for p in asset.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in files:
            archive.write(path, path.relative_to(asset).as_posix())
    return AssetSize(len(files), sum(p.stat().st_size for p in files), len(buffer.getvalue()))


def _environment(asset: Path) -> dict[str, str]:
    """Python as Lambda runs the asset (with ``-S``): the asset first, then the packages the runtime provides
    (boto3); no ``site``, so the library installed here (an editable ``.pth``) is not on the path, as in Lambda."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    packages = sysconfig.get_paths()["purelib"]
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(asset), packages]),
            "PYTHONDONTWRITEBYTECODE": "1",
            "POWERTOOLS_SERVICE_NAME": "bench",
        }
    )
    return env


def handler_at(ref: str, asset: Path, target: Path) -> None:
    """A copy of ``asset`` whose handler (``index.py``, ``harvest_handler/``) is the repository's at git ``ref``."""
    shutil.copytree(asset, target)
    (target / "index.py").unlink()
    shutil.rmtree(target / "harvest_handler")
    archive = subprocess.run(
        ["git", "archive", ref, "lambda/index.py", "lambda/harvest_handler"], cwd=REPO, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            source = tar.extractfile(member)
            if source is not None and member.name.endswith(".py"):
                path = target / Path(member.name).relative_to("lambda")
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(source.read())


def run(runs: int, before: str | None = None) -> tuple[dict[str, list[ImportRun]], AssetSize]:
    """Build the asset, check it is what gets imported, then alternate the imports ``runs`` times."""
    with tempfile.TemporaryDirectory(prefix="bench-cold-start-") as folder:
        asset, cwd = Path(folder) / "asset", Path(folder) / "cwd"
        asset.mkdir()
        cwd.mkdir()
        build_asset(asset)
        check_not_shadowed(asset, cwd)
        compiled = Path(folder) / "asset-pyc"
        shutil.copytree(asset, compiled)
        compileall.compile_dir(compiled, quiet=1)
        assets = {"index": asset, "index-pyc": compiled}
        if before is not None:
            assets["index-before"] = Path(folder) / "asset-before"
            handler_at(before, asset, assets["index-before"])
            check_not_shadowed(assets["index-before"], cwd)
        results: dict[str, list[ImportRun]] = {"boto3": [], **{name: [] for name in assets}}
        for _ in range(runs):
            results["boto3"].append(measure_import("boto3", asset, cwd))
            for name, folder_of_name in assets.items():
                results[name].append(measure_import("index", folder_of_name, cwd))
        return results, asset_size(asset)


def report(results: dict[str, list[ImportRun]], size: AssetSize) -> str:
    def ms(values: Sequence[int]) -> str:
        return f"{statistics.median(values) / 1000:.0f}"

    boto3 = [r.cumulative_us for r in results["boto3"]]
    handler = [r.cumulative_us for r in results["index"]]
    cached = [r.cumulative_us for r in results["index-pyc"]]
    ratio = statistics.median(handler) / statistics.median(boto3)
    runs = len(handler)
    rows: list[tuple[str, str, str, str, int]] = [
        ("bare `import boto3`", ms(boto3), ms([min(boto3)]), ms([max(boto3)]), runs),
        ("handler `import index` (as packaged)", ms(handler), ms([min(handler)]), ms([max(handler)]), runs),
        ("diagnostic: the same asset with `.pyc` files", ms(cached), ms([min(cached)]), ms([max(cached)]), runs),
    ]
    earlier = [r.cumulative_us for r in results.get("index-before", [])]
    if earlier:
        rows.append(("before: the handler at `--before`", ms(earlier), ms([min(earlier)]), ms([max(earlier)]), runs))
    imports = markdown_table(("import, fresh process", "median (ms)", "min (ms)", "max (ms)", "runs"), rows)
    verdict = "met" if ratio <= GOAL_RATIO else "MISSED"
    packages: dict[str, list[int]] = {}
    for r in results["index"]:
        for package, us in r.self_us_by_package.items():
            packages.setdefault(package, []).append(us)
    top = sorted(packages.items(), key=lambda item: -statistics.median(item[1]))[:8]
    breakdown = markdown_table(
        ("inside `import index`: top-level package", "median self time (ms)"),
        [(name, f"{statistics.median(values) / 1000:.1f}") for name, values in top],
    )
    sizes = markdown_table(
        ("Lambda asset", "files", "unzipped (KB)", "zipped (KB)"),
        [
            (
                "handler + spec + crhelper + Powertools + typing_extensions",
                size.files,
                size.unzipped_bytes // 1024,
                size.zipped_bytes // 1024,
            )
        ],
    )
    goal = (
        f"handler import / bare boto3 = {ratio:.2f} (goal ≤ {GOAL_RATIO}: {verdict}); "
        f"fastest runs {min(handler) / min(boto3):.2f}; "
        f"with `.pyc` files {statistics.median(cached) / statistics.median(boto3):.2f}"
    )
    if earlier:
        goal += (
            f"; before: {statistics.median(earlier) / statistics.median(boto3):.2f} "
            f"(fastest runs {min(earlier) / min(boto3):.2f})"
        )
    limits = f"Lambda's limits: {LAMBDA_ZIPPED_LIMIT_MB} MB zipped, {LAMBDA_UNZIPPED_LIMIT_MB} MB unzipped"
    return f"{imports}\n\n{goal}\n\n{breakdown}\n\n{sizes}\n\n{limits}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cold_start", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=RUNS, help=f"fresh processes per import (default {RUNS})")
    parser.add_argument("--before", metavar="REF", help="also import the handler as it was at this git ref")
    args = parser.parse_args(argv)
    results, size = run(args.runs, args.before)
    print("## Handler cold start\n")
    print(report(results, size))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
