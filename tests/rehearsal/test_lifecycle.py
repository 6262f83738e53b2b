"""Deploy rehearsals of whole stacks: what CloudFormation hears back, and what MediaPackage is left with.

Each test synthesizes nothing itself (the stacks come from a session fixture), runs the unmodified handler
against the emulator, moto and the HTTPS response endpoint on virtual time, and checks three things a user
would see: the responses (Status, Reason, PhysicalResourceId), the jobs MediaPackage ends with, and that no
EventBridge rule or Lambda permission is left behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config

from mediapackage_harvest.rehearsal.cloudformation import Request, StackResult
from mediapackage_harvest.rehearsal.harness import Rehearsal, default_start
from mediapackage_harvest.rehearsal.scenario import EventDelivery, Fault, JobScript, Scenario, Throttle
from mediapackage_harvest.rehearsal.template import Template
from tests.rehearsal.readings import calls
from tests.rehearsal.stacks import DOZEN, LONG_ID, Synthesized

ACTIVE = {"QUEUED", "IN_PROGRESS"}
TWENTY_MINUTES = 1200.0
FAILURE = "Manifest index is not available on origin endpoint hls"


# Helpers ---------------------------------------------------------------------------------------------------


@contextmanager
def rehearse(template: Template, scenario: Scenario | None = None, **options: Any) -> Iterator[Rehearsal]:
    """A rehearsal starting just after the template's harvest windows; checks it left nothing behind."""
    with Rehearsal(scenario, start=default_start(template), **options) as rehearsal:
        yield rehearsal
        rehearsal.settle()
        assert rehearsal.eventbridge_rules() == []
        for function in rehearsal.functions.values():
            assert rehearsal.lambda_policy_statements(function.name) == []
        assert rehearsal.emulator.internal_errors == []


def one(result: StackResult, request_type: str) -> Request:
    """The operation's only request of ``request_type``."""
    found = [r for r in result.requests if r.request_type == request_type]
    assert len(found) == 1, f"expected one {request_type}, got {[(r.logical_id, r.request_type) for r in found]}"
    return found[0]


def response(request: Request) -> dict[str, Any]:
    assert request.response is not None, f"{request.logical_id} {request.request_type}: no response"
    return request.response


def seconds_to_answer(request: Request) -> float:
    assert request.answered_at is not None
    return request.answered_at - request.sent_at


def jobs_by_name(rehearsal: Rehearsal) -> dict[str, dict[str, Any]]:
    return {job["HarvestJobName"]: job for job in rehearsal.emulator.jobs()}


def only_job(rehearsal: Rehearsal) -> dict[str, Any]:
    jobs = rehearsal.emulator.jobs()
    assert len(jobs) == 1, [job["HarvestJobName"] for job in jobs]
    return jobs[0]


def ended_at(job: dict[str, Any]) -> float:
    """When the job reached its final status, on the rehearsal's clock."""
    modified: datetime = job["ModifiedAt"]
    return modified.timestamp()


# Create ----------------------------------------------------------------------------------------------------


def test_a_job_that_completes_creates_the_stack_and_deleting_it_cancels_nothing(stacks: Synthesized) -> None:
    template = stacks.template("One")
    with rehearse(template) as rehearsal:
        created = rehearsal.deploy(template)
        job = only_job(rehearsal)
        create = one(created, "Create")

        assert created.status == "CREATE_COMPLETE"
        answer = response(create)
        assert answer["Status"] == "SUCCESS"
        assert answer["PhysicalResourceId"] == job["Arn"]
        assert answer["Data"]["Status"] == "COMPLETED"
        assert answer["Data"]["ETag"] == job["ETag"]
        assert job["Status"] == "COMPLETED"
        assert job["HarvestJobName"].startswith(create.logical_id[:48] + "-")
        assert create.answered_at is not None and create.answered_at - ended_at(job) <= 5

        deleted = rehearsal.destroy()
        assert deleted.status == "DELETE_COMPLETE"
        assert response(one(deleted, "Delete"))["Status"] == "SUCCESS"
        assert calls(rehearsal, "CreateHarvestJob") == 1
        assert calls(rehearsal, "CancelHarvestJob") == 0


def test_a_failed_job_fails_the_create_with_the_service_message_and_rolls_back(stacks: Synthesized) -> None:
    template = stacks.template("One")
    scenario = Scenario(default_job=JobScript(outcome="FAILED", error_message=FAILURE))
    with rehearse(template, scenario) as rehearsal:
        created = rehearsal.deploy(template)
        job = only_job(rehearsal)

        assert created.status == "ROLLBACK_COMPLETE"
        answer = response(one(created, "Create"))
        assert answer["Status"] == "FAILED"
        assert answer["Reason"].endswith(FAILURE)
        assert answer["PhysicalResourceId"] == job["Arn"]  # so the rollback's Delete can find the job
        rollback = one(created, "Delete")
        assert rollback.event["PhysicalResourceId"] == job["Arn"]
        assert response(rollback)["Status"] == "SUCCESS"
        assert job["Status"] == "FAILED"
        assert calls(rehearsal, "CancelHarvestJob") == 0


def test_a_job_cancelled_by_someone_else_fails_the_create(stacks: Synthesized) -> None:
    template = stacks.template("One")
    with rehearse(template) as rehearsal:
        operator = boto3.client(
            "mediapackagev2",
            region_name="us-east-1",
            endpoint_url=rehearsal.emulator.url,
            config=Config(retries={"max_attempts": 1}),
        )
        cancelled_at: list[float] = []

        def cancel_from_the_console() -> None:
            job = only_job(rehearsal)
            operator.cancel_harvest_job(
                ChannelGroupName=job["ChannelGroupName"],
                ChannelName=job["ChannelName"],
                OriginEndpointName=job["OriginEndpointName"],
                HarvestJobName=job["HarvestJobName"],
            )
            cancelled_at.append(rehearsal.clock.time())

        rehearsal.clock.call_later(12, cancel_from_the_console)
        created = rehearsal.deploy(template)
        job = only_job(rehearsal)
        create = one(created, "Create")

        assert created.status == "ROLLBACK_COMPLETE"
        answer = response(create)
        assert answer["Status"] == "FAILED"
        assert f"{job['HarvestJobName']} CANCELLED" in answer["Reason"]
        assert answer["PhysicalResourceId"] == job["Arn"]
        assert job["Status"] == "CANCELLED"
        assert create.answered_at is not None and create.answered_at - cancelled_at[0] <= 5
        assert calls(rehearsal, "CancelHarvestJob") == 1  # the operator's; the rollback cancels nothing


def test_a_job_longer_than_the_timeout_is_cancelled_and_answered_before_cloudformation_gives_up(
    stacks: Synthesized,
) -> None:
    template = stacks.template("ShortTimeout")
    scenario = Scenario(default_job=JobScript(in_progress_seconds=TWENTY_MINUTES))
    with rehearse(template, scenario) as rehearsal:
        created = rehearsal.deploy(template)
        job = only_job(rehearsal)
        create = one(created, "Create")

        assert created.status == "ROLLBACK_COMPLETE"
        assert not create.timed_out
        assert 240 <= seconds_to_answer(create) < 300  # the Timeout (and ServiceTimeout) is 5 minutes
        answer = response(create)
        assert answer["Status"] == "FAILED"
        # In the props the user wrote, with a value that would do (the window had ended: a longer wait).
        assert answer["Reason"].endswith(
            ": did not finish within timeout=Duration.minutes(5), cancelled; "
            "set timeout=Duration.minutes(10) (up to 12 h) or wait_for_completion=False"
        )
        assert answer["PhysicalResourceId"] == job["Arn"]
        assert job["Status"] == "CANCELLED"
        assert calls(rehearsal, "CancelHarvestJob") == 1


def test_without_waiting_the_create_is_answered_while_the_job_is_still_running(stacks: Synthesized) -> None:
    template = stacks.template("NoWait")
    with rehearse(template) as rehearsal:
        created = rehearsal.deploy(template)
        job = only_job(rehearsal)
        create = one(created, "Create")

        assert created.status == "CREATE_COMPLETE"
        assert seconds_to_answer(create) < 1
        answer = response(create)
        assert answer["Status"] == "SUCCESS"
        assert answer["PhysicalResourceId"] == job["Arn"]
        assert answer["Data"]["Status"] == "QUEUED"
        assert job["Status"] in ACTIVE
        assert calls(rehearsal, "CreateHarvestJob") == 1
        assert calls(rehearsal, "GetHarvestJob") == 0


def test_deleting_a_job_in_progress_cancels_it(stacks: Synthesized) -> None:
    template = stacks.template("NoWait")
    scenario = Scenario(default_job=JobScript(in_progress_seconds=TWENTY_MINUTES))
    with rehearse(template, scenario) as rehearsal:
        arn = rehearsal.deploy(template).physical_ids[template.harvest_job_ids()[0]]
        rehearsal.advance(60)
        assert only_job(rehearsal)["Status"] == "IN_PROGRESS"

        deleted = rehearsal.destroy()
        assert deleted.status == "DELETE_COMPLETE"
        delete = one(deleted, "Delete")
        assert delete.event["PhysicalResourceId"] == arn
        assert response(delete)["Status"] == "SUCCESS"
        assert response(delete)["PhysicalResourceId"] == arn
        assert only_job(rehearsal)["Status"] == "CANCELLED"
        assert calls(rehearsal, "CreateHarvestJob") == 1
        assert calls(rehearsal, "CancelHarvestJob") == 1


# Update ----------------------------------------------------------------------------------------------------


def test_changing_only_tags_updates_the_job_in_place(stacks: Synthesized) -> None:
    first, second = stacks.template("Tagged"), stacks.template("Tagged", updated=True)
    with rehearse(first) as rehearsal:
        arn = rehearsal.deploy(first).physical_ids[first.harvest_job_ids()[0]]
        assert only_job(rehearsal)["Tags"] == {"team": "media", "tier": "gold"}

        updated = rehearsal.deploy(second)
        assert updated.status == "UPDATE_COMPLETE"
        assert [r.request_type for r in updated.requests] == ["Update"]
        answer = response(one(updated, "Update"))
        assert answer["Status"] == "SUCCESS"
        assert answer["PhysicalResourceId"] == arn
        job = only_job(rehearsal)
        assert job["Tags"] == {"team": "video", "cost-centre": "42"}
        assert answer["Data"]["ETag"] == job["ETag"]
        assert calls(rehearsal, "CreateHarvestJob") == 1
        assert calls(rehearsal, "TagResource") == 1
        assert calls(rehearsal, "UntagResource") == 1


def test_a_property_change_replaces_the_job_and_cancels_the_old_one_still_running(stacks: Synthesized) -> None:
    first, second = stacks.template("Replace"), stacks.template("Replace", updated=True)
    scenario = Scenario(default_job=JobScript(in_progress_seconds=TWENTY_MINUTES))
    with rehearse(first, scenario) as rehearsal:
        old_arn = rehearsal.deploy(first).physical_ids[first.harvest_job_ids()[0]]
        rehearsal.advance(60)
        assert rehearsal.emulator.job(old_arn)["Status"] == "IN_PROGRESS"

        updated = rehearsal.deploy(second)
        assert updated.status == "UPDATE_COMPLETE"
        assert [r.request_type for r in updated.requests] == ["Update", "Delete"]
        answer = response(one(updated, "Update"))
        assert answer["Status"] == "SUCCESS"
        new_arn = answer["PhysicalResourceId"]
        assert new_arn != old_arn
        cleanup = one(updated, "Delete")
        assert cleanup.event["PhysicalResourceId"] == old_arn
        assert response(cleanup)["Status"] == "SUCCESS"

        assert len(rehearsal.emulator.jobs()) == 2
        assert rehearsal.emulator.job(old_arn)["Status"] == "CANCELLED"
        new_job = rehearsal.emulator.job(new_arn)
        assert new_job["Status"] in ACTIVE
        assert new_job["Destination"]["S3Destination"]["DestinationPath"] == "clips/again/"
        assert calls(rehearsal, "CreateHarvestJob") == 2
        assert calls(rehearsal, "CancelHarvestJob") == 1


def test_a_failed_update_rolls_back_to_the_old_jobs_and_cancels_the_new_one(stacks: Synthesized) -> None:
    first, second = stacks.template("Pair"), stacks.template("Pair", updated=True)
    scenario = Scenario(
        jobs={
            "first-2": JobScript(in_progress_seconds=TWENTY_MINUTES),
            "second-2": JobScript(outcome="FAILED", error_message=FAILURE),
        }
    )
    with rehearse(first, scenario) as rehearsal:
        before = rehearsal.deploy(first)
        assert before.status == "CREATE_COMPLETE"

        updated = rehearsal.deploy(second)
        first_id, second_id = first.harvest_job_ids()
        assert updated.status == "UPDATE_ROLLBACK_COMPLETE"
        assert updated.physical_ids == before.physical_ids
        failed = [r for r in updated.requests if not r.succeeded]
        assert [(r.logical_id, r.request_type) for r in failed] == [(second_id, "Update")]
        assert response(failed[0])["Reason"].endswith(FAILURE)
        assert response(failed[0])["PhysicalResourceId"] == before.physical_ids[second_id]
        rollback = [r for r in updated.requests if r.sent_at >= (failed[0].answered_at or 0)]
        assert {(r.logical_id, r.request_type) for r in rollback} == {(first_id, "Delete"), (second_id, "Update")}
        assert all(r.succeeded for r in rollback)

        jobs = jobs_by_name(rehearsal)
        assert {name: job["Status"] for name, job in jobs.items()} == {
            "first-1": "COMPLETED",
            "second-1": "COMPLETED",
            "first-2": "CANCELLED",
            "second-2": "FAILED",
        }
        assert calls(rehearsal, "CreateHarvestJob") == 4
        assert calls(rehearsal, "CancelHarvestJob") == 1


# Delivery and scale ----------------------------------------------------------------------------------------


def test_a_create_delivered_twice_makes_one_job(stacks: Synthesized) -> None:
    template = stacks.template("One")
    with rehearse(template, duplicate_deliveries={"Create": 1.0}) as rehearsal:
        created = rehearsal.deploy(template)
        job = only_job(rehearsal)
        create = one(created, "Create")

        assert created.status == "CREATE_COMPLETE"
        rehearsal.settle()  # the second delivery is still watching the job when CloudFormation moves on
        bodies = rehearsal.endpoint.responses_for(create.request_id)
        # Both deliveries hand over to the one rule named after their one job: the job's event answers once.
        assert [(b["Status"], b["PhysicalResourceId"]) for b in bodies] == [("SUCCESS", job["Arn"])]
        assert calls(rehearsal, "CreateHarvestJob") == 2  # the same ClientToken: the service's idempotency
        assert job["Status"] == "COMPLETED"


def test_a_create_delivered_again_later_keeps_the_first_deliverys_deadline(stacks: Synthesized) -> None:
    """The copy starts 100 s late, but CloudFormation's Timeout began with the first delivery."""
    template = stacks.template("ShortTimeout")
    scenario = Scenario(default_job=JobScript(in_progress_seconds=TWENTY_MINUTES))
    with rehearse(template, scenario, duplicate_deliveries={"Create": 100.0}) as rehearsal:
        created = rehearsal.deploy(template)
        job = only_job(rehearsal)
        create = one(created, "Create")

        assert created.status == "ROLLBACK_COMPLETE"
        assert not create.timed_out
        assert seconds_to_answer(create) < 300
        answer = response(create)
        assert "did not finish within timeout=Duration.minutes(5), cancelled" in answer["Reason"]
        assert answer["PhysicalResourceId"] == job["Arn"]
        assert job["Status"] == "CANCELLED"
        assert calls(rehearsal, "CreateHarvestJob") == 2
        assert calls(rehearsal, "CancelHarvestJob") == 1


def test_a_200_character_logical_id_gets_short_rule_and_job_names(stacks: Synthesized) -> None:
    template = stacks.template("LongId")
    scenario = Scenario(default_job=JobScript(in_progress_seconds=TWENTY_MINUTES))
    with rehearse(template, scenario) as rehearsal:
        created = rehearsal.deploy(template)
        job = only_job(rehearsal)
        (logical_id,) = template.harvest_job_ids()

        assert logical_id.startswith(LONG_ID) and len(logical_id) >= 200
        assert created.status == "CREATE_COMPLETE"
        assert response(one(created, "Create"))["PhysicalResourceId"] == job["Arn"]
        rules = [e.resource for e in rehearsal.timeline.where("eventbridge", "rule created")]
        assert rules, "the 20-minute job was never handed over to EventBridge polling"
        assert all(len(rule) <= 64 for rule in rules)
        assert len(job["HarvestJobName"]) <= 64
        assert job["HarvestJobName"].startswith(logical_id[:48])
        assert job["Status"] == "COMPLETED"
        assert calls(rehearsal, "CreateHarvestJob") == 1


def test_a_dozen_jobs_against_a_quota_of_ten_and_throttling_all_complete(stacks: Synthesized) -> None:
    template = stacks.template("Dozen")
    scenario = Scenario(
        active_jobs_quota=10,
        throttle=Throttle(max_calls=5, per_seconds=1.0),
        faults=(Fault("GetHarvestJob", "InternalServerException", frozenset({1}), job_name="Clip*"),),
    )
    with rehearse(template, scenario) as rehearsal:
        created = rehearsal.deploy(template)

        assert created.status == "CREATE_COMPLETE"
        creates = [r for r in created.requests if r.request_type == "Create"]
        assert len(creates) == DOZEN
        assert all(response(r)["Status"] == "SUCCESS" for r in creates)
        jobs = rehearsal.emulator.jobs()
        assert len(jobs) == DOZEN
        assert {job["Status"] for job in jobs} == {"COMPLETED"}
        assert {response(r)["PhysicalResourceId"] for r in creates} == {job["Arn"] for job in jobs}
        assert calls(rehearsal, "CreateHarvestJob", "ServiceQuotaExceededException") >= DOZEN - 10
        assert calls(rehearsal, "GetHarvestJob", "ThrottlingException") > 0
        assert sum(c.operation == "CreateHarvestJob" and c.status == 200 for c in rehearsal.emulator.calls) == DOZEN
        assert calls(rehearsal, "CancelHarvestJob") == 0


def test_a_twenty_minute_job_is_answered_by_its_event_and_polled_every_five_minutes(stacks: Synthesized) -> None:
    template = stacks.template("One")
    scenario = Scenario(default_job=JobScript(queued_seconds=5, in_progress_seconds=TWENTY_MINUTES - 5))
    with rehearse(template, scenario) as rehearsal:
        created = rehearsal.deploy(template)
        job = only_job(rehearsal)
        create = one(created, "Create")

        assert created.status == "CREATE_COMPLETE"
        assert response(create)["Status"] == "SUCCESS"
        assert job["Status"] == "COMPLETED"
        assert rehearsal.figures().eventbridge_polls == 3  # at 5, 10 and 15 minutes: the fallback
        assert calls(rehearsal, "GetHarvestJob") <= 10
        assert create.answered_at is not None
        assert 0 <= create.answered_at - ended_at(job) <= 5
        assert calls(rehearsal, "CreateHarvestJob") == 1


def test_a_twenty_minute_job_whose_events_are_lost_is_answered_by_a_poll(stacks: Synthesized) -> None:
    template = stacks.template("One")
    scenario = Scenario(
        default_job=JobScript(queued_seconds=5, in_progress_seconds=TWENTY_MINUTES - 5), events=EventDelivery(loss=1.0)
    )
    with rehearse(template, scenario) as rehearsal:
        created = rehearsal.deploy(template)
        job = only_job(rehearsal)
        create = one(created, "Create")

        assert response(create)["Status"] == "SUCCESS"
        assert rehearsal.event_bus.lost >= 3 and rehearsal.event_bus.delivered == 0
        assert create.answered_at is not None
        assert 0 <= create.answered_at - ended_at(job) <= 300
        assert calls(rehearsal, "GetHarvestJob") <= 10


def test_the_leftover_checks_see_a_rule_and_a_permission_a_careless_handler_would_leave(
    stacks: Synthesized,
) -> None:
    """The checks every rehearsal above ends with can fail; and the next rehearsal starts without the leftovers."""
    template = stacks.template("NoWait")
    with Rehearsal(start=default_start(template)) as rehearsal:
        rehearsal.deploy(template)
        (function,) = rehearsal.functions.values()
        rule = rehearsal.events.put_rule(Name="hj-careless-rule", ScheduleExpression="rate(1 minute)")
        rehearsal.lambda_.add_permission(
            FunctionName=function.name,
            StatementId="per-rule",
            Action="lambda:InvokeFunction",
            Principal="events.amazonaws.com",
            SourceArn=rule["RuleArn"],
        )
        assert rehearsal.eventbridge_rules() == ["hj-careless-rule"]
        assert [s["Sid"] for s in rehearsal.lambda_policy_statements(function.name)] == ["per-rule"]
    with Rehearsal(start=default_start(template)) as rehearsal:
        assert rehearsal.eventbridge_rules() == []


# Determinism -----------------------------------------------------------------------------------------------


def test_the_same_rehearsal_twice_gives_the_same_timeline(stacks: Synthesized) -> None:
    """Throttling makes botocore back off with random jitter: the rehearsal must still replay exactly."""
    scenario = Scenario(throttle=Throttle(max_calls=1, per_seconds=3.0))
    timelines = []
    for _ in range(2):
        template = stacks.template("Pair")
        with rehearse(template, scenario) as rehearsal:
            assert rehearsal.deploy(template).status == "CREATE_COMPLETE"
            assert calls(rehearsal, "GetHarvestJob", "ThrottlingException") > 0
            timelines.append(rehearsal.timeline.to_json())
    assert timelines[0] == timelines[1]
