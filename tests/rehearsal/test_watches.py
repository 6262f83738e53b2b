"""Watches and polls end with their request and trust nothing but their own rule (issue 17, points 1 to 4).

Rehearsed end to end: the unmodified handler against the MediaPackage emulator, moto's EventBridge behind the
rehearsal's judging front, and every CloudFormation answer and wait-condition signal a real HTTPS PUT.
"""

from __future__ import annotations

import json
import ssl
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, CfnOutput, CfnParameter, Duration, Stack

from mediapackage_harvest.contract import spec
from mediapackage_harvest.rehearsal.cfn_endpoint import Failure
from mediapackage_harvest.rehearsal.harness import Rehearsal, default_start
from mediapackage_harvest.rehearsal.scenario import JobScript, Scenario
from mediapackage_harvest.rehearsal.template import WAIT_CONDITION_TYPE, WAIT_HANDLE_TYPE, Environment, Template
from tests.rehearsal.readings import calls, of_type
from tests.rehearsal.stacks import REAL_TIME_END, REAL_TIME_START, job
from tests.reliability.faults.responses import FlakyEndpoint

DEPLOYED_AT = REAL_TIME_START + timedelta(minutes=10)  # the three-hour window has started
POLLED_JOB = JobScript(queued_seconds=5, in_progress_seconds=115)  # handed over to polling, ended by its event
WATCH_KEY, POLL_FLAG, RULE_KEY, STATE_KEY = "HarvestSignalWatch", "CrHelperPoll", "CrHelperRule", "CrHelperData"


def _param_path(stack: Stack) -> None:
    """A long-wait job whose destination comes from a parameter: synth sees a Ref, so a new value at deploy
    replaces the job under the same wait condition ids."""
    path = CfnParameter(stack, "ClipPath", default="clips/a/")
    clip = job(stack, "Clip", timeout=Duration.hours(2), destination_path=path.value_as_string)
    CfnOutput(stack, "Arn", value=clip.harvest_job_arn)


def _real_time(stack: Stack) -> None:
    clip = job(stack, "Clip", start_time=REAL_TIME_START, end_time=REAL_TIME_END, timeout=Duration.hours(4))
    CfnOutput(stack, "Arn", value=clip.harvest_job_arn)


def _running(stack: Stack, *, waits: bool, broken: bool = False) -> None:
    """A real-time job that is not waited for, then (``waits``) waited for two hours of its three, next to a job
    whose create fails (``broken``): the update rolls back."""
    timing = {"start_time": REAL_TIME_START, "end_time": REAL_TIME_END}
    if waits:
        job(stack, "Clip", **timing, timeout=Duration.hours(2))
    else:
        job(stack, "Clip", **timing, wait_for_completion=False)
    if broken:
        job(stack, "Broken", destination_path="broken/")


def _polled(stack: Stack) -> None:
    job(stack, "Clip")


@pytest.fixture(scope="module")
def bodies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    app = App(outdir=str(tmp_path_factory.mktemp("watches")))
    builders = {
        "ParamPath": _param_path,
        "Forged": _real_time,
        "Running": lambda stack: _running(stack, waits=False),
        "Polled": _polled,
    }
    for name, build in builders.items():
        build(Stack(app, name))
    later = App(outdir=str(Path(app.outdir).parent / "later"))
    _running(Stack(later, "Running"), waits=True, broken=True)
    bodies = {name: app.synth().get_stack_by_name(name).template for name in builders}
    bodies["RunningWaited"] = later.synth().get_stack_by_name("Running").template
    return bodies


def template(bodies: dict[str, dict[str, Any]], name: str, stack_name: str | None = None) -> Template:
    return Template(json.loads(json.dumps(bodies[name])), Environment(stack_name or name))


@contextmanager
def rehearse(rehearsal: Rehearsal) -> Iterator[Rehearsal]:
    """The rehearsal, which must leave no rule behind once everything due has run."""
    with rehearsal:
        yield rehearsal
        rehearsal.settle(limit_seconds=6 * 3600)
        assert rehearsal.eventbridge_rules() == []


def put(url: str, body: dict[str, Any], ca_file: Path) -> None:
    """A signal PUT as anyone holding the URL could send it."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="PUT", headers={"Content-Type": ""})
    urllib.request.urlopen(request, context=ssl.create_default_context(cafile=str(ca_file))).close()


def handle_of(body: Template) -> str:
    (handle,) = [logical_id for logical_id, r in body.resources.items() if r["Type"] == WAIT_HANDLE_TYPE]
    return handle


# 1. A replaced job never completes another job's wait ---------------------------------------------------------
def test_a_replacement_under_the_same_wait_condition_fails_before_creating_a_job(
    bodies: dict[str, dict[str, Any]],
) -> None:
    first = template(bodies, "ParamPath")
    second = template(bodies, "ParamPath")
    second.body["Parameters"]["ClipPath"]["Default"] = "clips/b/"  # the new value, resolved at deploy
    assert handle_of(first) == handle_of(second)  # synth saw the same Ref: the same condition ids
    with rehearse(Rehearsal(start=default_start(first))) as rehearsal:
        assert rehearsal.deploy(first).status == "CREATE_COMPLETE"
        (old,) = rehearsal.emulator.jobs()

        updated = rehearsal.deploy(second)

        assert updated.status == "UPDATE_ROLLBACK_COMPLETE"
        (failed,) = [r for r in of_type(updated, second, spec.RESOURCE_TYPE, "Update") if not r.succeeded]
        assert failed.reason == (
            f"Harvest job {old['HarvestJobName']}: a replacement would keep its wait condition, already signalled "
            "(the change comes from a parameter, import or reference): change timeout or the construct id to "
            "declare a new one"
        )
        assert calls(rehearsal, "CreateHarvestJob") == 1  # nothing created for a condition nobody waits on


def test_the_result_fails_when_its_condition_was_signalled_for_a_job_still_running(
    bodies: dict[str, dict[str, Any]],
) -> None:
    """Someone holding the handle's URL signals SUCCESS while the job runs: the result resource reads the job,
    fails naming its status, and the rollback cancels the job; the stack never reaches CREATE_COMPLETE."""
    body = template(bodies, "Forged")
    with rehearse(Rehearsal(start=DEPLOYED_AT)) as rehearsal:

        def signal_early() -> None:
            url = body.physical_ids[handle_of(body)]
            signal = {"Status": "SUCCESS", "UniqueId": "someone-else", "Data": "COMPLETED", "Reason": "forged"}
            put(url, signal, rehearsal.endpoint.ca_file)

        rehearsal.clock.call_later(600, signal_early)
        created = rehearsal.deploy(body)
        (found,) = rehearsal.emulator.jobs()

        assert created.status == "ROLLBACK_COMPLETE"
        (result,) = of_type(created, body, spec.RESULT_RESOURCE_TYPE, "Create")
        assert result.reason == (
            f"Harvest job {found['HarvestJobName']}: is IN_PROGRESS, not COMPLETED: its wait condition was not "
            "signalled for this job"
        )
        assert found["Status"] == "CANCELLED"  # the rollback's Delete


# 2. Watches end with their request -------------------------------------------------------------------------------
def test_a_rolled_back_update_stops_the_watch_it_started(bodies: dict[str, dict[str, Any]]) -> None:
    """A running job first not waited for, then waited for two hours (a new wait condition on the kept job) in an
    update that fails elsewhere: the rollback takes the signal away again, so nothing signals the deleted handle
    and nothing cancels the job at the two-hour deadline; it runs to its end."""
    scenario = Scenario(jobs={"Broken*": JobScript(outcome="FAILED", error_message="Manifest not found")})
    with rehearse(Rehearsal(scenario, start=DEPLOYED_AT)) as rehearsal:
        assert rehearsal.deploy(template(bodies, "Running")).status == "CREATE_COMPLETE"
        updated = rehearsal.deploy(template(bodies, "RunningWaited", "Running"))
        assert updated.status == "UPDATE_ROLLBACK_COMPLETE"
        rolled_back_at = rehearsal.clock.time()

        rehearsal.settle(limit_seconds=4 * 3600)
        clip = next(j for j in rehearsal.emulator.jobs() if not j["HarvestJobName"].startswith("Broken"))

        assert clip["Status"] == "COMPLETED"
        assert calls(rehearsal, "CancelHarvestJob") == 0
        deleted = [e.at + rehearsal.timeline.origin for e in rehearsal.timeline.where("eventbridge", "rule deleted")]
        assert deleted and max(deleted) <= rolled_back_at


class RefusingSignals(FlakyEndpoint):
    """A wait condition handle whose URL no longer takes signals (expired, or the handle deleted): S3's 403."""

    refused: list[str]

    def failure_for(self, request_id: str) -> Failure | None:
        super().failure_for(request_id)
        if not request_id.startswith("wait-condition-handle-"):
            return None
        self.refused = [*getattr(self, "refused", []), request_id]
        return Failure(403)


def test_a_refused_signal_ends_the_watch_at_once(bodies: dict[str, dict[str, Any]]) -> None:
    body = template(bodies, "Forged")

    class Refusing(Rehearsal):
        endpoint_class = RefusingSignals

    with rehearse(Refusing(start=DEPLOYED_AT)) as rehearsal:
        created = rehearsal.deploy(body)
        (found,) = rehearsal.emulator.jobs()

        assert created.status == "ROLLBACK_COMPLETE"
        (condition,) = of_type(created, body, WAIT_CONDITION_TYPE, "Create")
        assert condition.timed_out
        endpoint = rehearsal.endpoint
        assert isinstance(endpoint, RefusingSignals)
        assert len(endpoint.refused) == 1  # one refusal, then the watch ended
        deleted = rehearsal.timeline.where("eventbridge", "rule deleted")[0]
        assert abs(deleted.at + rehearsal.timeline.origin - found["ModifiedAt"].timestamp()) < 5


def test_a_polling_rule_goes_when_its_answer_lands(bodies: dict[str, dict[str, Any]]) -> None:
    body = template(bodies, "Polled")
    with rehearse(Rehearsal(Scenario(default_job=POLLED_JOB), start=default_start(body))) as rehearsal:
        created = rehearsal.deploy(body)

        assert created.status == "CREATE_COMPLETE"
        (request,) = of_type(created, body, spec.RESOURCE_TYPE, "Create")
        (made,) = rehearsal.timeline.where("eventbridge", "rule created")
        (deleted,) = rehearsal.timeline.where("eventbridge", "rule deleted")
        assert request.answered_at is not None
        answered = request.answered_at - rehearsal.timeline.origin
        assert made.at < 10 and answered > 100  # polled: handed over, then answered by the job's event
        assert 0 <= deleted.at - answered < 2  # gone with the answer, not at the next poll


# 3. Nothing trusts the invocation payload ---------------------------------------------------------------------
def test_forged_polls_change_nothing(bodies: dict[str, dict[str, Any]]) -> None:
    """While the real-time job runs, anyone allowed to invoke the function sends a watch with deadline 0 and
    their own URL, and a request poll naming the real rule with their own ResponseURL: the job keeps running,
    nothing reaches their URL, and the real watch signals the real condition when the job ends."""
    body = template(bodies, "Forged")
    with rehearse(Rehearsal(start=DEPLOYED_AT)) as rehearsal:

        def forge() -> None:
            (found,) = rehearsal.emulator.jobs()
            (rule,) = rehearsal.eventbridge_rules()
            forged_url = rehearsal.endpoint.response_url("forged")
            labels = {"StackId": "forged", "LogicalResourceId": "Clip", "ResourceType": spec.RESOURCE_TYPE}
            watch = {"job": found["Arn"], "name": "x", "deadline": 0, "timeout": 60, "url": forged_url}
            poll = {POLL_FLAG: True, RULE_KEY: rule, "RequestType": "Create", "RequestId": "forged", STATE_KEY: {}}
            (function,) = rehearsal.functions.values()
            function.invoke({**labels, WATCH_KEY: watch}, "forged watch", "attacker")
            function.invoke({**labels, **poll, "ResponseURL": forged_url}, "forged poll", "attacker")
            function.invoke({**labels, WATCH_KEY: {**watch, "job": found["Arn"] + "x"}}, "forged watch", "attacker")

        rehearsal.clock.call_later(600, forge)
        created = rehearsal.deploy(body)
        (found,) = rehearsal.emulator.jobs()

        assert created.status == "CREATE_COMPLETE"
        assert found["Status"] == "COMPLETED" and calls(rehearsal, "CancelHarvestJob") == 0
        assert rehearsal.endpoint.responses_for("forged") == []
        (condition,) = of_type(created, body, WAIT_CONDITION_TYPE, "Create")
        assert condition.answered_at is not None and condition.answered_at >= found["ModifiedAt"].timestamp()


# 4. Account limits ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("stack", ["Polled", "Forged"])
def test_at_the_rule_quota_the_request_fails_naming_it(bodies: dict[str, dict[str, Any]], stack: str) -> None:
    """The default bus already holds as many rules as it may (the stack's own event rule is the one): a polled
    request, and a long wait's watch, cannot make their rule, and the Reason says which quota and what to do."""
    body = template(bodies, stack)
    scenario = Scenario(default_job=POLLED_JOB, rules_quota=1)
    start = DEPLOYED_AT if stack == "Forged" else default_start(body)
    with rehearse(Rehearsal(scenario, start=start)) as rehearsal:
        created = rehearsal.deploy(body)

        assert created.status == "ROLLBACK_COMPLETE"
        (failed,) = [r for r in of_type(created, body, spec.RESOURCE_TYPE, "Create") if not r.succeeded]
        assert failed.reason.endswith(
            ": LimitExceededException: EventBridge's rule quota is reached (300 per Region by default, L-244521F2): "
            "delete unused rules or raise it"
        )
        assert "..." not in failed.reason
        (found,) = rehearsal.emulator.jobs()
        assert found["Status"] == "CANCELLED"  # nothing left running that nobody watches
