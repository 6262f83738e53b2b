"""The handler's role allows every call the handler's code can make, on every resource IAM checks for it, for a
stack mixing v2 jobs by construct, v2 jobs by names with tags, and a v1 job (the example app: in
test_example_app.py). The calls are read from the code (tests/role_coverage.py), the resources from the Service
Authorization Reference's data."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template as CdkTemplate

from mediapackage_harvest import HarvestJob, MediaPackageV1HarvestJob
from mediapackage_harvest.rehearsal.template import Environment, Template
from tests.endpoints import origin_endpoint
from tests.role_coverage import Call, coverage, handler_calls, table

# A window an hour old: inside the declared endpoint's one-day startover window whenever the test runs.
START = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
END = START + timedelta(minutes=30)


def mixed_template() -> Template:
    stack = Stack(App(), "Mixed")
    bucket = s3.Bucket(stack, "Clips", enforce_ssl=True)
    endpoint = origin_endpoint(stack)
    common: dict[str, Any] = {"start_time": START, "end_time": END, "destination_bucket": bucket}
    HarvestJob(stack, "ByConstruct", origin_endpoint=endpoint, hls_manifests=["index"], destination_path="a", **common)
    HarvestJob(
        stack,
        "ByNames",
        channel_group_name="sports",
        channel_name="backup",
        origin_endpoint_name="dash",
        dash_manifests=["main"],
        destination_path="b",
        tags={"team": "media"},
        **common,
    )
    MediaPackageV1HarvestJob(stack, "Legacy", origin_endpoint_id="legacy-hls", manifest_key="c/index.m3u8", **common)
    return Template(copy.deepcopy(dict(CdkTemplate.from_stack(stack).to_json())), Environment("Mixed"))


@pytest.fixture(scope="module")
def mixed() -> Template:
    return mixed_template()


def test_the_calls_are_read_from_the_handlers_code() -> None:
    calls = handler_calls()
    names = {f"{c.service}:{c.operation}" for c in calls}
    assert {
        "mediapackagev2:CreateHarvestJob",
        "mediapackagev2:GetHarvestJob",
        "mediapackagev2:CancelHarvestJob",
        "mediapackagev2:TagResource",
        "mediapackagev2:UntagResource",
        "mediapackagev2:GetOriginEndpoint",
        "mediapackagev2:GetOriginEndpointPolicy",
        "mediapackage:CreateHarvestJob",
        "mediapackage:DescribeHarvestJob",
        "mediapackage:DescribeOriginEndpoint",
        "events:PutRule",
        "events:PutTargets",
        "events:DescribeRule",
        "events:ListTargetsByRule",
        "events:RemoveTargets",
        "events:DeleteRule",
    } <= names
    assert Call("mediapackage", "CreateHarvestJob", passes_role=True) in calls  # v1 hands MediaPackage its role


def test_the_role_allows_every_call_on_every_resource_iam_checks(mixed: Template) -> None:
    rows = coverage(mixed, handler_calls())
    print(table(rows))
    assert [row for row in rows if not row.allowed_by] == []
    checked = {row.resource for row in rows if row.call == "mediapackagev2:CreateHarvestJob"}
    assert {r.rsplit(":", 1)[1] for r in checked} >= {
        "channelGroup/live",
        "channelGroup/live/channel/main",
        "channelGroup/live/channel/main/originEndpoint/hls",
        "channelGroup/sports/channel/backup/originEndpoint/dash",
        "channelGroup/sports/channel/backup/originEndpoint/dash/harvestJob/Clip-0123456789ab",
    }
    assert any(row.call == "iam:PassRole" and ":role/" in row.resource for row in rows)
    assert any(row.call == "mediapackage:CreateHarvestJob" and row.resource == "*" for row in rows)


def test_a_role_granting_only_the_jobs_fails_the_check(mixed: Template) -> None:
    """The role as it was before 1.0.1: job actions on ``.../harvestJob/*`` only. IAM refuses CreateHarvestJob on the
    channel group, and the check says so."""
    (policy_id,) = [
        rid for rid, r in mixed.resources.items() if rid.startswith("MediaPackageHarvestProviderRoleDefault")
    ]
    statements = mixed.resources[policy_id]["Properties"]["PolicyDocument"]["Statement"]
    for statement in statements:
        if "mediapackagev2:CreateHarvestJob" in statement["Action"]:
            statement["Resource"] = [r for r in statement["Resource"] if "harvestJob" in str(r)]
    refused = [row for row in coverage(mixed, handler_calls()) if not row.allowed_by]
    assert refused and all(row.call.startswith("mediapackagev2:") for row in refused)
    assert any(row.resource.endswith(":channelGroup/live") for row in refused)
