"""Invalid v1 props fail at synth time naming the Python prop and the rule; tokens pass through; v2 is untouched.

The props v1 and v2 share (times, bucket, wait_for_completion, timeout) are tested for both in test_props.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aws_cdk import App, CfnParameter, Fn, Stack
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from mediapackage_harvest import InvalidV1HarvestJob, MediaPackageV1HarvestJob
from mediapackage_harvest.contract import spec
from tests.job_flavours import V1, assert_refused

START = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
LONG = "x" * (spec.V1_ID_MAX + 1)
ROLE = "arn:aws:iam::123456789012:role/harvest-writer"

# (id, prop overrides, the prop the message must name, words of the rule it must state)
REJECTED: list[tuple[str, dict[str, Any], str, str]] = [
    ("job-id-pattern", {"harvest_job_id": "game highlights"}, "harvest_job_id", "must match"),
    ("job-id-slash", {"harvest_job_id": "game/1"}, "harvest_job_id", "must match"),
    ("job-id-length", {"harvest_job_id": LONG}, "harvest_job_id", "1 to 256 characters"),
    ("job-id-empty", {"harvest_job_id": ""}, "harvest_job_id", "1 to 256 characters"),
    ("endpoint-pattern", {"origin_endpoint_id": "hls.v1"}, "origin_endpoint_id", "must match"),
    ("endpoint-length", {"origin_endpoint_id": LONG}, "origin_endpoint_id", "1 to 256 characters"),
    ("endpoint-not-a-string", {"origin_endpoint_id": 7}, "origin_endpoint_id", "must be a string"),
    ("key-empty", {"manifest_key": ""}, "manifest_key", "1 to 1024 bytes"),
    ("key-too-long", {"manifest_key": "k" * 1021 + ".m3u8"}, "manifest_key", "1 to 1024 bytes"),
    ("key-too-long-in-bytes", {"manifest_key": "é" * 513}, "manifest_key", "1 to 1024 bytes"),
    ("key-leading-slash", {"manifest_key": "/clips/index.m3u8"}, "manifest_key", "no leading or trailing '/'"),
    ("key-is-a-folder", {"manifest_key": "clips/game/"}, "manifest_key", "naming the manifest file"),
    ("key-empty-folder", {"manifest_key": "clips//index.m3u8"}, "manifest_key", "no '//'"),
    ("key-whitespace", {"manifest_key": "my clips/index.m3u8"}, "manifest_key", "whitespace"),
    ("key-not-a-string", {"manifest_key": None}, "manifest_key", "is required"),
    ("role-wrong-type", {"role": "arn:aws:iam::123456789012:role/x"}, "role", "must be an iam.IRole"),
]


@pytest.mark.parametrize(("overrides", "prop", "rule"), [c[1:] for c in REJECTED], ids=[c[0] for c in REJECTED])
def test_rejected(stack: Stack, v1_props: dict[str, Any], overrides: dict[str, Any], prop: str, rule: str) -> None:
    assert_refused(V1, stack, {**v1_props, **overrides}, prop, rule)


def test_a_role_given_by_arn_must_be_a_role(stack: Stack, v1_props: dict[str, Any]) -> None:
    user = iam.Role.from_role_arn(stack, "NotARole", "arn:aws:iam::123456789012:user/harvester")
    with pytest.raises(InvalidV1HarvestJob, match=r"role \(S3Destination.RoleArn\) must be an IAM role ARN"):
        MediaPackageV1HarvestJob(stack, "Clip", **{**v1_props, "role": user})


def test_all_violations_are_reported_at_once(stack: Stack, v1_props: dict[str, Any]) -> None:
    with pytest.raises(InvalidV1HarvestJob) as raised:
        MediaPackageV1HarvestJob(
            stack, "Clip", **{**v1_props, "origin_endpoint_id": "bad id", "manifest_key": "/index.m3u8"}
        )
    assert [v.field for v in raised.value.violations] == [spec.V1_ORIGIN_ENDPOINT, f"{spec.V1_DESTINATION}.ManifestKey"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"harvest_job_id": "j" * spec.V1_ID_MAX},
        {"harvest_job_id": "Game_Highlights-2026"},
        {"manifest_key": "k" * 1019 + ".m3u8"},
        {"manifest_key": "index.m3u8"},
    ],
    ids=["id-256", "id-characters", "key-1024-bytes", "key-at-the-top"],
)
def test_limits_are_inclusive(stack: Stack, v1_props: dict[str, Any], overrides: dict[str, Any]) -> None:
    MediaPackageV1HarvestJob(stack, "Clip", **{**v1_props, **overrides})


def test_tokens_pass_through(stack: Stack, v1_props: dict[str, Any]) -> None:
    endpoint = CfnParameter(stack, "Endpoint").value_as_string
    role = iam.Role.from_role_arn(stack, "Writer", Fn.import_value("WriterRoleArn"))
    MediaPackageV1HarvestJob(
        stack,
        "Clip",
        **{
            **v1_props,
            "origin_endpoint_id": endpoint,
            "harvest_job_id": CfnParameter(stack, "JobId").value_as_string,
            "destination_bucket": Fn.import_value("HarvestBucketName"),
            "manifest_key": CfnParameter(stack, "Key").value_as_string,
            "role": role,
        },
    )
    Template.from_stack(stack).has_resource_properties(
        spec.V1_RESOURCE_TYPE,
        {
            "Id": {"Ref": "JobId"},
            "OriginEndpointId": {"Ref": "Endpoint"},
            "S3Destination": {
                "BucketName": {"Fn::ImportValue": "HarvestBucketName"},
                "ManifestKey": {"Ref": "Key"},
                "RoleArn": {"Fn::ImportValue": "WriterRoleArn"},
            },
        },
    )


def test_a_token_does_not_hide_other_violations(stack: Stack, v1_props: dict[str, Any]) -> None:
    endpoint = CfnParameter(stack, "Endpoint").value_as_string
    with pytest.raises(InvalidV1HarvestJob) as raised:
        MediaPackageV1HarvestJob(stack, "Clip", **{**v1_props, "origin_endpoint_id": endpoint, "harvest_job_id": "a b"})
    assert [v.field for v in raised.value.violations] == [spec.V1_JOB_ID]


def test_v1_rules_on_the_raw_strings_cloudformation_sends() -> None:
    """The handler checks the same rules at deploy time, on the strings CloudFormation sends."""
    destination = {"BucketName": "harvest-bucket", "ManifestKey": "clips/index.m3u8", "RoleArn": ROLE}
    props: dict[str, Any] = {
        "OriginEndpointId": "hls",
        "StartTime": "2026-01-15T10:00:00Z",
        "EndTime": "2026-01-15T10:30:00+00:00",
        "S3Destination": destination,
        "WaitForCompletion": "false",
        "Timeout": "600",
    }
    assert spec.validate_v1(props) == []
    broken = {**props, "S3Destination": {**destination, "RoleArn": "harvest-writer"}, "Timeout": "ten"}
    assert [str(v) for v in spec.validate_v1(broken)] == [
        "S3Destination.RoleArn must be an IAM role ARN (arn:<partition>:iam::<account>:role/<name>), "
        "got 'harvest-writer'",
        "Timeout must be a whole number of seconds, got 'ten'",
    ]
    assert [v.field for v in spec.validate_v1({})] == [
        spec.V1_ORIGIN_ENDPOINT,
        spec.V1_START,
        spec.V1_END,
        spec.V1_DESTINATION,
    ]


def test_v2_rules_are_unchanged_by_the_shared_window_check() -> None:
    """v2 still reports its window on ScheduleConfiguration, with the same words."""
    props = {
        "ChannelGroupName": "live",
        "ChannelName": "main",
        "OriginEndpointName": "hls",
        "HarvestedManifests": {"HlsManifests": [{"ManifestName": "index"}]},
        "ScheduleConfiguration": {"StartTime": "2026-01-15T10:00:00Z", "EndTime": "2026-01-16T10:00:01Z"},
        "Destination": {"S3Destination": {"BucketName": "harvest-bucket", "DestinationPath": "clips"}},
    }
    assert [str(v) for v in spec.validate(props)] == [
        "ScheduleConfiguration must span at most 24 hours (EndTime - StartTime), got 1 day, 0:00:01"
    ]


def test_synthesizes_in_an_app_of_its_own(v1_props: dict[str, Any]) -> None:
    stack = Stack(App(), "Alone")
    job = MediaPackageV1HarvestJob(stack, "Clip", **v1_props)
    assert job.harvest_job_arn
