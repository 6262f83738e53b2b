"""AWS CDK construct for AWS Elemental MediaPackage v2 harvest jobs (live-to-VOD clips) as infrastructure.

Usage::

    from datetime import UTC, datetime

    from aws_cdk import Stack, aws_s3 as s3
    from mediapackage_harvest import HarvestJob

    bucket = s3.Bucket(stack, "Clips", enforce_ssl=True)
    job = HarvestJob(
        stack,
        "Clip",
        channel_group_name="live",
        channel_name="main",
        origin_endpoint_name="hls",
        hls_manifests=["index"],
        start_time=datetime(2026, 11, 20, 18, 0, tzinfo=UTC),
        end_time=datetime(2026, 11, 20, 18, 30, tzinfo=UTC),
        destination_bucket=bucket,
        destination_path="clips/2026-11-20",
    )
    # job.harvest_job_arn, job.etag, job.status, ... are CloudFormation attributes.

The origin endpoint must let MediaPackage harvest it: pass the endpoint the app declares as ``origin_endpoint=``
(a ``CfnOriginEndpoint`` or the alpha L2) instead of the three names, and the statement goes into its policy;
for an endpoint outside the app, add ``harvester_origin_endpoint_policy_statement(...)`` to its policy.
One handler function per stack serves every ``HarvestJob`` in it.

Many clips of one endpoint, as Python data or a CSV or JSON file, are one ``ClipSet``: each clip a ``HarvestJob``
named after the clip, harvested at most ``max_active_jobs`` at a time (MediaPackage's quota per channel group),
each starting as soon as another ends.

Channels still on MediaPackage v1 get the same experience from ``MediaPackageV1HarvestJob`` (an origin endpoint
ID, a window, a bucket and a manifest key; it creates the role MediaPackage writes with). v1 and v2 jobs in one
stack share its one handler function. v1 harvest jobs can be neither cancelled nor deleted.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from mediapackage_harvest.contract.spec import RESOURCE_TYPE, V1_RESOURCE_TYPE, InvalidProperties, Violation

if TYPE_CHECKING:
    from mediapackage_harvest.clip_set import ClipSet, HarvestedClip
    from mediapackage_harvest.clips import Clip
    from mediapackage_harvest.errors import InvalidClipSet, InvalidHarvestJob, InvalidV1HarvestJob
    from mediapackage_harvest.harvest_job import HarvestJob
    from mediapackage_harvest.policies import (
        harvest_job_arn_pattern,
        harvester_bucket_policy_statement,
        harvester_origin_endpoint_policy_statement,
        origin_endpoint_arn,
    )
    from mediapackage_harvest.provider import HarvestJobProvider
    from mediapackage_harvest.v1_harvest_job import MediaPackageV1HarvestJob

try:
    __version__ = version("cdk-mediapackage-harvest")
    """The installed distribution's version (set in one place: pyproject.toml)."""
except PackageNotFoundError:  # the source tree on sys.path without an install
    __version__ = "0+unknown"

# Imported on first use: `mediapackage_harvest.spec` (standard library only, used by the handler and its tests)
# must not pay for starting aws_cdk's jsii runtime.
_LAZY = {
    "HarvestJob": "harvest_job",
    "ClipSet": "clip_set",
    "Clip": "clips",
    "HarvestedClip": "clip_set",
    "InvalidClipSet": "errors",
    "InvalidHarvestJob": "errors",
    "HarvestJobProvider": "provider",
    "harvest_job_arn_pattern": "policies",
    "harvester_bucket_policy_statement": "policies",
    "harvester_origin_endpoint_policy_statement": "policies",
    "origin_endpoint_arn": "policies",
    "MediaPackageV1HarvestJob": "v1_harvest_job",
    "InvalidV1HarvestJob": "errors",
}

__all__ = [
    "RESOURCE_TYPE",
    "V1_RESOURCE_TYPE",
    "Clip",
    "ClipSet",
    "HarvestJob",
    "HarvestJobProvider",
    "HarvestedClip",
    "InvalidClipSet",
    "InvalidHarvestJob",
    "InvalidProperties",
    "InvalidV1HarvestJob",
    "MediaPackageV1HarvestJob",
    "Violation",
    "harvest_job_arn_pattern",
    "harvester_bucket_policy_statement",
    "harvester_origin_endpoint_policy_statement",
    "origin_endpoint_arn",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
