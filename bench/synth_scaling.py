"""Synth scaling: stacks with 1, 10 and 100 HarvestJobs synthesized in one process, beside the floor.

The floor is the same stacks declared with bare ``CustomResource``s carrying the properties the jobs render
(no validation, provider, grants or attributes): what each extra HarvestJob adds is compared with what each
extra bare CustomResource adds, both measured in the same run.

Warm-up, measured apart and left out of the ratios: the first ``import aws_cdk`` (starts the jsii runtime) and
throwaway synths of a 1-job stack (the first loads aws-cdk-lib into jsii's Node process and bundles the Lambda
asset into the shared output folder; the next ones let Node's JIT settle). Every measured synth writes to that
same folder, so the asset (custom hash, folder already there) is not bundled again; what is timed is building
the App, the stack and its resources, plus ``app.synth()``. Each size of each kind is synthesized several times
(a new App each time, sizes and kinds interleaved) and the median is reported.

    python -m bench.synth_scaling                  # 1, 10, 100 of each, 7 runs each
    python -m bench.synth_scaling --sizes 1 2 --runs 1    # the smallest mode
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.tables import markdown_table

SIZES = (1, 10, 100)
RUNS = 7
WARMUP_SYNTHS = 3
GOAL_RATIO = 3.0
GOAL_PER_JOB_VS_FLOOR = 2.0  # each extra HarvestJob may add at most this many times what a bare CustomResource adds
JOBS, FLOOR = "HarvestJob", "CustomResource"
KINDS = (JOBS, FLOOR)
BUCKET_POLICY_LIMIT_BYTES = 20 * 1024  # S3's limit on a bucket policy


@dataclass(frozen=True)
class Synth:
    """One measured synth."""

    kind: str
    jobs: int
    construct_seconds: float
    synth_seconds: float
    template: dict[str, Any]
    template_bytes: int

    @property
    def seconds(self) -> float:
        return self.construct_seconds + self.synth_seconds


def declare(kind: str) -> Callable[[Any, int], None]:
    """What adds ``count`` resources of ``kind`` to a stack (bench.stacks)."""
    from bench.stacks import add_bare_custom_resources, add_harvest_jobs

    return add_harvest_jobs if kind == JOBS else add_bare_custom_resources


def synthesize(outdir: Path, jobs: int, name: str, kind: str = JOBS) -> Synth:
    """Build an App with one stack of ``jobs`` resources of ``kind`` and synthesize it, timing both parts."""
    from aws_cdk import App, Stack

    add = declare(kind)
    began = time.perf_counter()
    app = App(outdir=str(outdir))
    add(Stack(app, name), jobs)
    built = time.perf_counter()
    app.synth()
    done = time.perf_counter()
    path = outdir / f"{name}.template.json"
    text = path.read_text()
    return Synth(kind, jobs, built - began, done - built, json.loads(text), len(text.encode()))


Results = dict[str, dict[int, list[Synth]]]  # kind -> size -> synths


def run(sizes: Sequence[int], runs: int) -> tuple[dict[str, float], Results]:
    """Warm up (timed), then ``runs`` rounds of every size and kind; the warm-up figures and the synths."""
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as folder:
        outdir = Path(folder)
        began = time.perf_counter()
        import aws_cdk  # noqa: F401  (starts the jsii runtime)

        imported = time.perf_counter()
        synthesize(outdir, 1, "Warmup")
        warm = time.perf_counter()
        for index in range(1, WARMUP_SYNTHS):
            for kind in KINDS:
                synthesize(outdir, 1, f"Warmup{kind}{index}", kind)
        settled = time.perf_counter()
        warmup = {
            "import aws_cdk": imported - began,
            "first 1-job synth (jsii loads aws-cdk-lib, the asset is bundled)": warm - imported,
            f"{WARMUP_SYNTHS - 1} more 1-job synths of each kind": settled - warm,
        }
        results: Results = {kind: {size: [] for size in sizes} for kind in KINDS}
        for round_ in range(runs):
            for size in sizes:
                for kind in KINDS:
                    results[kind][size].append(synthesize(outdir, size, f"{kind}{size}Run{round_}", kind))
        return warmup, results


def count(template: dict[str, Any], resource_type: str) -> int:
    return sum(r.get("Type") == resource_type for r in template.get("Resources", {}).values())


def bucket_policy_bytes(template: dict[str, Any]) -> int:
    """Size of the bucket policy document as JSON (tokens unresolved, so an estimate of the deployed size)."""
    policies = [r for r in template.get("Resources", {}).values() if r.get("Type") == "AWS::S3::BucketPolicy"]
    return sum(len(json.dumps(p["Properties"]["PolicyDocument"], separators=(",", ":"))) for p in policies)


def median_seconds(synths: Sequence[Synth]) -> float:
    return statistics.median(s.seconds for s in synths)


def per_extra_job(by_size: dict[int, list[Synth]]) -> float:
    """Seconds each resource beyond the smallest stack adds (largest minus smallest, per resource)."""
    sizes = sorted(by_size)
    smallest, largest = sizes[0], sizes[-1]
    if largest == smallest:
        return 0.0
    return (median_seconds(by_size[largest]) - median_seconds(by_size[smallest])) / (largest - smallest)


def report(warmup: dict[str, float], results: Results) -> str:
    rows = []
    for kind in KINDS:
        by_size = results[kind]
        sizes = sorted(by_size)
        base_seconds = median_seconds(by_size[sizes[0]])
        base_bytes = by_size[sizes[0]][0].template_bytes
        for size in sizes:
            synths = by_size[size]
            seconds = median_seconds(synths)
            template = synths[0].template
            rows.append(
                (
                    f"{size} {kind}{'s' if size > 1 else ''}",
                    f"{statistics.median(s.construct_seconds for s in synths) * 1000:.0f}",
                    f"{statistics.median(s.synth_seconds for s in synths) * 1000:.0f}",
                    f"{seconds * 1000:.0f}",
                    f"{seconds / base_seconds:.1f}x",
                    f"{synths[0].template_bytes / 1024:.0f}",
                    f"{synths[0].template_bytes / base_bytes:.1f}x",
                    len(template.get("Resources", {})),
                    count(template, "AWS::Lambda::Function"),
                    f"{bucket_policy_bytes(template) / 1024:.1f}",
                )
            )
    table = markdown_table(
        (
            "stack",
            "construct (ms)",
            "synth (ms)",
            "total (ms, median)",
            "time vs 1",
            "template (KB)",
            "size vs 1",
            "resources",
            "Lambda functions",
            "bucket policy (KB)",
        ),
        rows,
    )
    jobs = results[JOBS]
    sizes = sorted(jobs)
    largest = sizes[-1]
    base_seconds = median_seconds(jobs[sizes[0]])
    largest_seconds = median_seconds(jobs[largest])
    ratio = largest_seconds / base_seconds
    per_job, per_floor = per_extra_job(jobs), per_extra_job(results[FLOOR])
    measurable = per_floor > 0 and per_job > 0  # a tiny run on a busy machine can come out negative
    vs_floor = per_job / per_floor if measurable else float("nan")
    verdict = ("met" if vs_floor <= GOAL_PER_JOB_VS_FLOOR else "MISSED") if measurable else "not measurable, noise"
    functions = {count(jobs[size][0].template, "AWS::Lambda::Function") for size in sizes}
    once = sum(list(warmup.values())[:2])  # what a cold `cdk synth` pays once: the import and the first synth
    cold = (once + largest_seconds) / (once + base_seconds)
    lines = [
        table,
        "warm-up (not in the ratios): " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in warmup.items()),
        f"each extra {JOBS}: {per_job * 1000:.1f} ms; each extra bare {FLOOR} (the floor): {per_floor * 1000:.1f} ms; "
        f"{vs_floor:.1f}x the floor (goal ≤ {GOAL_PER_JOB_VS_FLOOR:.0f}x: "
        f"{verdict})",
        f"{largest} jobs / {sizes[0]} job: {ratio:.1f}x the time "
        f"(goal ≤ {GOAL_RATIO:.0f}x: {'met' if ratio <= GOAL_RATIO else 'MISSED'}); "
        f"Lambda functions per stack: {', '.join(map(str, sorted(functions)))} "
        f"(goal 1: {'met' if functions == {1} else 'MISSED'})",
        f"with the warm-up counted, as in a cold `cdk synth`: {largest} jobs / {sizes[0]} job = {cold:.1f}x",
    ]
    over = [size for size in sizes if bucket_policy_bytes(jobs[size][0].template) > BUCKET_POLICY_LIMIT_BYTES]
    if over:
        lines.append(
            f"bucket policy over S3's 20 KB limit with {', '.join(map(str, over))} jobs writing to one bucket "
            "under distinct paths (one statement per job)"
        )
    return "\n\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.synth_scaling", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="jobs per stack (first = base)")
    parser.add_argument("--runs", type=int, default=RUNS, help=f"synths per size (default {RUNS})")
    args = parser.parse_args(argv)
    warmup, results = run(args.sizes, args.runs)
    print("## Synth scaling\n")
    print(report(warmup, results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
