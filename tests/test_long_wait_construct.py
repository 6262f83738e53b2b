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
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import lint

from mediapackage_harvest import Clip, ClipSet, HarvestJob, InvalidHarvestJob, MediaPackageV1HarvestJob
from mediapackage_harvest.contract import spec
from mediapackage_harvest.errors import InvalidV1HarvestJob
from tests.endpoints import origin_endpoint

START = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
RECENT = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=4)  # in a day's startover
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
    # Room for an answer whose PUT failed for a whole try (50 s) to land on a later poll (every 300 s): three tries.
    assert body["Resources"][result]["Properties"]["ServiceTimeout"] == str(3 * (300 + 50))
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


def depends_on(template: Mapping[str, Any], logical_id: str) -> set[str]:
    depends = template["Resources"][logical_id].get("DependsOn", [])
    return {depends} if isinstance(depends, str) else set(depends)


def handle_and_job(template: Mapping[str, Any], prefix: str) -> tuple[str, str]:
    (handle,) = [rid for rid in ids_of(template, HANDLE) if rid.startswith(prefix)]
    (job,) = [rid for rid in ids_of(template, spec.RESOURCE_TYPE) if rid.startswith(prefix)]
    return handle, job


def test_the_handle_waits_for_what_the_job_waits_for_so_its_url_is_fresh_when_the_job_starts() -> None:
    """The handle's pre-signed URL expires a fixed time after its creation: created at the stack operation's start,
    a job behind others would signal an expired URL. Its DependsOn is the job's: the polling permission, the bucket
    policy, the endpoint's policy."""
    stack = Stack(App(), "Fresh")
    endpoint = origin_endpoint(stack, container_type="CMAF")
    long_job(
        stack,
        origin_endpoint=endpoint,
        channel_group_name=None,
        channel_name=None,
        origin_endpoint_name=None,
        destination_bucket=s3.Bucket(stack, "Clips"),
        start_time=RECENT,
        end_time=RECENT + timedelta(hours=3),
    )
    body = Template.from_stack(stack).to_json()
    handle, job = handle_and_job(body, "Clip")

    assert depends_on(body, handle) == depends_on(body, job)
    waited_for = {body["Resources"][rid]["Type"] for rid in depends_on(body, handle)}
    assert waited_for == {
        "AWS::Lambda::Permission",
        "AWS::S3::BucketPolicy",
        "AWS::MediaPackageV2::OriginEndpointPolicy",
    }


def test_a_job_declared_after_another_gets_its_handle_after_the_other_too() -> None:
    """CDK gives a construct's dependencies to every resource under it: the handle's included."""
    stack = Stack(App(), "Behind")
    first = long_job(stack, "First", timeout=Duration.hours(12))
    second = long_job(stack, "Second", destination_path="clips/2/")
    second.node.add_dependency(first)
    body = Template.from_stack(stack).to_json()
    handle, job = handle_and_job(body, "Second")
    (first_result,) = [rid for rid in ids_of(body, spec.RESULT_RESOURCE_TYPE) if rid.startswith("First")]

    assert first_result in depends_on(body, handle)
    assert depends_on(body, handle) == depends_on(body, job)


def test_a_long_clip_gets_its_handle_after_the_clip_before_it_in_its_lane() -> None:
    stack = Stack(App(), "Lane")
    ClipSet(
        stack,
        "Reel",
        clips=[
            Clip(name, START + timedelta(hours=i), START + timedelta(hours=i, minutes=30))
            for i, name in enumerate("abc")
        ],
        channel_group_name="live",
        channel_name="main",
        origin_endpoint_name="hls",
        hls_manifests=["index"],
        destination_bucket="harvest-bucket",
        max_active_jobs=1,
        timeout=Duration.hours(10),
    )
    body = Template.from_stack(stack).to_json()
    results = {rid.removeprefix("Reel")[0]: rid for rid in ids_of(body, spec.RESULT_RESOURCE_TYPE)}
    for clip, before in (("b", "a"), ("c", "b")):
        handle, job = handle_and_job(body, f"Reel{clip}")
        assert results[before] in depends_on(body, handle)
        assert depends_on(body, handle) == depends_on(body, job)


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
