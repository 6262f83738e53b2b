"""``HarvestJob`` with a ``timeout`` over one hour: the long-wait template shape (handle, job, wait condition,
result), attributes from the result, the one-hour shape unchanged up to an hour, logical ids that change exactly
when the stack must wait again, and cfn-lint and cdk-nag clean."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, CfnOutput, Duration, Stack, Validations
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import lint

from mediapackage_harvest import HarvestJob, InvalidHarvestJob, MediaPackageV1HarvestJob
from mediapackage_harvest.contract import spec
from mediapackage_harvest.errors import InvalidV1HarvestJob

START = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
HANDLE, CONDITION = "AWS::CloudFormation::WaitConditionHandle", "AWS::CloudFormation::WaitCondition"


def long_job(stack: Stack, id: str = "Clip", **overrides: Any) -> HarvestJob:
    props: dict[str, Any] = {
        "channel_group_name": "live",
        "channel_name": "main",
        "origin_endpoint_name": "hls",
        "hls_manifests": ["index"],
        "start_time": START,
        "end_time": START + timedelta(hours=3),
        "destination_bucket": "harvest-bucket",
        "destination_path": "clips/",
        "timeout": Duration.hours(4),
        **overrides,
    }
    return HarvestJob(stack, id, **props)


def template_of(**overrides: Any) -> Mapping[str, Any]:
    stack = Stack(App(), "Long")
    clip = long_job(stack, **overrides)
    CfnOutput(stack, "Arn", value=clip.harvest_job_arn)
    CfnOutput(stack, "ETag", value=clip.etag)
    return Template.from_stack(stack).to_json()


def ids_of(template: Mapping[str, Any], resource_type: str) -> list[str]:
    return [rid for rid, r in template["Resources"].items() if r["Type"] == resource_type]


def test_past_an_hour_the_job_waits_on_a_wait_condition_and_attributes_come_from_the_result() -> None:
    stack = Stack(App(), "Long")
    clip = long_job(stack, tags={"team": "media"})
    CfnOutput(stack, "Arn", value=clip.harvest_job_arn)
    template = Template.from_stack(stack)
    body = template.to_json()
    (handle,) = ids_of(body, HANDLE)
    (condition,) = ids_of(body, CONDITION)
    (job,) = ids_of(body, spec.RESOURCE_TYPE)
    (result,) = ids_of(body, spec.RESULT_RESOURCE_TYPE)

    template.has_resource_properties(
        spec.RESOURCE_TYPE,
        {"Timeout": "14400", "ServiceTimeout": "3600", "WaitForCompletion": "true", "SignalUrl": {"Ref": handle}},
    )
    assert body["Resources"][condition]["Properties"] == {"Handle": {"Ref": handle}, "Timeout": "14400", "Count": 1}
    assert job in body["Resources"][condition]["DependsOn"]
    template.has_resource_properties(
        spec.RESULT_RESOURCE_TYPE,
        {"JobArn": {"Fn::GetAtt": [job, "Arn"]}, "Condition": {"Ref": condition}, "JobTags": {"team": "media"}},
    )
    assert body["Outputs"]["Arn"]["Value"] == {"Fn::GetAtt": [result, "Arn"]}
    assert clip.resource.node.default_child is not None  # the job's own resource stays `resource`


@pytest.mark.parametrize("timeout", [Duration.hours(1), Duration.minutes(20)], ids=["1h", "20min"])
def test_up_to_an_hour_the_template_is_the_one_hour_shape(timeout: Duration) -> None:
    body = template_of(timeout=timeout, end_time=START + timedelta(minutes=30))
    types = {r["Type"] for r in body["Resources"].values()}
    assert not types & {HANDLE, CONDITION, spec.RESULT_RESOURCE_TYPE}
    (job,) = ids_of(body, spec.RESOURCE_TYPE)
    assert "SignalUrl" not in body["Resources"][job]["Properties"]
    assert body["Outputs"]["Arn"]["Value"] == {"Fn::GetAtt": [job, "Arn"]}


def test_without_waiting_a_long_timeout_needs_no_wait_condition() -> None:
    body = template_of(wait_for_completion=False)
    assert not ids_of(body, CONDITION)
    (job,) = ids_of(body, spec.RESOURCE_TYPE)
    assert body["Resources"][job]["Properties"]["ServiceTimeout"] == "3600"  # CloudFormation's ceiling


def test_a_replacing_change_or_a_new_timeout_renames_the_wait_and_tags_do_not() -> None:
    def wait_ids(**overrides: Any) -> tuple[list[str], list[str]]:
        body = template_of(**overrides)
        return ids_of(body, HANDLE), ids_of(body, CONDITION)

    first = wait_ids()
    assert wait_ids() == first  # stable from synth to synth
    assert wait_ids(tags={"team": "media"}) == first
    assert wait_ids(destination_path="clips/again/")[0] != first[0]
    assert wait_ids(destination_path="clips/again/")[1] != first[1]
    assert wait_ids(timeout=Duration.hours(5)) != first


def test_twelve_hours_is_the_limit() -> None:
    long_job(Stack(App(), "Twelve"), timeout=Duration.hours(12))
    with pytest.raises(InvalidHarvestJob, match=r"timeout \(Timeout\) must be 60 to 43200 seconds"):
        long_job(Stack(App(), "Thirteen"), timeout=Duration.hours(13))


def test_v1_jobs_have_no_long_wait_mode() -> None:
    with pytest.raises(InvalidV1HarvestJob, match=r"timeout \(Timeout\) must be 60 to 3600 seconds"):
        MediaPackageV1HarvestJob(
            Stack(App(), "V1"),
            "Clip",
            origin_endpoint_id="hls",
            start_time=START,
            end_time=START + timedelta(minutes=30),
            destination_bucket="harvest-bucket",
            manifest_key="clips/index.m3u8",
            timeout=Duration.hours(2),
        )


def test_cfn_lint_finds_nothing_in_a_long_wait_stack() -> None:
    matches = lint(json.dumps(template_of(tags={"team": "media"})), regions=["us-east-1", "eu-west-1"])
    assert [str(m) for m in matches] == []


def test_cdk_nag_finds_nothing_unacknowledged_in_a_long_wait_stack(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "LongNag")
    long_job(stack)
    long_job(stack, "Second", destination_path="clips/2/", timeout=Duration.minutes(30))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()
    report = tmp_path / "validation-report.json"
    plugins = json.loads(report.read_text()).get("pluginReports", []) if report.exists() else []
    assert [v for plugin in plugins for v in plugin.get("violations", [])] == []


def test_the_result_resource_is_matched_by_its_type() -> None:
    Template.from_json(template_of()).resource_count_is(spec.RESULT_RESOURCE_TYPE, 1)
    Template.from_json(template_of()).has_resource(CONDITION, Match.object_like({"DependsOn": Match.any_value()}))
