"""The stacks the benchmarks synthesize: HarvestJobs declared as a user would declare them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from aws_cdk import App, CustomResource, Duration, Stack
from aws_cdk import aws_s3 as s3

from mediapackage_harvest import HarvestJob
from mediapackage_harvest.contract import spec

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


def add_bare_custom_resources(stack: Stack, count: int) -> None:
    """The floor for ``add_harvest_jobs``: ``count`` plain ``CustomResource``s with the properties those jobs
    render (same bucket, windows and paths), and nothing else: no validation, provider, grants or attributes."""
    bucket = s3.Bucket(stack, "Clips", enforce_ssl=True, block_public_access=s3.BlockPublicAccess.BLOCK_ALL)
    bucket_name = bucket.bucket_name
    timeout = Duration.hours(1)
    for index in range(count):
        start = WINDOW_START + index * WINDOW
        CustomResource(
            stack,
            f"Clip{index}",
            resource_type=spec.RESOURCE_TYPE,
            service_token="arn:aws:lambda:us-east-1:123456789012:function:harvest",
            service_timeout=timeout,
            properties={
                spec.CHANNEL_GROUP: "live",
                spec.CHANNEL: "main",
                spec.ORIGIN_ENDPOINT: "hls",
                spec.MANIFESTS: {"HlsManifests": [{"ManifestName": "index"}]},
                spec.SCHEDULE: {"StartTime": start.isoformat(), "EndTime": (start + WINDOW).isoformat()},
                spec.DESTINATION: {
                    "S3Destination": {"BucketName": bucket_name, "DestinationPath": f"clips/{index:03d}"}
                },
                spec.WAIT_FOR_COMPLETION: "true",
                spec.TIMEOUT: "3600",
            },
        )


def synth_stack(outdir: Path, name: str, count: int, *, wait_for_completion: bool = True) -> Path:
    """Synthesize one stack with ``count`` jobs into ``outdir``; the template's path."""
    app = App(outdir=str(outdir))
    add_harvest_jobs(Stack(app, name), count, wait_for_completion=wait_for_completion)
    app.synth()
    return outdir / f"{name}.template.json"
