"""The long-wait mode's own guarantee: a job is never answered SUCCESS without a watch to signal its wait
condition. When EventBridge refuses the watch rule, the Create fails naming the job and the cause, and the
rollback cancels the job (else the stack would wait hours for a signal that never comes)."""

from __future__ import annotations

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
