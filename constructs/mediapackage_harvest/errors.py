"""The errors the job constructs raise for bad props, and the tables that name each rule's Python prop.

Both constructs render their props into the custom resource's properties and run the contract's rules over them
(``props.raise_if_invalid``). A broken rule is reported on a property path (``HarvestedManifests.HlsManifests[1]
.ManifestName``); the tables here turn it into the prop the user wrote (``hls_manifests[1]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from mediapackage_harvest.clips import Problem
from mediapackage_harvest.contract import spec

# Custom resource property paths (spec's field names) -> the Python prop a user wrote; most specific first.
PropsByField = tuple[tuple[str, str], ...]

# Violation fields for the origin endpoint itself (the custom resource has no such property).
ENDPOINT_FIELD = "OriginEndpoint"
BOTH_FIELD = "OriginEndpoint+Names"


def python_prop(field: str, props_by_field: PropsByField) -> str:
    """The Python prop behind a custom resource property path, e.g. ``hls_manifests[0]``."""
    for prefix, prop in props_by_field:
        if field.startswith(prefix):
            rest = field[len(prefix) :].removesuffix(".ManifestName")
            return prop + rest if rest.startswith("[") else prop  # keep an index or a tag key
    return field


class InvalidJobProps(spec.InvalidProperties):
    """A job construct declared with invalid props; the message names each Python prop and the rule it breaks.

    Each construct's subclass names the construct and gives its property-path-to-prop table.
    """

    construct: ClassVar[str]
    props_by_field: ClassVar[PropsByField]

    def __init__(self, path: str, violations: Sequence[spec.Violation]) -> None:
        super().__init__(violations)
        self.path = path
        details = "; ".join(f"{python_prop(v.field, self.props_by_field)} ({v.field}) {v.rule}" for v in violations)
        self.args = (f"{self.construct} '{path}': {details}",)


# Custom resource property paths (spec's field names) -> the Python prop a user wrote; most specific first.
PROPS_BY_FIELD: PropsByField = (
    (f"{spec.CHANNEL_GROUP}+", "channel_group_name + channel_name + origin_endpoint_name + harvest_job_name"),
    (spec.CHANNEL_GROUP, "channel_group_name"),
    (spec.CHANNEL, "channel_name"),
    (spec.ORIGIN_ENDPOINT, "origin_endpoint_name"),
    (spec.JOB_NAME, "harvest_job_name"),
    (f"{spec.MANIFESTS}.HlsManifests", "hls_manifests"),
    (f"{spec.MANIFESTS}.DashManifests", "dash_manifests"),
    (f"{spec.MANIFESTS}.LowLatencyHlsManifests", "low_latency_hls_manifests"),
    (spec.MANIFESTS, "hls_manifests / dash_manifests / low_latency_hls_manifests"),
    (f"{spec.SCHEDULE}.StartTime", "start_time"),
    (f"{spec.SCHEDULE}.EndTime", "end_time"),
    (spec.SCHEDULE, "start_time / end_time"),
    (f"{spec.DESTINATION}.S3Destination.BucketName", "destination_bucket"),
    (f"{spec.DESTINATION}.S3Destination.DestinationPath", "destination_path"),
    (spec.DESTINATION, "destination_bucket / destination_path"),
    (spec.DESCRIPTION, "description"),
    (spec.TAGS, "tags"),
    (spec.WAIT_FOR_COMPLETION, "wait_for_completion"),
    (spec.TIMEOUT, "timeout"),
    (BOTH_FIELD, "origin_endpoint + channel_group_name / channel_name / origin_endpoint_name"),
    (ENDPOINT_FIELD, "origin_endpoint"),
)


class InvalidHarvestJob(InvalidJobProps):
    """A ``HarvestJob`` declared with invalid props; the message names each Python prop and the rule it breaks."""

    construct = "HarvestJob"
    props_by_field = PROPS_BY_FIELD


# Custom resource property paths (spec's v1 field names) -> the Python prop a user wrote; most specific first.
V1_PROPS_BY_FIELD: PropsByField = (
    (spec.V1_JOB_ID, "harvest_job_id"),
    (spec.V1_ORIGIN_ENDPOINT, "origin_endpoint_id"),
    (spec.V1_START, "start_time"),
    (spec.V1_END, "end_time"),
    (f"{spec.V1_DESTINATION}.BucketName", "destination_bucket"),
    (f"{spec.V1_DESTINATION}.ManifestKey", "manifest_key"),
    (f"{spec.V1_DESTINATION}.RoleArn", "role"),
    (spec.V1_DESTINATION, "destination_bucket / manifest_key / role"),
    (spec.WAIT_FOR_COMPLETION, "wait_for_completion"),
    (spec.TIMEOUT, "timeout"),
)


class InvalidV1HarvestJob(InvalidHarvestJob):
    """A ``MediaPackageV1HarvestJob`` declared with invalid props; the message names each Python prop and rule.

    A subclass of ``InvalidHarvestJob``, so that code catching that one catches both.
    """

    construct = "MediaPackageV1HarvestJob"
    props_by_field = V1_PROPS_BY_FIELD


class InvalidClipSet(spec.InvalidProperties):
    """A ``ClipSet`` whose clips or props break rules: the message lists every problem, each at the place to fix it
    (the file, row and column; a clip of ``clips``; or the set's prop), with ``HarvestJob``'s rules and messages.
    ``problems`` holds them as :class:`~mediapackage_harvest.clips.Problem` (``where``, ``prop``, ``rule``,
    ``field``).
    """

    def __init__(self, path: str, problems: Sequence[Problem]) -> None:
        super().__init__([spec.Violation(p.field or p.prop, p.rule) for p in problems])
        self.path = path
        self.problems = list(problems)
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        self.args = (f"ClipSet '{path}': {count}:\n" + "\n".join(f"  {p}" for p in problems),)
