"""Stacks with MediaPackage v1 harvest jobs, built the way a user would write them, for the v1 tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aws_cdk import App, CfnOutput, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from mediapackage_harvest import HarvestJob, MediaPackageV1HarvestJob
from mediapackage_harvest.rehearsal.template import Environment
from mediapackage_harvest.rehearsal.template import Template as RehearsalTemplate

START = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
END = START + timedelta(minutes=30)
AFTER = END + timedelta(minutes=5)  # when a rehearsal of these stacks starts: every window is in the past
GIVEN_ROLE_ARN = "arn:aws:iam::123456789012:role/media/harvest-writer"


def v1_stack(
    name: str = "V1Clips",
    *,
    end: datetime = END,
    timeout_minutes: int = 10,
    wait_for_completion: bool = True,
    app: App | None = None,
) -> Stack:
    """One v1 job into a bucket of the stack, with a role made for it; outputs for every attribute."""
    stack = Stack(app or App(), name)
    bucket = s3.Bucket(stack, "Clips", enforce_ssl=True)
    job = MediaPackageV1HarvestJob(
        stack,
        "Clip",
        origin_endpoint_id="sports-hls",
        start_time=START,
        end_time=end,
        destination_bucket=bucket,
        manifest_key="clips/final/index.m3u8",
        timeout=Duration.minutes(timeout_minutes),
        wait_for_completion=wait_for_completion,
    )
    CfnOutput(stack, "Arn", value=job.harvest_job_arn)
    CfnOutput(stack, "JobId", value=job.harvest_job_id)
    CfnOutput(stack, "Status", value=job.status)
    CfnOutput(stack, "ChannelId", value=job.channel_id)
    CfnOutput(stack, "CreatedAt", value=job.created_at)
    return stack


def mixed_stack(app: App | None = None, *, bucket_names: bool = False, end: datetime = END) -> Stack:
    """A v1 job with a role made for it, a v1 job with a given role and a fixed Id, and a v2 job: one handler.

    ``bucket_names`` writes to buckets named by string (no bucket resource), as cdk-nag's S3 rules are about the
    user's buckets, not about this library.
    """
    stack = Stack(app or App(), "Mixed")
    bucket: s3.IBucket | str = "harvest-bucket" if bucket_names else s3.Bucket(stack, "Clips", enforce_ssl=True)
    common: dict[str, Any] = {"start_time": START, "end_time": end, "timeout": Duration.minutes(10)}
    MediaPackageV1HarvestJob(
        stack,
        "LegacyClip",
        origin_endpoint_id="sports-hls",
        destination_bucket=bucket,
        manifest_key="clips/legacy/index.m3u8",
        **common,
    )
    MediaPackageV1HarvestJob(
        stack,
        "LegacyNamed",
        origin_endpoint_id="news-dash",
        destination_bucket="other-harvest-bucket",
        manifest_key="news/index.mpd",
        role=iam.Role.from_role_arn(stack, "GivenRole", GIVEN_ROLE_ARN, mutable=False),
        harvest_job_id="news-2026-01-15",
        **common,
    )
    HarvestJob(
        stack,
        "ModernClip",
        channel_group_name="live",
        channel_name="main",
        origin_endpoint_name="hls",
        hls_manifests=["index"],
        destination_bucket=bucket,
        destination_path="clips/modern",
        **common,
    )
    return stack


def template_json(stack: Stack) -> dict[str, Any]:
    return dict(Template.from_stack(stack).to_json())


def rehearsal_template(stack: Stack) -> RehearsalTemplate:
    """The synthesized template as the rehearsal's CloudFormation reads it."""
    return RehearsalTemplate(template_json(stack), Environment(stack_name=stack.stack_name))
