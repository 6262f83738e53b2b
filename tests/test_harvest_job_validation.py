"""Invalid HarvestJob props fail at synth time with the Python prop and the rule named; tokens pass through.

The props v1 and v2 share (times, bucket, wait_for_completion, timeout) are tested for both in test_props.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aws_cdk import CfnParameter, Fn, Stack
from aws_cdk.assertions import Template

from mediapackage_harvest import HarvestJob, InvalidHarvestJob
from mediapackage_harvest.contract import spec
from tests.job_flavours import V2, assert_refused

START = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
LONG = "x" * (spec.NAME_MAX + 1)
# Three names at their longest are valid alone, but with a job name they outgrow the job ARN's budget.
LONGEST = "n" * spec.NAME_MAX

# (id, prop overrides, the prop the message must name, words of the rule it must state)
REJECTED: list[tuple[str, dict[str, Any], str, str]] = [
    ("channel-group-pattern", {"channel_group_name": "live stream"}, "channel_group_name", "must match"),
    ("channel-group-length", {"channel_group_name": LONG}, "channel_group_name", "1 to 256 characters"),
    ("channel-group-empty", {"channel_group_name": ""}, "channel_group_name", "1 to 256 characters"),
    ("channel-pattern", {"channel_name": "main/1"}, "channel_name", "must match"),
    ("channel-length", {"channel_name": LONG}, "channel_name", "1 to 256 characters"),
    ("endpoint-pattern", {"origin_endpoint_name": "hls.v2"}, "origin_endpoint_name", "must match"),
    ("endpoint-length", {"origin_endpoint_name": LONG}, "origin_endpoint_name", "1 to 256 characters"),
    ("job-name-pattern", {"harvest_job_name": "my job"}, "harvest_job_name", "must match"),
    ("job-name-length", {"harvest_job_name": LONG}, "harvest_job_name", "1 to 256 characters"),
    ("job-name-empty", {"harvest_job_name": ""}, "harvest_job_name", "1 to 256 characters"),
    ("hls-manifest-pattern", {"hls_manifests": ["index", "bad name"]}, "hls_manifests[1]", "must match"),
    ("dash-manifest-length", {"dash_manifests": [LONG]}, "dash_manifests[0]", "1 to 256 characters"),
    ("ll-hls-manifest-pattern", {"low_latency_hls_manifests": ["a*"]}, "low_latency_hls_manifests[0]", "must match"),
    ("manifest-duplicate", {"hls_manifests": ["index", "index"]}, "hls_manifests[1]", "must be unique"),
    (
        "manifests-missing",
        {"hls_manifests": None},
        "hls_manifests / dash_manifests / low_latency_hls_manifests",
        "at least one",
    ),
    (
        "manifests-all-empty",
        {"hls_manifests": [], "dash_manifests": [], "low_latency_hls_manifests": []},
        "hls_manifests / dash_manifests / low_latency_hls_manifests",
        "at least one",
    ),
    ("manifests-a-string", {"hls_manifests": "index"}, "hls_manifests", "must be a list of manifest names"),
    ("manifest-not-a-string", {"dash_manifests": [7]}, "dash_manifests[0]", "must be a string"),
    ("path-whitespace", {"destination_path": "my clips/"}, "destination_path", "whitespace"),
    ("path-too-long", {"destination_path": "p" * 1025}, "destination_path", "1 to 1024 characters"),
    ("path-empty", {"destination_path": ""}, "destination_path", "1 to 1024 characters"),
    ("description-too-long", {"description": "d" * 1025}, "description", "at most 1024 characters"),
    ("tags-too-many", {"tags": {f"k{i}": "v" for i in range(51)}}, "tags", "at most 50 tags"),
    ("tag-reserved-key", {"tags": {"aws:team": "media"}}, "tags['aws:team']", "reserved for AWS"),
    ("tag-key-too-long", {"tags": {"k" * 129: "v"}}, f"tags['{'k' * 129}']", "1 to 128 characters"),
    ("tag-value-too-long", {"tags": {"team": "v" * 257}}, "tags['team']", "at most 256 characters"),
    ("tag-key-characters", {"tags": {"team*": "media"}}, "tags['team*']", "may hold only"),
    (
        "names-together-too-long-derived",
        {"channel_group_name": LONGEST, "channel_name": LONGEST, "origin_endpoint_name": LONGEST},
        "channel_group_name + channel_name + origin_endpoint_name + harvest_job_name",
        "at most 800 characters",
    ),
    (
        "names-together-too-long-given",
        {
            "channel_group_name": LONGEST,
            "channel_name": LONGEST,
            "origin_endpoint_name": "e" * 200,
            "harvest_job_name": "j" * 100,
        },
        "channel_group_name + channel_name + origin_endpoint_name + harvest_job_name",
        "at most 800 characters",
    ),
]


@pytest.mark.parametrize(("overrides", "prop", "rule"), [c[1:] for c in REJECTED], ids=[c[0] for c in REJECTED])
def test_rejected(stack: Stack, job_props: dict[str, Any], overrides: dict[str, Any], prop: str, rule: str) -> None:
    assert_refused(V2, stack, {**job_props, **overrides}, prop, rule)


def test_all_violations_are_reported_at_once(stack: Stack, job_props: dict[str, Any]) -> None:
    with pytest.raises(InvalidHarvestJob) as raised:
        HarvestJob(stack, "Clip", **{**job_props, "channel_name": "bad name", "description": "d" * 2000})
    message = str(raised.value)
    assert "channel_name (ChannelName) must match" in message
    assert "description (Description) must be at most 1024" in message
    assert [v.field for v in raised.value.violations] == [spec.CHANNEL, spec.DESCRIPTION]


@pytest.mark.parametrize(
    "overrides",
    [
        {"tags": {f"k{i}": "v" for i in range(50)}},
        {"channel_group_name": "n" * 256, "channel_name": "n" * 256, "origin_endpoint_name": "n" * 224},
    ],
    ids=["tags-50", "names-800"],
)
def test_limits_are_inclusive(stack: Stack, job_props: dict[str, Any], overrides: dict[str, Any]) -> None:
    HarvestJob(stack, "Clip", **{**job_props, **overrides})


def test_tokens_pass_through(stack: Stack, job_props: dict[str, Any]) -> None:
    channel = CfnParameter(stack, "Channel").value_as_string
    bucket = Fn.import_value("HarvestBucketName")
    job = HarvestJob(
        stack,
        "Clip",
        **{
            **job_props,
            "channel_name": channel,
            "destination_bucket": bucket,
            "hls_manifests": [CfnParameter(stack, "Manifest").value_as_string],
            "description": CfnParameter(stack, "Description").value_as_string,
            "tags": {"team": CfnParameter(stack, "Team").value_as_string},
        },
    )
    template = Template.from_stack(stack)
    template.has_resource_properties(
        spec.RESOURCE_TYPE,
        {
            "ChannelName": {"Ref": "Channel"},
            "HarvestedManifests": {"HlsManifests": [{"ManifestName": {"Ref": "Manifest"}}]},
            "Destination": {"S3Destination": {"BucketName": {"Fn::ImportValue": "HarvestBucketName"}}},
            "Description": {"Ref": "Description"},
            "Tags": {"team": {"Ref": "Team"}},
        },
    )
    assert job.harvest_job_arn


def test_a_token_does_not_hide_other_violations(stack: Stack, job_props: dict[str, Any]) -> None:
    channel = CfnParameter(stack, "Channel").value_as_string
    with pytest.raises(InvalidHarvestJob) as raised:
        HarvestJob(stack, "Clip", **{**job_props, "channel_name": channel, "channel_group_name": "bad name"})
    assert [v.field for v in raised.value.violations] == [spec.CHANNEL_GROUP]
