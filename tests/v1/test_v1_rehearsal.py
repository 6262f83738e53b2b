"""MediaPackage v1 jobs deployed by the rehearsal: the bundled handler, the v1 emulator, HTTPS responses.

Each test synthesizes a stack as a user would write it and plays CloudFormation against the handler on the
virtual clock (see ``mediapackage_harvest.rehearsal.harness``). What a user would notice is asserted: the stack
status, the attributes, the reason of a failure, which jobs exist, and that deleting calls MediaPackage not at all.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aws_cdk import aws_mediapackage as mediapackage

from mediapackage_harvest.contract import spec
from mediapackage_harvest.rehearsal.cloudformation import Request, StackResult
from mediapackage_harvest.rehearsal.harness import Rehearsal
from mediapackage_harvest.rehearsal.scenario import Fault, JobScript, Scenario
from mediapackage_harvest.rehearsal.template import Template
from tests.v1.v1_stacks import AFTER, END, GIVEN_ROLE_ARN, mixed_stack, rehearsal_template, v1_stack

JOBS_ARN = "arn:aws:mediapackage:us-east-1:123456789012:harvest_jobs/"


def only(result: StackResult, request_type: str) -> Request:
    (request,) = [r for r in result.requests if r.request_type == request_type]
    return request


def v1_calls_while(rehearsal: Rehearsal, logical_id: str, request_type: str) -> list[str]:
    """The v1 API calls between a request being sent and answered, read off the timeline (which is in order)."""
    entries = rehearsal.timeline.entries
    sent = next(
        i
        for i, e in enumerate(entries)
        if e.source == "cloudformation" and (e.resource, e.what) == (logical_id, f"{request_type} sent")
    )
    answered = next(
        i
        for i, e in enumerate(entries)
        if i > sent and e.source == "cloudformation" and e.resource == logical_id and e.what.startswith(request_type)
    )
    return [e.what for e in entries[sent:answered] if e.source == "mediapackage-v1" and e.what != "status"]


def job_logical_id(template: Template) -> str:
    (logical_id,) = [
        rid for rid in template.harvest_job_ids() if template.resources[rid]["Type"] == spec.V1_RESOURCE_TYPE
    ]
    return logical_id


def test_create_waits_for_success_and_returns_v1_attributes() -> None:
    template = rehearsal_template(v1_stack())
    logical_id = job_logical_id(template)
    with Rehearsal(start=AFTER) as rehearsal:
        result = rehearsal.deploy(template)
        assert result.status == "CREATE_COMPLETE"
        outputs = result.outputs
        assert outputs["Status"] == "SUCCEEDED"
        assert outputs["Arn"] == JOBS_ARN + outputs["JobId"] == result.physical_ids[logical_id]
        assert outputs["JobId"].startswith(f"{logical_id}-")  # derived: <logical id>-<12 hex>
        assert outputs["ChannelId"] == "sports-hls-channel"
        assert outputs["CreatedAt"] == AFTER.isoformat().replace("+00:00", "Z")
        # Answered once the job had succeeded (35 s in the scenario), not at the create.
        assert 35 <= only(result, "Create").answered_at - only(result, "Create").sent_at <= 40  # type: ignore[operator]

        (job,) = rehearsal.emulator_v1.jobs()
        assert job["OriginEndpointId"] == "sports-hls"
        assert (job["StartTime"], job["EndTime"]) == ("2026-01-15T10:00:00+00:00", END.isoformat())
        destination = job["S3Destination"]
        assert destination["ManifestKey"] == "clips/final/index.m3u8"
        assert destination["BucketName"].startswith("rehearsal-clips")  # the stand-in for the stack's bucket
        assert destination["RoleArn"].startswith("arn:aws:iam::123456789012:role/V1Clips-ClipWriterRole")
        assert rehearsal.emulator.calls == []  # nothing went to MediaPackage v2


def test_without_waiting_the_create_answers_as_soon_as_the_job_is_accepted() -> None:
    template = rehearsal_template(v1_stack(wait_for_completion=False))
    with Rehearsal(start=AFTER) as rehearsal:
        result = rehearsal.deploy(template)
        assert result.status == "CREATE_COMPLETE"
        assert result.outputs["Status"] == "IN_PROGRESS"
        assert only(result, "Create").answered_at == only(result, "Create").sent_at
        operations = [call.operation for call in rehearsal.emulator_v1.calls]
        assert operations == ["DescribeOriginEndpoint", "CreateHarvestJob"]  # the preflight, then the create


def test_a_failed_job_fails_the_create_and_the_rollback_calls_nothing() -> None:
    scenario = Scenario(jobs={"Clip*": JobScript(outcome="FAILED")})
    template = rehearsal_template(v1_stack())
    logical_id = job_logical_id(template)
    with Rehearsal(scenario, start=AFTER) as rehearsal:
        result = rehearsal.deploy(template)
        assert result.status == "ROLLBACK_COMPLETE"
        create = only(result, "Create")
        assert create.response is not None
        reason = create.response["Reason"]
        assert "FAILED" in reason
        # DescribeHarvestJob says no reason; the job's notification (which answered) does, and it comes last.
        assert reason.endswith(JobScript(outcome="FAILED").error_message)
        assert len(reason) <= 256
        (job,) = rehearsal.emulator_v1.jobs()
        assert create.response["PhysicalResourceId"] == job["Arn"]  # the rollback's Delete names the job
        delete = only(result, "Delete")
        assert delete.succeeded
        assert v1_calls_while(rehearsal, logical_id, "Delete") == []


def test_a_job_still_running_at_the_deadline_fails_and_is_left_running() -> None:
    scenario = Scenario(jobs={"Clip*": JobScript(in_progress_seconds=3600)})
    template = rehearsal_template(v1_stack(timeout_minutes=1))
    with Rehearsal(scenario, start=AFTER) as rehearsal:
        result = rehearsal.deploy(template)
        assert result.status == "ROLLBACK_COMPLETE"
        reason = only(result, "Create").response["Reason"]  # type: ignore[index]
        assert reason.endswith(
            "did not finish within timeout=Duration.minutes(1), v1 cannot cancel it; "
            "set timeout=Duration.minutes(2) (up to 1 h) or wait_for_completion=False"
        )
        (job,) = rehearsal.emulator_v1.jobs()
        assert job["Status"] == "IN_PROGRESS"
        assert {call.operation for call in rehearsal.emulator_v1.calls} == {
            "DescribeOriginEndpoint",  # the preflight
            "CreateHarvestJob",
            "DescribeHarvestJob",
        }


def test_changing_the_window_replaces_the_job_and_leaves_the_old_one() -> None:
    first = rehearsal_template(v1_stack())
    logical_id = job_logical_id(first)
    with Rehearsal(start=AFTER) as rehearsal:
        created = rehearsal.deploy(first)
        old_arn = created.physical_ids[logical_id]
        updated = rehearsal.deploy(rehearsal_template(v1_stack(end=END - timedelta(minutes=10))))
        assert updated.status == "UPDATE_COMPLETE"
        new_arn = updated.physical_ids[logical_id]
        assert new_arn != old_arn
        assert updated.outputs["Arn"] == new_arn
        assert updated.outputs["Status"] == "SUCCEEDED"
        jobs = {job["Arn"]: job for job in rehearsal.emulator_v1.jobs()}
        assert set(jobs) == {old_arn, new_arn}
        assert jobs[new_arn]["EndTime"] == (END - timedelta(minutes=10)).isoformat()
        # CloudFormation deletes the replaced resource: v1 can neither cancel nor delete, so nothing is called.
        cleanup = only(updated, "Delete")
        assert (cleanup.event["PhysicalResourceId"], cleanup.succeeded) == (old_arn, True)
        assert v1_calls_while(rehearsal, logical_id, "Delete") == []


def test_changing_only_the_timeout_keeps_the_job() -> None:
    with Rehearsal(start=AFTER) as rehearsal:
        created = rehearsal.deploy(rehearsal_template(v1_stack()))
        template = rehearsal_template(v1_stack(timeout_minutes=20))
        logical_id = job_logical_id(template)
        updated = rehearsal.deploy(template)
        assert updated.status == "UPDATE_COMPLETE"
        assert updated.physical_ids == created.physical_ids
        assert updated.outputs == created.outputs
        assert v1_calls_while(rehearsal, logical_id, "Update") == ["DescribeHarvestJob"]
        assert len(rehearsal.emulator_v1.jobs()) == 1


def test_deleting_the_stack_makes_no_call_and_the_job_stays() -> None:
    template = rehearsal_template(v1_stack())
    with Rehearsal(start=AFTER) as rehearsal:
        assert rehearsal.deploy(template).status == "CREATE_COMPLETE"
        calls_before = list(rehearsal.emulator_v1.calls)
        destroyed = rehearsal.destroy()
        assert destroyed.status == "DELETE_COMPLETE"
        assert only(destroyed, "Delete").succeeded
        assert rehearsal.emulator_v1.calls == calls_before
        assert [job["Status"] for job in rehearsal.emulator_v1.jobs()] == ["SUCCEEDED"]


def test_v1_and_v2_jobs_deploy_through_one_handler_function() -> None:
    template = rehearsal_template(mixed_stack())
    with Rehearsal(start=AFTER) as rehearsal:
        result = rehearsal.deploy(template)
        assert result.status == "CREATE_COMPLETE"
        assert len(rehearsal.functions) == 1
        invoked: dict[str, Any] = {}
        for request in result.requests:
            invoked.setdefault(request.event["ServiceToken"], []).append(request.event["ResourceType"])
        assert len(invoked) == 1
        v1_jobs = {job["Id"]: job for job in rehearsal.emulator_v1.jobs()}
        assert len(v1_jobs) == 2
        assert v1_jobs["news-2026-01-15"]["S3Destination"]["RoleArn"] == GIVEN_ROLE_ARN
        assert {job["Status"] for job in v1_jobs.values()} == {"SUCCEEDED"}
        (v2_job,) = rehearsal.emulator.jobs()
        assert v2_job["Status"] == "COMPLETED"

        v1_calls = len(rehearsal.emulator_v1.calls)
        assert rehearsal.destroy().status == "DELETE_COMPLETE"
        assert len(rehearsal.emulator_v1.calls) == v1_calls
        assert rehearsal.figures().rules_left == 0


def test_replacing_a_job_with_a_fixed_id_fails_and_says_which_prop_to_change() -> None:
    """v1 IDs are unique per Region and the old job keeps its Id (it cannot be deleted)."""
    with Rehearsal(start=AFTER) as rehearsal:
        assert rehearsal.deploy(rehearsal_template(mixed_stack())).status == "CREATE_COMPLETE"
        changed = mixed_stack(end=END - timedelta(minutes=10))
        result = rehearsal.deploy(rehearsal_template(changed))
        assert result.status == "UPDATE_ROLLBACK_COMPLETE"
        failed = [r for r in result.requests if r.response and r.response["Status"] == "FAILED"]
        assert len(failed) == 1
        assert failed[0].event["ResourceType"] == spec.V1_RESOURCE_TYPE
        reason = failed[0].response["Reason"]  # type: ignore[index]
        assert "would need its Id, which the old job still holds on Region us-east-1" in reason
        assert reason.endswith("change or remove harvest_job_id")
        assert "news-2026-01-15" in {job["Id"] for job in rehearsal.emulator_v1.jobs()}


def test_throttled_calls_are_retried_and_the_deploy_succeeds() -> None:
    scenario = Scenario(faults=(Fault("CreateHarvestJob", "ThrottlingException", frozenset({1, 2})),))
    with Rehearsal(scenario, start=AFTER) as rehearsal:
        assert rehearsal.deploy(rehearsal_template(v1_stack())).status == "CREATE_COMPLETE"
        creates = [(c.status, c.error_code) for c in rehearsal.emulator_v1.calls if c.operation == "CreateHarvestJob"]
        assert creates == [(429, "TooManyRequestsException"), (429, "TooManyRequestsException"), (200, None)]


def test_a_create_mediapackage_refuses_fails_with_its_message() -> None:
    message = "The startover window of origin endpoint sports-hls does not cover the harvest window"
    scenario = Scenario(faults=(Fault("CreateHarvestJob", "ValidationException", message=message),))
    with Rehearsal(scenario, start=AFTER) as rehearsal:
        result = rehearsal.deploy(rehearsal_template(v1_stack()))
        assert result.status == "ROLLBACK_COMPLETE"
        reason = only(result, "Create").response["Reason"]  # type: ignore[index]
        assert "UnprocessableEntityException" in reason
        assert message in reason
        assert rehearsal.emulator_v1.jobs() == []


def test_a_v1_endpoint_the_first_deploy_creates_holds_nothing_to_harvest() -> None:
    stack = v1_stack()
    mediapackage.CfnOriginEndpoint(
        stack, "Endpoint", id="sports-hls", channel_id="sports", startover_window_seconds=7200
    )
    template = rehearsal_template(stack)
    with Rehearsal(Scenario.from_dict({"stack_endpoints": "new"}), start=AFTER) as rehearsal:
        result = rehearsal.deploy(template)
    assert result.status == "ROLLBACK_COMPLETE"
    reason = only(result, "Create").reason
    assert reason.endswith(
        "CreateHarvestJob failed: UnprocessableEntityException: startTime: origin endpoint sports-hls was created at "
        "2026-01-15T10:35:00Z and holds nothing from before then"
    )
