"""Synth scaling: stacks with 1, 10 and 100 HarvestJobs synthesized in one process.

Warm-up, measured apart and left out of the ratios: the first ``import aws_cdk`` (starts the jsii runtime) and
throwaway synths of a 1-job stack (the first loads aws-cdk-lib into jsii's Node process and bundles the Lambda
asset into the shared output folder; the next ones let Node's JIT settle). Every measured synth writes to that
same folder, so the asset (custom hash, folder already there) is not bundled again; what is timed is building
the App, the stack and its jobs, plus ``app.synth()``. Each size is synthesized several times (a new App each
time, sizes interleaved) and the median is reported.

    python -m bench.synth_scaling                  # 1, 10, 100 jobs, 7 runs each
    python -m bench.synth_scaling --sizes 1 2 --runs 1    # the smallest mode
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.tables import markdown_table

SIZES = (1, 10, 100)
RUNS = 7
WARMUP_SYNTHS = 3
GOAL_RATIO = 3.0
BUCKET_POLICY_LIMIT_BYTES = 20 * 1024  # S3's limit on a bucket policy


@dataclass(frozen=True)
class Synth:
    """One measured synth."""

    jobs: int
    construct_seconds: float
    synth_seconds: float
    template: dict[str, Any]
    template_bytes: int

    @property
    def seconds(self) -> float:
        return self.construct_seconds + self.synth_seconds


def synthesize(outdir: Path, jobs: int, name: str) -> Synth:
    """Build an App with one stack of ``jobs`` HarvestJobs and synthesize it, timing both parts."""
    from aws_cdk import App, Stack

    from bench.stacks import add_harvest_jobs

    began = time.perf_counter()
    app = App(outdir=str(outdir))
    add_harvest_jobs(Stack(app, name), jobs)
    built = time.perf_counter()
    app.synth()
    done = time.perf_counter()
    path = outdir / f"{name}.template.json"
    text = path.read_text()
    return Synth(jobs, built - began, done - built, json.loads(text), len(text.encode()))


def run(sizes: Sequence[int], runs: int) -> tuple[dict[str, float], dict[int, list[Synth]]]:
    """Warm up (timed), then ``runs`` rounds of every size; the warm-up figures and the synths by size."""
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as folder:
        outdir = Path(folder)
        began = time.perf_counter()
        import aws_cdk  # noqa: F401  (starts the jsii runtime)

        imported = time.perf_counter()
        synthesize(outdir, 1, "Warmup")
        warm = time.perf_counter()
        for index in range(1, WARMUP_SYNTHS):
            synthesize(outdir, 1, f"Warmup{index}")
        settled = time.perf_counter()
        warmup = {
            "import aws_cdk": imported - began,
            "first 1-job synth (jsii loads aws-cdk-lib, the asset is bundled)": warm - imported,
            f"{WARMUP_SYNTHS - 1} more 1-job synths": settled - warm,
        }
        results: dict[int, list[Synth]] = {size: [] for size in sizes}
        for round_ in range(runs):
            for size in sizes:
                results[size].append(synthesize(outdir, size, f"Jobs{size}Run{round_}"))
        return warmup, results


def count(template: dict[str, Any], resource_type: str) -> int:
    return sum(r.get("Type") == resource_type for r in template.get("Resources", {}).values())


def bucket_policy_bytes(template: dict[str, Any]) -> int:
    """Size of the bucket policy document as JSON (tokens unresolved, so an estimate of the deployed size)."""
    policies = [r for r in template.get("Resources", {}).values() if r.get("Type") == "AWS::S3::BucketPolicy"]
    return sum(len(json.dumps(p["Properties"]["PolicyDocument"], separators=(",", ":"))) for p in policies)


def report(warmup: dict[str, float], results: dict[int, list[Synth]]) -> str:
    sizes = sorted(results)
    base = results[sizes[0]]
    base_seconds = statistics.median(s.seconds for s in base)
    base_bytes = base[0].template_bytes
    rows = []
    for size in sizes:
        synths = results[size]
        seconds = statistics.median(s.seconds for s in synths)
        template = synths[0].template
        rows.append(
            (
                size,
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
            "HarvestJobs",
            "construct (ms)",
            "synth (ms)",
            "total (ms, median)",
            "time vs 1 job",
            "template (KB)",
            "size vs 1 job",
            "resources",
            "Lambda functions",
            "bucket policy (KB)",
        ),
        rows,
    )
    largest = sizes[-1]
    largest_seconds = statistics.median(s.seconds for s in results[largest])
    ratio = largest_seconds / base_seconds
    per_job = (largest_seconds - base_seconds) / (largest - sizes[0]) if largest > sizes[0] else 0.0
    functions = {count(results[size][0].template, "AWS::Lambda::Function") for size in sizes}
    once = sum(list(warmup.values())[:2])  # what a cold `cdk synth` pays once: the import and the first synth
    cold = (once + statistics.median(s.seconds for s in results[largest])) / (once + base_seconds)
    lines = [
        table,
        "warm-up (not in the ratios): " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in warmup.items()),
        f"{largest} jobs / {sizes[0]} job: {ratio:.1f}x the time "
        f"(goal ≤ {GOAL_RATIO:.0f}x: {'met' if ratio <= GOAL_RATIO else 'MISSED'}), "
        f"{per_job * 1000:.1f} ms per additional job; "
        f"Lambda functions per stack: {', '.join(map(str, sorted(functions)))} "
        f"(goal 1: {'met' if functions == {1} else 'MISSED'})",
        f"with the warm-up counted, as in a cold `cdk synth`: {largest} jobs / {sizes[0]} job = {cold:.1f}x",
    ]
    over = [size for size in sizes if bucket_policy_bytes(results[size][0].template) > BUCKET_POLICY_LIMIT_BYTES]
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
