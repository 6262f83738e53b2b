"""The stacks the benchmarks synthesize: HarvestJobs declared as a user would declare them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from aws_cdk import App, Stack
from aws_cdk import aws_s3 as s3

from mediapackage_harvest import HarvestJob

WINDOW_START = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=30)


def add_harvest_jobs(stack: Stack, count: int, *, wait_for_completion: bool = True) -> None:
    """``count`` jobs on one origin endpoint into one bucket the stack owns, each its own window and path."""
    bucket = s3.Bucket(stack, "Clips", enforce_ssl=True, block_public_access=s3.BlockPublicAccess.BLOCK_ALL)
    for index in range(count):
        start = WINDOW_START + index * WINDOW
        HarvestJob(
            stack,
            f"Clip{index}",
            channel_group_name="live",
            channel_name="main",
            origin_endpoint_name="hls",
            hls_manifests=["index"],
            start_time=start,
            end_time=start + WINDOW,
            destination_bucket=bucket,
            destination_path=f"clips/{index:03d}",
            wait_for_completion=wait_for_completion,  # timeout: the default, 1 hour (the maximum)
        )


def synth_stack(outdir: Path, name: str, count: int, *, wait_for_completion: bool = True) -> Path:
    """Synthesize one stack with ``count`` jobs into ``outdir``; the template's path."""
    app = App(outdir=str(outdir))
    add_harvest_jobs(Stack(app, name), count, wait_for_completion=wait_for_completion)
    app.synth()
    return outdir / f"{name}.template.json"
