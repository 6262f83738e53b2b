"""Highlight reels (issue 19): many clips of one channel group deployed under its quota of active harvest jobs,
before and after, in one run; and the synth time of 100 clips.

Layouts: ``HarvestJob loop @ REF`` (a HarvestJob per clip, with the library and handler as they were at git REF, run
in a worker process on that tree: today's behaviour; ``--quick`` runs the loop in this process instead, where it
behaves the same) and ``ClipSet`` (one set of the same clips). Each case deploys one synthesized stack on a fresh
rehearsal: every job is QUEUED for 5 s and IN_PROGRESS for the rest of its clip's length (``clip_seconds``: a job is
assumed to take as long as its clip), the channel group takes ``quota`` active jobs (MediaPackage's default, 10),
and MediaPackage's job events reach the handler 1 s after each status change (an assumption, as in bench.lifecycle).
Another stack's jobs (``busy``) are created on the same channel group through the emulator's API when the deploy
starts. ``ideal_seconds`` is the best schedule under the quota: the clips back to back on the free slots (the best
for clips of equal length, as here). The goal, for a stack alone on its channel group: ``deploy_seconds`` ≤ 1.1 x
ideal + 10 s and no quota error.

Synth: a stack of 100 clips as one ``ClipSet`` beside the same 100 as ``HarvestJob``s (bench.stacks), each
synthesized several times in one process after a warm-up, medians compared (goal: ≤ 1.2x), in wall time and in
CPU time (this process and jsii's Node process, from /proc: what other work on a shared machine disturbs least).

    python -m bench.clips                  # every case (before: --before main), and the synth comparison
    python -m bench.clips --quick          # small cases, one synth run, no worker for the before
    python -m bench.clips --json           # one JSON object per deploy case and layout, one a line
"""

from __future__ import annotations

import argparse
import heapq
import importlib
import io
import json
import logging
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.tables import markdown_table

REPO = Path(__file__).resolve().parents[1]

CHANNEL_GROUP = "live"
QUEUED_SECONDS = 5.0
EVENT_DELAY_SECONDS = 1.0
WINDOW_START = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
DEPLOY_GOAL_FACTOR, DEPLOY_GOAL_SLACK = 1.1, 10.0
SYNTH_GOAL = 1.2
SYNTH_CLIPS = 100
SYNTH_RUNS = 9
SYNTH_WARMUP = 2
HARVEST_JOBS, CLIP_SET = "HarvestJob loop", "ClipSet"
OTHER_STACK = "other-stack"  # the name prefix of another stack's jobs


@dataclass(frozen=True)
class Case:
    """One deploy: ``clips`` clips of ``clip_seconds`` each under ``quota``, another stack holding ``busy`` slots
    for its first ``busy_seconds``."""

    name: str
    clips: int
    clip_seconds: float
    quota: int = 10
    busy: int = 0
    busy_seconds: float = 0.0

    @property
    def ideal_seconds(self) -> float:
        """The clips back to back on the quota's slots, each free once another stack's job there has ended."""
        slots = [self.busy_seconds] * min(self.busy, self.quota) + [0.0] * max(self.quota - self.busy, 0)
        heapq.heapify(slots)
        end = 0.0
        for _ in range(self.clips):
            start = heapq.heappop(slots)
            end = max(end, start + self.clip_seconds)
            heapq.heappush(slots, start + self.clip_seconds)
        return end


CASES = (
    Case("30 clips x 2 min", 30, 120.0),
    Case("30 clips x 2 min, 10 slots taken for 5 min", 30, 120.0, busy=10, busy_seconds=300.0),
    Case("100 clips x 1 min", 100, 60.0),
)
QUICK_CASES = (
    Case("4 clips x 1 min, quota 2", 4, 60.0, quota=2),
    Case("4 clips x 1 min, quota 2, 2 slots taken for 2 min", 4, 60.0, quota=2, busy=2, busy_seconds=120.0),
)
QUICK_SYNTH_CLIPS = 5


@dataclass(frozen=True)
class Row:
    """What one case cost under one layout."""

    case: Case
    layout: str
    status: str
    deploy_seconds: float
    quota_errors: int
    get_calls: int
    lambda_invocations: int

    def goal(self) -> str | None:
        """The goal of a stack alone on its channel group, met or not; None for a case that has none."""
        if self.case.busy:
            return None
        limit = DEPLOY_GOAL_FACTOR * self.case.ideal_seconds + DEPLOY_GOAL_SLACK
        met = self.status == "CREATE_COMPLETE" and self.deploy_seconds <= limit and self.quota_errors == 0
        return f"≤ {limit:.0f} s, 0 quota errors: {'met' if met else 'MISSED'}"

    def to_json(self) -> dict[str, object]:
        return {
            "case": self.case.name,
            "layout": self.layout,
            "clips": self.case.clips,
            "quota": self.case.quota,
            "clip_seconds": self.case.clip_seconds,
            "deploy_seconds": round(self.deploy_seconds, 1),
            "ideal_seconds": round(self.case.ideal_seconds, 1),
            "quota_errors": self.quota_errors,
            "get_calls": self.get_calls,
            "lambda_invocations": self.lambda_invocations,
            "status": self.status,
        }


# Stacks ----------------------------------------------------------------------------------------------------------
def _windows(case: Case) -> list[tuple[str, datetime, datetime]]:
    """Each clip's name and window: ``clip_seconds`` long, one after another."""
    length = timedelta(seconds=case.clip_seconds)
    return [(f"clip-{i:03d}", WINDOW_START + i * length, WINDOW_START + (i + 1) * length) for i in range(case.clips)]


def add_job_loop(stack: Any, case: Case) -> None:
    """Before: a ``HarvestJob`` per clip, declared in a loop."""
    from mediapackage_harvest import HarvestJob

    for name, start, end in _windows(case):
        HarvestJob(
            stack,
            name,
            channel_group_name=CHANNEL_GROUP,
            channel_name="main",
            origin_endpoint_name="hls",
            hls_manifests=["index"],
            start_time=start,
            end_time=end,
            destination_bucket="harvest-bucket",
            destination_path=f"clips/{name}/",
        )


def add_clip_set(stack: Any, case: Case) -> None:
    """After: one ``ClipSet`` of the same clips."""
    from mediapackage_harvest import Clip, ClipSet

    ClipSet(
        stack,
        "Highlights",
        clips=[Clip(name, start, end) for name, start, end in _windows(case)],
        channel_group_name=CHANNEL_GROUP,
        channel_name="main",
        origin_endpoint_name="hls",
        hls_manifests=["index"],
        destination_bucket="harvest-bucket",
        max_active_jobs=case.quota,
    )


LAYOUTS: dict[str, Callable[[Any, Case], None]] = {HARVEST_JOBS: add_job_loop, CLIP_SET: add_clip_set}


def synthesize(cases: Sequence[Case], folder: Path, layouts: Sequence[str]) -> dict[tuple[str, str], dict[str, Any]]:
    """Every case's stack under each of ``layouts``, in one App."""
    from aws_cdk import App, Stack

    app = App(outdir=str(folder))
    names = {(case.name, layout): _stack_name(index, layout) for index, case in enumerate(cases) for layout in layouts}
    for case in cases:
        for layout in layouts:
            LAYOUTS[layout](Stack(app, names[case.name, layout]), case)
    assembly = app.synth()
    return {key: assembly.get_stack_by_name(name).template for key, name in names.items()}


def _stack_name(index: int, layout: str) -> str:
    return f"Case{index}{'Jobs' if layout == HARVEST_JOBS else 'Set'}"


# Deploys ---------------------------------------------------------------------------------------------------------
def deploy(case: Case, layout: str, body: dict[str, Any], stack_name: str) -> Row:
    """Rehearse the create of one case's stack; its figures."""
    import copy

    from mediapackage_harvest.rehearsal import Rehearsal, Scenario, Template, default_start
    from mediapackage_harvest.rehearsal.scenario import EventDelivery, JobScript
    from mediapackage_harvest.rehearsal.template import Environment

    template = Template(copy.deepcopy(body), Environment(stack_name))
    script = JobScript(queued_seconds=QUEUED_SECONDS, in_progress_seconds=case.clip_seconds - QUEUED_SECONDS)
    scenario = Scenario(
        default_job=script,
        jobs={f"{OTHER_STACK}-*": JobScript(queued_seconds=0.0, in_progress_seconds=case.busy_seconds)},
        active_jobs_quota=case.quota,
        events=EventDelivery(delay_seconds=EVENT_DELAY_SECONDS),
    )
    start = default_start(template)
    with Rehearsal(scenario, start=start) as rehearsal, _quiet_handler_logs():
        occupy(rehearsal.emulator.url, case.busy, start)
        began = rehearsal.clock.time()
        result = rehearsal.deploy(template)
        took = rehearsal.clock.time() - began
        calls = rehearsal.emulator.calls
        return Row(
            case=case,
            layout=layout,
            status=result.status,
            deploy_seconds=took,
            quota_errors=sum(c.error_code == "ServiceQuotaExceededException" for c in calls),
            get_calls=sum(c.operation == "GetHarvestJob" for c in calls),
            lambda_invocations=rehearsal.figures().lambda_invocations,
        )


def occupy(emulator_url: str, count: int, now: datetime) -> None:
    """Another stack's ``count`` jobs on the channel group, created through MediaPackage's API as that stack's
    handler would (the scenario scripts how long they run: ``other-stack-*``)."""
    if not count:
        return
    import boto3

    client = boto3.client("mediapackagev2", region_name="us-east-1", endpoint_url=emulator_url)
    for index in range(count):
        client.create_harvest_job(
            ChannelGroupName=CHANNEL_GROUP,
            ChannelName="other-channel",
            OriginEndpointName="other-endpoint",
            HarvestJobName=f"{OTHER_STACK}-{index}",
            HarvestedManifests={"HlsManifests": [{"ManifestName": "index"}]},
            ScheduleConfiguration={"StartTime": now - timedelta(minutes=10), "EndTime": now - timedelta(minutes=5)},
            Destination={"S3Destination": {"BucketName": "other-stack-bucket", "DestinationPath": f"{index}/"}},
        )


class _quiet_handler_logs:  # noqa: N801 - a context manager, named as used
    """The handler's warnings (every quota refusal) would bury the tables: its logger stays at ERROR."""

    def __enter__(self) -> None:
        self.logger = importlib.import_module("harvest_handler.logs").logger
        self.level = self.logger.log_level
        self.logger.setLevel(logging.ERROR)

    def __exit__(self, *exc: object) -> None:
        self.logger.setLevel(self.level)


def run_deploys(cases: Sequence[Case], folder: Path, layouts: Sequence[str]) -> list[Row]:
    """Synthesize every case under each of ``layouts``, then rehearse each deploy, in this process."""
    bodies = synthesize(cases, folder, layouts)
    rows = []
    for index, case in enumerate(cases):
        for layout in layouts:
            rows.append(deploy(case, layout, bodies[case.name, layout], _stack_name(index, layout)))
    return rows


def run_before(ref: str, quick: bool, folder: Path) -> list[Row]:
    """The ``HarvestJob loop`` rows with the library and handler of git ``ref`` (a worker process on that tree)."""
    tree = folder / "before-tree"
    tree.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", ref, "constructs", "lambda"], cwd=REPO, capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tree, filter="data")
    command = [sys.executable, "-m", "bench.clips", "--worker", "--json", *(["--quick"] if quick else [])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree / "constructs"), str(REPO)])}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=True)
    cases = {case.name: case for case in (QUICK_CASES if quick else CASES)}
    rows = []
    for line in done.stdout.splitlines():
        data = json.loads(line)
        rows.append(
            Row(
                case=cases[data["case"]],
                layout=f"{HARVEST_JOBS} @ {ref}",
                status=data["status"],
                deploy_seconds=data["deploy_seconds"],
                quota_errors=data["quota_errors"],
                get_calls=data["get_calls"],
                lambda_invocations=data["lambda_invocations"],
            )
        )
    return rows


def deploy_table(rows: Sequence[Row]) -> str:
    headers = (
        "case",
        "layout",
        "result",
        "deploy (s)",
        "ideal (s)",
        "quota errors",
        "GetHarvestJob calls",
        "Lambda invocations",
        "goal",
    )
    cells = [
        (
            r.case.name,
            r.layout,
            r.status,
            f"{r.deploy_seconds:.0f}",
            f"{r.case.ideal_seconds:.0f}",
            r.quota_errors,
            r.get_calls,
            r.lambda_invocations,
            r.goal(),
        )
        for r in rows
    ]
    return markdown_table(headers, cells, numeric_from=3)


# Synth -----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Synth:
    """One synth: wall seconds, and CPU seconds of this process and of jsii's Node process together (what other
    work on a shared machine disturbs least)."""

    wall: float
    cpu: float


def cpu_seconds() -> float:
    """CPU time of this process and its child processes still running (jsii's Node process), from /proc."""
    total = time.process_time()
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == os.getpid():  # ppid; then utime and stime, in clock ticks
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def synthesize_one(folder: Path, layout: str, count: int, name: str) -> Synth:
    """One App with one stack of ``count`` clips under ``layout``, built and synthesized."""
    from aws_cdk import App, Stack
    from aws_cdk import aws_s3 as s3

    from bench.stacks import add_harvest_jobs

    began, cpu = time.perf_counter(), cpu_seconds()
    app = App(outdir=str(folder))
    stack = Stack(app, name)
    if layout == HARVEST_JOBS:
        add_harvest_jobs(stack, count)
    else:
        from bench.stacks import WINDOW
        from bench.stacks import WINDOW_START as START
        from mediapackage_harvest import Clip, ClipSet

        bucket = s3.Bucket(stack, "Clips", enforce_ssl=True, block_public_access=s3.BlockPublicAccess.BLOCK_ALL)
        ClipSet(
            stack,
            "Highlights",
            clips=[Clip(f"clip{i:03d}", START + i * WINDOW, START + (i + 1) * WINDOW) for i in range(count)],
            channel_group_name="live",
            channel_name="main",
            origin_endpoint_name="hls",
            hls_manifests=["index"],
            destination_bucket=bucket,
        )
    app.synth()
    return Synth(time.perf_counter() - began, cpu_seconds() - cpu)


def run_synth(count: int, runs: int, folder: Path) -> dict[str, list[Synth]]:
    """Warm up (a few small synths of each), then ``runs`` rounds of both layouts, interleaved."""
    for index in range(SYNTH_WARMUP):
        for layout in LAYOUTS:
            synthesize_one(folder, layout, 1, f"Warmup{index}{layout[:4]}")
    measured: dict[str, list[Synth]] = {layout: [] for layout in LAYOUTS}
    for index in range(runs):
        for key, layout in enumerate(LAYOUTS):
            measured[layout].append(synthesize_one(folder, layout, count, f"Synth{index}x{key}"))
    return measured


def synth_report(count: int, measured: dict[str, list[Synth]]) -> str:
    cpu = {layout: statistics.median(s.cpu for s in runs) for layout, runs in measured.items()}
    wall = {layout: statistics.median(s.wall for s in runs) for layout, runs in measured.items()}
    rows = [
        (
            f"{count} clips as {layout}",
            f"{cpu[layout] * 1000:.0f}",
            f"{wall[layout] * 1000:.0f}",
            ", ".join(f"{s.wall * 1000:.0f}" for s in runs),
        )
        for layout, runs in measured.items()
    ]
    headers = ("stack", "CPU, median (ms)", "wall, median (ms)", "wall, runs (ms)")
    table = markdown_table(headers, rows, numeric_from=1)
    ratios = {"wall": wall[CLIP_SET] / wall[HARVEST_JOBS], "CPU": cpu[CLIP_SET] / cpu[HARVEST_JOBS]}
    verdicts = ", ".join(
        f"{ratio:.2f}x the {kind} time ({'met' if ratio <= SYNTH_GOAL else 'MISSED'})" for kind, ratio in ratios.items()
    )
    return f"{table}\n\nClipSet / HarvestJob loop (goal ≤ {SYNTH_GOAL}x): {verdicts}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.clips", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small cases, one synth run, no before worker")
    parser.add_argument("--json", action="store_true", help="one JSON object per deploy case and layout (no synth)")
    parser.add_argument("--before", metavar="REF", default="main", help="the git ref of the before rows (main)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # the before rows, on REF's tree
    args = parser.parse_args(argv)
    cases = QUICK_CASES if args.quick else CASES
    with tempfile.TemporaryDirectory(prefix="bench-clips-") as folder:
        if args.worker:
            rows = run_deploys(cases, Path(folder), [HARVEST_JOBS])
        else:
            # The loop behaves here as at REF (only a ClipSet's clips wait on their group's job endings): the quick
            # mode runs it in this process rather than build REF's tree.
            before = [] if args.quick else run_before(args.before, args.quick, Path(folder))
            layouts = [CLIP_SET] if before else [HARVEST_JOBS, CLIP_SET]
            rows = _in_case_order(cases, before + run_deploys(cases, Path(folder) / "deploys", layouts))
        if args.json:
            for row in rows:
                print(json.dumps(row.to_json()))
            return 0
        synth_count = QUICK_SYNTH_CLIPS if args.quick else SYNTH_CLIPS
        measured = run_synth(synth_count, 1 if args.quick else SYNTH_RUNS, Path(folder))
    print("## Highlight reels: clips under the channel group's quota (virtual clock)\n")
    print(deploy_table(rows))
    print("\n## Synth: a ClipSet beside the same clips as HarvestJobs\n")
    print(synth_report(synth_count, measured))
    return 0


def _in_case_order(cases: Sequence[Case], rows: Sequence[Row]) -> list[Row]:
    order = {case.name: index for index, case in enumerate(cases)}
    return sorted(rows, key=lambda row: order[row.case.name])  # stable: before, then this tree's layouts


if __name__ == "__main__":
    raise SystemExit(main())
