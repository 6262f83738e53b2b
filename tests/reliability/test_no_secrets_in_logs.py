"""The pre-signed ResponseURL lets whoever holds it answer for the resource, so it must never reach a log.

Every log record the handler's threads emit is captured (the Powertools logger through its own formatter, and any
other logger at DEBUG: botocore, crhelper, urllib3) at DEBUG, the level that logs everything, through the fault
scenarios that log the most: failing and retried response PUTs (an undelivered answer travels in an
EventBridge target Input), the out-of-time answer, a failed hand-over with its traceback, a rule that will not
go, duplicate polls, job events (which read a rule's Input and run it). No line may hold a request's ResponseURL,
its query string or its signature. The fault matrix and the corpus check the same in each of their rehearsals (the
matrix's cells take turns at the four levels); a higher level only leaves lines out (the handler never logs
differently by level), so the noisiest cells run here at DEBUG.
The long-wait mode's signal URL (a wait condition handle's pre-signed URL) is held to the same rule: through a job
that completes, one that fails, the watch's retried signal PUTs, and the stack's deletion.
"""

from __future__ import annotations

import importlib
import json
import logging
from urllib.parse import unquote, urlsplit

import pytest

from mediapackage_harvest.rehearsal.cfn_endpoint import PATH_PREFIX
from mediapackage_harvest.rehearsal.lambda_runtime import handler_module
from mediapackage_harvest.rehearsal.scenario import JobScript, Scenario
from mediapackage_harvest.rehearsal.template import WAIT_HANDLE_TYPE
from tests.reliability.faults import FaultRehearsal
from tests.reliability.helpers import LOG_LEVELS, REHEARSAL_START, Stacks, handler_logs, leaked_secrets
from tests.reliability.matrix import CELLS, run

NOISY_CELLS = (
    "response-put-5xx-past-lambda-time",
    "lambda-timeout-mid-call",
    "PutTargets-ConcurrentModificationException-first",
    "RemoveTargets-InternalException-every",
    "poll-delivered-twice",
    "job-events-twice",  # the event path reads the rule's Input (the ResponseURL inside) and runs it
    "ListTargetsByRule-InternalException-every",
)


@pytest.mark.parametrize("cell_id", NOISY_CELLS)
def test_no_response_url_in_any_log_line(cell_id: str, stacks: Stacks) -> None:
    (cell,) = [c for c in CELLS if c.id == cell_id]
    outcome = run(cell, stacks, "DEBUG")
    assert outcome.leaked == []
    assert outcome.log_lines > 0  # the capture saw the handler at work


@pytest.mark.parametrize("level", ["DEBUG", "WARNING"])
def test_no_signal_url_in_any_log_line(level: str, stacks: Stacks) -> None:
    completes = Scenario(default_job=JobScript(5, 300))
    fails = Scenario(default_job=JobScript(5, 300, "FAILED", "Manifest index is not available"))
    for scenario in (completes, fails):
        template = stacks.template("LongWait")
        with handler_logs(level) as logs, FaultRehearsal(scenario, start=REHEARSAL_START) as rehearsal:
            refuse_signals_for_a_while(rehearsal)
            result = rehearsal.deploy(template)
            if result.status == "CREATE_COMPLETE":
                assert rehearsal.destroy().status == "DELETE_COMPLETE"
            rehearsal.settle(600)
            assert result.status == ("CREATE_COMPLETE" if scenario is completes else "ROLLBACK_COMPLETE")
            assert leaked_secrets(logs.lines, rehearsal) == []
            if level in ("DEBUG", "INFO", "WARNING"):
                assert any("retrying" in line for line in logs.lines)  # the refused signal PUTs were retried


def refuse_signals_for_a_while(rehearsal: FaultRehearsal) -> None:
    """The handle's URL answers 503 to the first three signal PUTs: the watch retries them, and warns."""

    def refuse() -> None:
        assert rehearsal.cloudformation is not None
        for request in rehearsal.cloudformation.requests:
            if request.event.get("ResourceType") == WAIT_HANDLE_TYPE and request.response:
                path = urlsplit(str(request.response["PhysicalResourceId"])).path
                rehearsal.endpoint.fail_next(unquote(path.removeprefix(PATH_PREFIX)), times=3, status=503)

    rehearsal.clock.call_later(1, refuse)


@pytest.mark.parametrize("level", LOG_LEVELS)
def test_the_capture_would_see_a_leak(level: str, stacks: Stacks) -> None:
    """A ResponseURL logged from a handler thread at the configured level is caught: the check above can fail."""
    template = stacks.template("FaultMatrix")
    with (
        handler_logs(level) as logs,
        FaultRehearsal(Scenario(default_job=JobScript(5, 10)), start=REHEARSAL_START) as rehearsal,
    ):
        rehearsal.deploy(template)
        assert leaked_secrets(logs.lines, rehearsal) == []
        assert rehearsal.cloudformation is not None
        url = rehearsal.endpoint.response_url(rehearsal.cloudformation.requests[0].request_id)
        log = getattr(importlib.import_module("harvest_handler.logs").logger, level.lower())
        rehearsal.clock.spawn(lambda: log("careless", extra={"response_url": url}))
        rehearsal.settle(1)
        assert len(leaked_secrets(logs.lines, rehearsal)) == 1


def test_the_capture_would_see_a_signal_url_leak(stacks: Stacks) -> None:
    """A wait condition handle's URL logged from a handler thread is caught: the signal URL check can fail."""
    with handler_logs("INFO") as logs, FaultRehearsal(start=REHEARSAL_START) as rehearsal:
        rehearsal.deploy(stacks.template("LongWait"))
        assert rehearsal.cloudformation is not None
        (handle,) = [r for r in rehearsal.cloudformation.requests if r.event.get("ResourceType") == WAIT_HANDLE_TYPE]
        url = str(handle.response["PhysicalResourceId"]) if handle.response else ""
        logger = importlib.import_module("harvest_handler.logs").logger
        rehearsal.clock.spawn(lambda: logger.info("careless", extra={"signal": url}))
        rehearsal.settle(1)
        assert len(leaked_secrets(logs.lines, rehearsal)) == 1


@pytest.mark.parametrize("level", LOG_LEVELS)
def test_a_job_event_reaching_a_fresh_process_logs_no_response_url(level: str, stacks: Stacks) -> None:
    """The event path reads a poll target's Input (a ResponseURL inside) through botocore: even when the libraries'
    loggers are as in a fresh process (their level unset, the root at DEBUG), no line holds the URL."""
    template = stacks.template("FaultMatrixNoWait")  # the job runs on: the event reads the rule and stops there
    with FaultRehearsal(Scenario(default_job=JobScript(5, 1800)), start=REHEARSAL_START) as rehearsal:
        assert rehearsal.deploy(template).status == "CREATE_COMPLETE"
        (function,) = rehearsal.functions.values()
        job_arn = str(rehearsal.emulator.jobs()[0]["Arn"])
        assert rehearsal.cloudformation is not None and rehearsal.cloudformation.template is not None
        prefix = rehearsal.cloudformation.template.function_environment(next(iter(rehearsal.functions)))
        rule = handler_module("rules").job_rule_name(job_arn, prefix["HARVEST_POLL_RULE_PREFIX"])
        rule_arn = rehearsal.events.put_rule(Name=rule, ScheduleExpression="rate(5 minutes)")["RuleArn"]
        url = rehearsal.endpoint.response_url("a-waiting-request")
        poll = {"RequestType": "Create", "ResponseURL": url, "RequestId": "a-waiting-request", "CrHelperPoll": True}
        target = {"Id": "1", "Arn": function.arn, "Input": json.dumps({**poll, "CrHelperRule": rule_arn})}
        rehearsal.events.put_targets(Rule=rule, Targets=[target])
        event = {"source": "aws.mediapackagev2", "detail-type": "MediaPackageV2 HarvestJob Notification"}
        with handler_logs(level) as logs:
            for name in ("botocore", "boto3", "urllib3"):
                logging.getLogger(name).setLevel(logging.NOTSET)
            function.invoke({**event, "resources": [job_arn], "detail": {}}, "EventBridge event", "Clip")
            rehearsal.advance(1.0)
        rehearsal.events.remove_targets(Rule=rule, Ids=["1"])
        rehearsal.events.delete_rule(Name=rule)
        assert any("ListTargetsByRule" in line or "harvest job" in line.lower() for line in logs.lines)
        assert [line for line in logs.lines if url in line or url.partition("?")[2] in line] == []
