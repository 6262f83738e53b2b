"""The long-wait mode's own guarantee: a job is never answered SUCCESS without a watch to signal its wait
condition. When EventBridge refuses the watch rule, the Create fails naming the job and the cause, and the
rollback cancels the job (else the stack would wait hours for a signal that never comes). The result resource
waits long enough for an answer whose first try failed to land on a later poll."""

from __future__ import annotations

from typing import Any

from mediapackage_harvest.contract import spec
from mediapackage_harvest.rehearsal.cloudformation import Request, StackResult
from mediapackage_harvest.rehearsal.scenario import Fault
from tests.reliability.faults import FaultRehearsal
from tests.reliability.helpers import REHEARSAL_START, Stacks, answers


def test_a_watch_that_cannot_be_set_up_fails_the_create_and_the_rollback_cancels_the_job(stacks: Stacks) -> None:
    template = stacks.template("LongWait")
    refused = Fault("PutRule", "InternalException")
    with FaultRehearsal(start=REHEARSAL_START, eventbridge_faults=[refused]) as rehearsal:
        result = rehearsal.deploy(template)
        rehearsal.settle(600)
        (job,) = rehearsal.emulator.jobs()

        assert result.status == "ROLLBACK_COMPLETE"
        (create,) = [r for r in result.requests if r.request_type == "Create" and r.event.get("ResponseURL")]
        assert create.response is not None and create.response["PhysicalResourceId"] == job["Arn"]
        name = job["HarvestJobName"]
        assert create.reason.startswith(f"Harvest job {name}: could not watch the job for its wait condition")
        assert "PutRule failed" in create.reason and "InternalException" in create.reason
        assert job["Status"] == "CANCELLED"  # by the rollback's Delete
        assert all(len(bodies) == 1 for bodies in answers(rehearsal).values() if bodies)
        assert rehearsal.eventbridge_rules() == []


PUTS_PER_TRY = 9  # an invocation's answer PUTs within ANSWER_TRY_SECONDS (backoff 1, 2, 4, then 8 s)


class ResultAnswerFirstTryFails(FaultRehearsal):
    """Every PUT of the result resource's Create answer's first try gets a 503 (S3 now and then): the answer is
    left on a rule for the next poll, a poll period later."""

    def _response_faults(self, event: dict[str, Any]) -> None:
        super()._response_faults(event)
        if event.get("ResourceType") == spec.RESULT_RESOURCE_TYPE and event.get("RequestType") == "Create":
            self.endpoint.fail_next(str(event["RequestId"]), times=PUTS_PER_TRY, status=503)


def result_request(result: StackResult) -> Request:
    (request,) = [
        r
        for r in result.requests
        if r.event.get("ResourceType") == spec.RESULT_RESOURCE_TYPE and r.request_type == "Create"
    ]
    return request


def test_a_result_answer_whose_first_try_fails_lands_on_the_next_poll_within_the_service_timeout(
    stacks: Stacks,
) -> None:
    template = stacks.template("LongWait")
    with ResultAnswerFirstTryFails(start=REHEARSAL_START) as rehearsal:
        created = rehearsal.deploy(template)
        rehearsal.settle(600)
        request = result_request(created)

        assert created.status == "CREATE_COMPLETE"
        assert request.answered_at is not None and not request.timed_out
        took = request.answered_at - request.sent_at
        assert 300 < took < template.service_timeout(request.logical_id)  # past the 300 s CloudFormation gave before
        assert template.service_timeout(request.logical_id) >= 2 * (300 + 50) + 50  # the first try and two more
        assert rehearsal.endpoint.attempts_for(request.request_id) == PUTS_PER_TRY + 1
        assert answers(rehearsal)[request.request_id] == [request.response]
        assert rehearsal.eventbridge_rules() == []


def test_with_a_300_s_service_timeout_the_same_late_answer_would_fail_the_stack(stacks: Stacks) -> None:
    template = stacks.template("LongWait")
    (result_id,) = [rid for rid, r in template.resources.items() if r["Type"] == spec.RESULT_RESOURCE_TYPE]
    template.resources[result_id]["Properties"]["ServiceTimeout"] = "300"  # what the construct declared before
    with ResultAnswerFirstTryFails(start=REHEARSAL_START) as rehearsal:
        created = rehearsal.deploy(template)
        rehearsal.settle(600)

        assert created.status == "ROLLBACK_COMPLETE"
        assert result_request(created).timed_out
