"""Long-wait mode rehearsed end to end: a ``timeout`` over one hour waits on an ``AWS::CloudFormation::WaitCondition``
that the handler signals (a real HTTPS PUT to the handle's pre-signed URL) when the job ends.

The stacks (tests/rehearsal/stacks.py) hold one ``HarvestJob`` with Arn and ETag outputs. ``RealTime`` harvests a
three-hour window that is still running at deploy time (the emulator keeps such a job IN_PROGRESS until its
EndTime), with ``timeout=Duration.hours(4)``; ``RealTimeShort`` is the same window with two hours.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aws_cdk import App, Duration, Stack

from mediapackage_harvest import InvalidHarvestJob
from mediapackage_harvest.contract import spec
from mediapackage_harvest.rehearsal.cfn_endpoint import HANDLE_URL_EXPIRES_SECONDS
from mediapackage_harvest.rehearsal.cloudformation import Request
from mediapackage_harvest.rehearsal.harness import Rehearsal, default_start
from mediapackage_harvest.rehearsal.lambda_runtime import handler_module
from mediapackage_harvest.rehearsal.scenario import Fault, JobScript, Scenario
from mediapackage_harvest.rehearsal.template import WAIT_CONDITION_TYPE, WAIT_HANDLE_TYPE, Template
from tests.rehearsal.readings import calls, of_type
from tests.rehearsal.stacks import LONG_LANE, REAL_TIME_END, REAL_TIME_START, Synthesized, job

FAILURE = "Manifest index is not available on origin endpoint hls"
DEPLOYED_AT = REAL_TIME_START + timedelta(minutes=10)  # the window has started, and ends three hours later


@contextmanager
def rehearse(
    template: Template, scenario: Scenario | None = None, start: datetime | None = None
) -> Iterator[Rehearsal]:
    """A rehearsal that must leave no rule, permission or emulator error behind."""
    with Rehearsal(scenario, start=start or default_start(template)) as rehearsal:
        yield rehearsal
        rehearsal.settle()
        assert rehearsal.eventbridge_rules() == []
        for function in rehearsal.functions.values():
            assert rehearsal.lambda_policy_statements(function.name) == []
        assert rehearsal.emulator.internal_errors == []


def the(requests: list[Request]) -> Request:
    assert len(requests) == 1, [(r.logical_id, r.request_type) for r in requests]
    return requests[0]


def only_job(rehearsal: Rehearsal) -> dict[str, Any]:
    (found,) = rehearsal.emulator.jobs()
    return found


def ended_at(found: dict[str, Any]) -> float:
    modified: datetime = found["ModifiedAt"]
    return modified.timestamp()


def test_a_three_hour_real_time_harvest_deploys_with_its_arn_and_etag(stacks: Synthesized) -> None:
    template = stacks.template("RealTime")
    with rehearse(template, start=DEPLOYED_AT) as rehearsal:
        created = rehearsal.deploy(template)
        found = only_job(rehearsal)

        assert created.status == "CREATE_COMPLETE"
        assert found["Status"] == "COMPLETED"
        assert ended_at(found) >= REAL_TIME_END.timestamp()  # IN_PROGRESS until the window's end
        assert created.outputs == {"Arn": found["Arn"], "ETag": found["ETag"]}
        order = [template.resources[r.logical_id]["Type"] for r in created.requests]
        assert order == [WAIT_HANDLE_TYPE, spec.RESOURCE_TYPE, WAIT_CONDITION_TYPE, spec.RESULT_RESOURCE_TYPE]

        job_request = the(of_type(created, template, spec.RESOURCE_TYPE, "Create"))
        assert job_request.answered_at is not None and job_request.answered_at - job_request.sent_at < 5
        assert job_request.response is not None
        assert "SignalUrl" not in json.dumps(job_request.response) and "https://" not in json.dumps(
            job_request.response
        )
        condition = the(of_type(created, template, WAIT_CONDITION_TYPE, "Create"))
        assert condition.answered_at is not None
        assert condition.answered_at - job_request.sent_at > 3 * 3600 - 600  # waited past CloudFormation's hour
        assert condition.answered_at - ended_at(found) <= handler_module("rules").POLL_PERIOD_SECONDS + 5
        assert json.loads(condition.response["Data"]["Data"]) == {found["HarvestJobName"]: "COMPLETED"}  # type: ignore[index]

        deleted = rehearsal.destroy()
        assert deleted.status == "DELETE_COMPLETE"
        assert [template.resources[r.logical_id]["Type"] for r in deleted.requests] == list(reversed(order))
        assert calls(rehearsal, "CancelHarvestJob") == 0


def test_a_long_job_that_fails_fails_the_stack_with_the_service_message(stacks: Synthesized) -> None:
    template = stacks.template("RealTime")
    scenario = Scenario(default_job=JobScript(outcome="FAILED", error_message=FAILURE))
    with rehearse(template, scenario, start=DEPLOYED_AT) as rehearsal:
        created = rehearsal.deploy(template)
        found = only_job(rehearsal)

        assert created.status == "ROLLBACK_COMPLETE"
        condition = the(of_type(created, template, WAIT_CONDITION_TYPE, "Create"))
        assert not condition.timed_out
        assert FAILURE in condition.reason and f"{found['HarvestJobName']} FAILED" in condition.reason
        assert of_type(created, template, spec.RESULT_RESOURCE_TYPE, "Create") == []
        rollback = the(of_type(created, template, spec.RESOURCE_TYPE, "Delete"))
        assert rollback.event["PhysicalResourceId"] == found["Arn"] and rollback.succeeded
        assert found["Status"] == "FAILED"
        assert calls(rehearsal, "CancelHarvestJob") == 0


def test_a_long_job_past_its_timeout_is_cancelled_and_the_stack_rolled_back(stacks: Synthesized) -> None:
    template = stacks.template("RealTimeShort")  # two hours for a three-hour window
    with rehearse(template, start=DEPLOYED_AT) as rehearsal:
        created = rehearsal.deploy(template)
        found = only_job(rehearsal)

        assert created.status == "ROLLBACK_COMPLETE"
        condition = the(of_type(created, template, WAIT_CONDITION_TYPE, "Create"))
        assert not condition.timed_out  # the handler's own deadline came first
        assert (
            "did not finish within timeout=Duration.hours(2), cancelled; set timeout=Duration.hours(4) (up to 12 h) "
            "or wait_for_completion=False'"
        ) in condition.reason
        assert found["Status"] == "CANCELLED"
        assert calls(rehearsal, "CancelHarvestJob") == 1


def test_when_no_signal_comes_the_rollback_cancels_the_running_job(stacks: Synthesized) -> None:
    """The watch rule removed by someone: the condition times out, and the rollback's Delete cancels the job."""
    template = stacks.template("RealTimeShort")
    with rehearse(template, start=DEPLOYED_AT) as rehearsal:

        def remove_every_rule() -> None:
            for name in rehearsal.eventbridge_rules():
                rehearsal.events.remove_targets(Rule=name, Ids=["1"])
                rehearsal.events.delete_rule(Name=name)

        rehearsal.clock.call_later(600, remove_every_rule)
        created = rehearsal.deploy(template)
        found = only_job(rehearsal)

        assert created.status == "ROLLBACK_COMPLETE"
        assert the(of_type(created, template, WAIT_CONDITION_TYPE, "Create")).timed_out
        assert the(of_type(created, template, spec.RESOURCE_TYPE, "Delete")).succeeded
        assert found["Status"] == "CANCELLED"
        assert calls(rehearsal, "CancelHarvestJob") == 1


def test_when_the_job_cannot_be_read_the_rollback_removes_the_watch_and_cancels_the_job(stacks: Synthesized) -> None:
    """Every GetHarvestJob fails: the watch keeps its rule and never signals, the condition times out, and the
    rollback's Delete of the job removes the watch rule and cancels the job it cannot read."""
    template = stacks.template("RealTimeShort")
    scenario = Scenario(faults=(Fault("GetHarvestJob", "InternalServerException"),))
    with rehearse(template, scenario, start=DEPLOYED_AT) as rehearsal:
        created = rehearsal.deploy(template)
        found = only_job(rehearsal)

        assert created.status == "ROLLBACK_COMPLETE"
        assert the(of_type(created, template, WAIT_CONDITION_TYPE, "Create")).timed_out
        assert the(of_type(created, template, spec.RESOURCE_TYPE, "Delete")).succeeded
        assert rehearsal.eventbridge_rules() == []  # removed by the Delete, not by a signal
        assert found["Status"] == "CANCELLED"


def test_a_replacing_change_creates_a_new_job_and_waits_again(stacks: Synthesized) -> None:
    template = stacks.template("LongReplace")
    with rehearse(template) as rehearsal:
        first = rehearsal.deploy(template)
        assert first.status == "CREATE_COMPLETE"
        (old,) = rehearsal.emulator.jobs()

        updated = stacks.template("LongReplace", updated=True)
        second = rehearsal.deploy(updated)
        new = next(j for j in rehearsal.emulator.jobs() if j["Arn"] != old["Arn"])

        assert second.status == "UPDATE_COMPLETE"
        assert second.outputs == {"Arn": new["Arn"], "ETag": new["ETag"]}
        assert new["Status"] == "COMPLETED" and new["Destination"]["S3Destination"]["DestinationPath"] == "clips/again/"
        waited = the(of_type(second, updated, WAIT_CONDITION_TYPE, "Create"))
        assert waited.succeeded and waited.logical_id not in template.resources  # a new condition
        deleted = {template.resources[r.logical_id]["Type"] for r in second.requests if r.request_type == "Delete"}
        assert deleted == {WAIT_HANDLE_TYPE, WAIT_CONDITION_TYPE, spec.RESOURCE_TYPE, spec.RESULT_RESOURCE_TYPE}
        assert calls(rehearsal, "CreateHarvestJob") == 2
        assert calls(rehearsal, "CancelHarvestJob") == 0  # the old job had completed

        assert rehearsal.destroy().status == "DELETE_COMPLETE"


def test_a_tags_change_updates_the_job_in_place_and_the_outputs_follow(stacks: Synthesized) -> None:
    template = stacks.template("LongRetag")
    with rehearse(template) as rehearsal:
        assert rehearsal.deploy(template).status == "CREATE_COMPLETE"
        before = only_job(rehearsal)

        updated = rehearsal.deploy(stacks.template("LongRetag", updated=True))
        after = only_job(rehearsal)

        assert updated.status == "UPDATE_COMPLETE"
        assert after["Arn"] == before["Arn"] and after["Tags"] == {"team": "video"}
        assert updated.outputs == {"Arn": after["Arn"], "ETag": after["ETag"]}
        assert {r.request_type for r in updated.requests} == {"Update"}  # the condition is not waited on again
        assert calls(rehearsal, "CreateHarvestJob") == 1

        assert rehearsal.destroy().status == "DELETE_COMPLETE"


def test_a_timeout_over_twelve_hours_is_refused_at_synth_naming_timeout() -> None:
    with pytest.raises(InvalidHarvestJob, match=r"timeout \(Timeout\) must be 60 to 43200 seconds, got 43260"):
        job(Stack(App(), "TooLong"), "Clip", timeout=Duration.minutes(721))


def test_a_timeout_over_twelve_hours_is_refused_by_the_handler(stacks: Synthesized) -> None:
    template = stacks.template("RealTime")
    (job_id,) = template.harvest_job_ids()
    template.resources[job_id]["Properties"]["Timeout"] = "43201"
    with rehearse(template, start=DEPLOYED_AT) as rehearsal:
        created = rehearsal.deploy(template)

        assert created.status == "ROLLBACK_COMPLETE"
        reason = the(of_type(created, template, spec.RESOURCE_TYPE, "Create")).reason
        assert reason.startswith("Invalid properties (Timeout): Timeout must be 60 to 43200 seconds, got 43201")
        assert rehearsal.emulator.calls == []


def test_a_new_timeout_waits_on_a_new_condition_that_the_kept_job_signals_at_once(stacks: Synthesized) -> None:
    template = stacks.template("LongRetime")
    with rehearse(template) as rehearsal:
        assert rehearsal.deploy(template).status == "CREATE_COMPLETE"
        found = only_job(rehearsal)

        updated = stacks.template("LongRetime", updated=True)  # three hours instead of two
        second = rehearsal.deploy(updated)

        assert second.status == "UPDATE_COMPLETE"
        job_update = the(of_type(second, updated, spec.RESOURCE_TYPE, "Update"))
        assert job_update.response is not None and job_update.response["PhysicalResourceId"] == found["Arn"]
        waited = the(of_type(second, updated, WAIT_CONDITION_TYPE, "Create"))
        assert waited.succeeded and waited.answered_at is not None and waited.answered_at - waited.sent_at < 5
        assert updated.resources[waited.logical_id]["Properties"]["Timeout"] == "10800"
        assert second.outputs == {"Arn": found["Arn"], "ETag": only_job(rehearsal)["ETag"]}
        assert calls(rehearsal, "CreateHarvestJob") == 1

        assert rehearsal.destroy().status == "DELETE_COMPLETE"


def test_a_long_job_created_after_quota_retries_is_still_watched_and_signalled(stacks: Synthesized) -> None:
    """ServiceQuotaExceeded for the first 20 creates: the request goes to crhelper's polling, a later poll creates
    the job, answers, and the job's watch signals the condition once it completes."""
    template = stacks.template("RealTime")
    quota = Fault("CreateHarvestJob", "ServiceQuotaExceededException", attempts=frozenset(range(1, 21)))
    with rehearse(template, Scenario(faults=(quota,)), start=DEPLOYED_AT) as rehearsal:
        created = rehearsal.deploy(template)
        found = only_job(rehearsal)

        assert created.status == "CREATE_COMPLETE"
        job_request = the(of_type(created, template, spec.RESOURCE_TYPE, "Create"))
        assert job_request.answered_at is not None and job_request.answered_at - job_request.sent_at > 120
        assert created.outputs == {"Arn": found["Arn"], "ETag": found["ETag"]}
        assert found["Status"] == "COMPLETED" and ended_at(found) >= REAL_TIME_END.timestamp()


# The handle's URL is fresh ------------------------------------------------------------------------------------------

NINE_HOURS = JobScript(queued_seconds=5, in_progress_seconds=9 * 3600)


def by_clip(requests: list[Request]) -> dict[str, Request]:
    """A ClipSet's requests by clip name (``Lane<name>...`` logical ids)."""
    return {next(n for n in LONG_LANE if r.logical_id.startswith(f"Lane{n}")): r for r in requests}


def minted_at(url: str) -> float:
    date = parse_qs(urlsplit(url).query)["X-Amz-Date"][0]
    return datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()


def test_a_long_clip_behind_two_others_signals_a_url_minted_as_it_started(stacks: Synthesized) -> None:
    """Three 9-hour clips in one lane: the third ends ~27 h after the stack operation started, past the 86399 s a
    handle's URL is valid for. Each handle is created with its job, so each URL is fresh and every signal lands."""
    template = stacks.template("LongLane")
    with rehearse(template, Scenario(default_job=NINE_HOURS)) as rehearsal:
        started = rehearsal.clock.time()
        created = rehearsal.deploy(template)

        assert created.status == "CREATE_COMPLETE"
        assert [found["Status"] for found in rehearsal.emulator.jobs()] == ["COMPLETED"] * 3
        handles = by_clip(of_type(created, template, WAIT_HANDLE_TYPE, "Create"))
        jobs = by_clip(of_type(created, template, spec.RESOURCE_TYPE, "Create"))
        results = by_clip(of_type(created, template, spec.RESULT_RESOURCE_TYPE, "Create"))
        conditions = by_clip(of_type(created, template, WAIT_CONDITION_TYPE, "Create"))
        for clip in LONG_LANE:
            assert handles[clip].sent_at == jobs[clip].sent_at  # created together, as the job starts
            created_handle = handles[clip].response
            assert created_handle is not None
            assert minted_at(created_handle["PhysicalResourceId"]) == int(handles[clip].sent_at)
        assert handles["third"].sent_at >= results["second"].answered_at  # type: ignore[operator]
        signalled = conditions["third"].answered_at
        assert signalled is not None and signalled - started > HANDLE_URL_EXPIRES_SECONDS
        assert rehearsal.endpoint.refusals == []


def test_handles_created_as_the_stack_operation_starts_refuse_the_late_clips_signal(stacks: Synthesized) -> None:
    """The same stack with handles that depend on nothing (as declared before): CloudFormation creates them all at
    the start, so the third clip's signal, ~27 h later, is refused (403 "Request has expired"); its condition times
    out and the stack rolls back."""
    template = stacks.template("LongLane")
    for resource in template.resources.values():
        if resource["Type"] == WAIT_HANDLE_TYPE:
            resource.pop("DependsOn", None)
    with rehearse(template, Scenario(default_job=NINE_HOURS)) as rehearsal:
        started = rehearsal.clock.time()
        created = rehearsal.deploy(template)

        assert created.status == "ROLLBACK_COMPLETE"
        handles = by_clip(of_type(created, template, WAIT_HANDLE_TYPE, "Create"))
        assert {request.sent_at for request in handles.values()} == {started}
        conditions = by_clip(of_type(created, template, WAIT_CONDITION_TYPE, "Create"))
        assert conditions["first"].succeeded and conditions["second"].succeeded
        assert conditions["third"].timed_out
        third_job = next(
            j
            for j in rehearsal.emulator.jobs()
            if j["Status"] == "COMPLETED" and ended_at(j) > started + HANDLE_URL_EXPIRES_SECONDS
        )
        refused = rehearsal.endpoint.refusals
        assert refused and {r.code for r in refused} == {"AccessDenied"}
        assert refused[0].at == ended_at(third_job)  # its end's signal: the first one refused
        assert len({r.url_id for r in refused}) == 1
