"""Handler cold start as a user feels it: import plus the first invocation, up to the handler's first AWS call,
beside a bare boto3 handler making the same call; and the asset's size.

Each measurement is a fresh Python process started as Lambda's runtime would run the asset: ``python -S`` with
``PYTHONPATH=<asset>:<the environment's packages>`` (the asset's ``index.py``, ``harvest_handler``,
``mediapackage_harvest/contract``, crhelper and Powertools first; boto3 from the environment, as the runtime provides
it; no ``site``, so the library installed here is not on the path) and ``PYTHONDONTWRITEBYTECODE=1`` (Lambda's code
folder is read-only: the handler's modules compile on every cold start). The process notes the time, then

- **handler**: ``import index`` and ``index.handler(<a Create of a v2 job>, <context>)``;
- **bare boto3**: ``import boto3``, ``boto3.client("mediapackagev2")`` and ``get_origin_endpoint(...)``;

and the figure is the time from that note to the moment the first request reaches a local HTTP server standing in
for MediaPackage (``AWS_ENDPOINT_URL_MEDIAPACKAGEV2``): the handler's first call is the preflight's
GetOriginEndpoint, the same call the bare handler makes. Interpreter start-up is left out of both. The kinds
alternate run by run.

    python -m bench.cold_start                 # 7 runs each
    python -m bench.cold_start --runs 1        # the smallest mode
    python -m bench.cold_start --before REF    # also the handler as it was at git REF (its own asset), side by side
"""

from __future__ import annotations

import argparse
import compileall
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import threading
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.tables import markdown_table
from mediapackage_harvest.bundling import build_asset
from mediapackage_harvest.rehearsal.local_server import LocalServer, Response

RUNS = 7
REPO = Path(__file__).resolve().parents[1]
GOAL_RATIO = 1.5
LAMBDA_ZIPPED_LIMIT_MB, LAMBDA_UNZIPPED_LIMIT_MB = 50, 250
ASSET_MODULES = ("index", "harvest_handler", "crhelper", "aws_lambda_powertools")
ENDPOINT = {"ChannelGroupName": "live", "ChannelName": "main", "OriginEndpointName": "hls"}
FIRST_CALL_TIMEOUT_SECONDS = 60.0

# The child process: note the time, then do what a cold Lambda does until the first AWS request has gone out.
PROBE = """
import json, sys, time
print(time.time(), flush=True)
if sys.argv[1] == "handler":
    import index

    class Context:
        function_name = "bench"
        aws_request_id = "bench-request"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"

        def get_remaining_time_in_millis(self):
            return 300000

    index.handler(json.loads(sys.argv[2]), Context())
else:
    import boto3

    boto3.client("mediapackagev2").get_origin_endpoint(**json.loads(sys.argv[2]))
"""


@dataclass(frozen=True)
class FirstCall:
    """One cold start: milliseconds from the process's first note to the first AWS request, and the import
    time per top-level package (``-X importtime`` self times, microseconds)."""

    ms: float
    self_us_by_package: dict[str, int]


@dataclass(frozen=True)
class AssetSize:
    files: int
    unzipped_bytes: int
    zipped_bytes: int


class _FirstRequest(LocalServer):
    """MediaPackage's stand-in for one run: notes when the first request arrives, answers every one with a 500."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()
        self.at = 0.0

    def dispatch(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Response:
        if not self.arrived.is_set():
            self.at = time.time()
            self.arrived.set()
        return Response(500, {"Content-Type": "application/json", "x-amzn-ErrorType": "InternalServerException"})


def create_event() -> dict[str, object]:
    """A CloudFormation Create of a v2 job whose window has ended (the preflight then reads the endpoint)."""
    return {
        "RequestType": "Create",
        "ResponseURL": "https://127.0.0.1:9/never-reached",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/bench/00000000-0000-0000-0000-000000000000",
        "RequestId": "bench-request",
        "LogicalResourceId": "Clip",
        "ResourceType": "Custom::MediaPackageV2HarvestJob",
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:bench",
            "ChannelGroupName": "live",
            "ChannelName": "main",
            "OriginEndpointName": "hls",
            "HarvestedManifests": {"HlsManifests": [{"ManifestName": "index"}]},
            "ScheduleConfiguration": {"StartTime": "2026-01-01T10:00:00+00:00", "EndTime": "2026-01-01T10:30:00+00:00"},
            "Destination": {"S3Destination": {"BucketName": "bench-bucket", "DestinationPath": "clips"}},
            "WaitForCompletion": "true",
            "Timeout": "3600",
        },
    }


def measure(kind: str, asset: Path, cwd: Path) -> FirstCall:
    """One fresh process of ``kind`` ("handler" or "boto3") with ``asset`` on its path."""
    argument = json.dumps(create_event() if kind == "handler" else ENDPOINT)
    with _FirstRequest() as server:
        child = subprocess.Popen(
            [sys.executable, "-S", "-X", "importtime", "-c", PROBE, kind, argument],
            cwd=cwd,
            env=_environment(asset, server.url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            if not server.arrived.wait(FIRST_CALL_TIMEOUT_SECONDS):
                child.kill()
                out, err = child.communicate()
                raise RuntimeError(f"{kind}: no AWS call within {FIRST_CALL_TIMEOUT_SECONDS} s:\n{out}\n{err[-3000:]}")
        finally:
            child.kill()
        out, err = child.communicate()
    started = float(out.split()[0])
    return FirstCall((server.at - started) * 1000, _import_self_times(err))


def check_not_shadowed(asset: Path, cwd: Path) -> None:
    """Fail unless the handler, its shared contract, crhelper and Powertools all load from the asset."""
    code = "import importlib, sys\nfor n in sys.argv[1:]: print(importlib.import_module(n).__file__)"
    shared = "mediapackage_harvest.contract.spec" if (asset / "mediapackage_harvest" / "contract").is_dir() else ""
    modules = [*ASSET_MODULES, shared or "mediapackage_harvest.spec"]  # an asset from before the contract package
    done = subprocess.run(
        [sys.executable, "-S", "-c", code, *modules],
        cwd=cwd,
        env=_environment(asset, "http://127.0.0.1:9"),
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


def asset_at(ref: str, target: Path) -> None:
    """The Lambda asset as the repository built it at git ``ref``: that tree's own ``bundling.build_asset``."""
    tree = target.parent / f"tree-{ref}"
    tree.mkdir()
    archive = subprocess.run(["git", "archive", ref, "constructs", "lambda"], cwd=REPO, capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tree, filter="data")
    target.mkdir()
    build = "import sys; from pathlib import Path; from mediapackage_harvest.bundling import build_asset; "
    build += "build_asset(Path(sys.argv[1]))"
    env = {**os.environ, "PYTHONPATH": str(tree / "constructs")}
    subprocess.run([sys.executable, "-c", build, str(target)], cwd=tree, env=env, check=True)


def run(runs: int, before: str | None = None) -> tuple[dict[str, list[FirstCall]], AssetSize]:
    """Build the asset(s), check each is what gets imported, then alternate the kinds ``runs`` times."""
    with tempfile.TemporaryDirectory(prefix="bench-cold-start-") as folder:
        asset, cwd = Path(folder) / "asset", Path(folder) / "cwd"
        asset.mkdir()
        cwd.mkdir()
        build_asset(asset)
        compiled = Path(folder) / "asset-pyc"
        shutil.copytree(asset, compiled)
        compileall.compile_dir(compiled, quiet=1)
        assets = {"after": asset, "after-pyc": compiled}
        if before is not None:
            assets["before"] = Path(folder) / "asset-before"
            asset_at(before, assets["before"])
        for path in assets.values():
            check_not_shadowed(path, cwd)
        results: dict[str, list[FirstCall]] = {"boto3": [], **{name: [] for name in assets}}
        for _ in range(runs):
            results["boto3"].append(measure("boto3", asset, cwd))
            for name, path in assets.items():
                results[name].append(measure("handler", path, cwd))
        return results, asset_size(asset)


def report(results: dict[str, list[FirstCall]], size: AssetSize) -> str:
    labels = {
        "boto3": "bare boto3 handler: import, client, GetOriginEndpoint",
        "before": "before: the handler at `--before`, as packaged",
        "after": "after: the handler (`import index`, a Create), as packaged",
        "after-pyc": "diagnostic: the after asset with `.pyc` files",
    }
    medians = {name: statistics.median(r.ms for r in runs) for name, runs in results.items() if runs}
    rows = [
        (
            labels[name],
            f"{medians[name]:.0f}",
            f"{min(r.ms for r in results[name]):.0f}",
            f"{max(r.ms for r in results[name]):.0f}",
            f"{medians[name] / medians['boto3']:.2f}",
            len(results[name]),
        )
        for name in ("boto3", "before", "after", "after-pyc")
        if name in medians
    ]
    table = markdown_table(
        ("to the first AWS call, fresh process", "median (ms)", "min (ms)", "max (ms)", "/ bare", "runs"), rows
    )
    ratio = medians["after"] / medians["boto3"]
    verdict = "met" if ratio <= GOAL_RATIO else "MISSED"
    goal = f"handler / bare boto3 handler = {ratio:.2f} (goal ≤ {GOAL_RATIO}: {verdict})"
    if "before" in medians:
        goal += f"; before: {medians['before'] / medians['boto3']:.2f}"
    packages: dict[str, list[int]] = {}
    for run in results["after"]:
        for package, us in run.self_us_by_package.items():
            packages.setdefault(package, []).append(us)
    top = sorted(packages.items(), key=lambda item: -statistics.median(item[1]))[:8]
    breakdown = markdown_table(
        ("imports on the way (after): top-level package", "median self time (ms)"),
        [(name, f"{statistics.median(values) / 1000:.1f}") for name, values in top],
    )
    sizes = markdown_table(
        ("Lambda asset", "files", "unzipped (KB)", "zipped (KB)"),
        [
            (
                "handler + contract + crhelper + Powertools + typing_extensions",
                size.files,
                size.unzipped_bytes // 1024,
                size.zipped_bytes // 1024,
            )
        ],
    )
    limits = f"Lambda's limits: {LAMBDA_ZIPPED_LIMIT_MB} MB zipped, {LAMBDA_UNZIPPED_LIMIT_MB} MB unzipped"
    return f"{table}\n\n{goal}\n\n{breakdown}\n\n{sizes}\n\n{limits}"


def _environment(asset: Path, endpoint_url: str) -> dict[str, str]:
    """Python as Lambda runs the asset (with ``-S``): the asset first, then the packages the runtime provides
    (boto3); no ``site``, so the library installed here (an editable ``.pth``) is not on the path, as in Lambda."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AWS_"))}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(asset), sysconfig.get_paths()["purelib"]]),
            "PYTHONDONTWRITEBYTECODE": "1",
            "POWERTOOLS_SERVICE_NAME": "bench",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "HARVEST_POLL_RULE_PREFIX": "hj-bench",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_ENDPOINT_URL_MEDIAPACKAGEV2": endpoint_url,
            "AWS_MAX_ATTEMPTS": "1",
        }
    )
    return env


def _import_self_times(importtime: str) -> dict[str, int]:
    """``import time: <self> | <cumulative> | <indented name>`` lines, self time summed per top-level package."""
    by_package: dict[str, int] = {}
    for line in importtime.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        fields = line.removeprefix("import time:").split("|")
        if fields[0].strip().isdigit():
            package = fields[2].strip().split(".")[0]
            by_package[package] = by_package.get(package, 0) + int(fields[0])
    return by_package


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cold_start", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=RUNS, help=f"fresh processes per kind (default {RUNS})")
    parser.add_argument("--before", metavar="REF", help="also the handler as it was at this git ref")
    args = parser.parse_args(argv)
    results, size = run(args.runs, args.before)
    print("## Handler cold start: to the first AWS call\n")
    print(report(results, size))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
