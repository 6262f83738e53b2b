"""Long-wait mode: a harvest job whose ``Timeout`` is over CloudFormation's one hour for a custom resource.

The construct then declares an ``AWS::CloudFormation::WaitConditionHandle`` (its URL reaches the job's custom
resource as ``SignalUrl``) and an ``AWS::CloudFormation::WaitCondition`` on it (Timeout up to 12 hours). The job's
request is answered as soon as the job exists; from then on a *watch* follows the job: an EventBridge rule named
``rules.job_rule_name(job ARN)`` whose target Input is a "signal watch" (:data:`WATCH_KEY`).
Each fire (:func:`poll`) re-reads the job and, once it has ended, PUTs the condition's signal: SUCCESS when it
COMPLETED, FAILURE with the service's ErrorMessage otherwise; at the watch's deadline it cancels the job and
signals FAILURE saying so. Once a signal has landed, or been refused for good (a 4xx: the handle is gone or its URL
expired), the rule is removed. The watch ends with the request that made it: a Delete of the job's resource, and
an Update that keeps the job but drops its signal, remove the rule (:func:`stop_watching`); an Update that gives the
kept job a new signal replaces the rule's Input. A poll runs as the rule's stored Input (``index.py``), so a forged
invocation can neither move a deadline nor name another URL.

A condition is only ever signalled for the job it was declared for: an Update that would replace the job but
brings the same ``SignalUrl`` (the condition's id comes from the template's values at synth, and what changed was
resolved at deploy: a parameter, an import, a reference) fails before creating anything (``lifecycle.update``),
and the result resource fails unless the job it reads has COMPLETED.

Signals are idempotent (one ``UniqueId`` per job: a second PUT replaces the first), so a fire delivered twice, or
an event-driven run of the same Input, does no harm. A fire whose rule is gone does nothing.

The signal URL is a pre-signed credential, like the ResponseURL: it travels only in the rule's target Input and
the PUT, and is never logged nor put in a response's Data.

Also here: the dispatchers of the result resource (``Custom::MediaPackageV2HarvestJobResult``), created once the
wait condition has completed, which re-read the job so the construct's attributes are the finished job's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harvest_handler import clock as handler_clock
from harvest_handler import rules
from harvest_handler.cfn_response import ANSWER_TRY_SECONDS, Delivery, put_response
from harvest_handler.logs import logger
from harvest_handler.model import (
    DISAPPEARED,
    ENDED,
    NO_ERROR_MESSAGE,
    RULE_KEY,
    Failed,
    HarvestService,
    Invocation,
    Job,
    JobStatus,
    LambdaContext,
    Outcome,
    Succeeded,
    cause_of,
    fit_reason,
    past_deadline,
    reason,
)
from mediapackage_harvest.contract import spec

WATCH_KEY = "HarvestSignalWatch"  # a rule's target Input that watches a job for its wait condition
# The watch's deadline comes this long before the Timeout, so one poll lands after it in time to cancel the job and
# signal before the condition times out (its Timeout starts only once the job's resource is complete).
WATCH_DEADLINE_MARGIN_SECONDS = rules.POLL_PERIOD_SECONDS + 60.0
SIGNAL_RESERVE_SECONDS = 5.0  # left at the end of a watch's invocation for the signal PUT


@dataclass(frozen=True)
class Signal:
    """The wait condition a job's end is reported to: its handle's URL (a credential) and its Timeout."""

    url: str
    timeout: int

    @classmethod
    def of(cls, props: Mapping[str, Any]) -> Signal | None:
        """The properties' long-wait settings; None in the one-hour mode (no ``SignalUrl``)."""
        url = props.get(spec.SIGNAL_URL)
        if not url:
            return None
        return cls(str(url), int(props.get(spec.TIMEOUT) or spec.TIMEOUT_MAX_SECONDS))

    def to_state(self) -> dict[str, Any]:
        return {"url": self.url, "timeout": self.timeout}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Signal:
        return cls(str(state["url"]), int(state["timeout"]))


@dataclass(frozen=True)
class Watch:
    """What one watch poll needs: the job, when to give up on it, and where to signal."""

    job: str
    name: str
    deadline: float
    timeout: int
    url: str

    def to_poll(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """The rule's target Input: the watch, its rule, and the keys that route and label it like a poll."""
        labels = {key: event[key] for key in ("StackId", "LogicalResourceId", "ResourceType") if key in event}
        return {**labels, RULE_KEY: rules.job_rule_name(self.job), WATCH_KEY: vars(self)}

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Watch:
        raw = event[WATCH_KEY]
        return cls(str(raw["job"]), str(raw["name"]), float(raw["deadline"]), int(raw["timeout"]), str(raw["url"]))


# Create / Update: start watching -----------------------------------------------------------------------------
def watch(inv: Invocation, job: Job, signal: Signal, answer: Outcome) -> Outcome:
    """Before ``answer`` goes to CloudFormation: signal at once if the job has already ended, else set up its
    watch rule. A job nobody would signal for must not be answered SUCCESS: that fails the request instead."""
    now = handler_clock.current.time()
    watched = Watch(job.arn, job.name, now + signal.timeout - WATCH_DEADLINE_MARGIN_SECONDS, signal.timeout, signal.url)
    try:
        if job.status in ENDED:
            delivery = _signal(watched, job.status, job.error_message, give_up_at=_give_up_at(inv))
            if delivery is not Delivery.UNDELIVERED:
                stop_watching(job.arn)  # an earlier signal's watch of the kept job, if any, has nobody to tell
                return answer
        _put_watch_rule(watched, dict(inv.event), inv.context)
    except Exception as error:
        logger.exception("Could not set up the watch of the harvest job")
        cause = f"could not watch the job for its wait condition: {cause_of(error)}"
        if inv.event.request_type == "Update" and job.arn != inv.event.physical_resource_id:
            _cancel_quietly(inv.service, job.arn)  # a replacement's new job: no rollback will ever see it
        return Failed(reason(f"Harvest job {job.name}", cause))
    logger.info("Harvest job watched for its wait condition", extra={"job": job.arn, "timeout": signal.timeout})
    return answer


def _cancel_quietly(service: HarvestService, job_arn: str) -> None:
    try:
        service.cancel(job_arn)
    except Exception as error:
        logger.warning("Could not cancel the unwatched harvest job", extra={"problem": cause_of(error)})


def stop_watching(job_arn: str) -> None:
    """Remove the job's watch rule, if any (a Delete of the job's resource, an Update that drops its signal); a
    failure is logged, not raised: the watch removes itself once its deadline has long passed."""
    try:
        rules.remove(rules.job_rule_name(job_arn))
    except Exception as error:
        logger.warning("Could not remove the harvest job's watch rule", extra={"problem": cause_of(error)})


# A watch poll ----------------------------------------------------------------------------------------------
def poll(event: Mapping[str, Any], context: LambdaContext, service: HarvestService) -> None:
    """One fire of a watch rule: re-read the job; once it has ended (or the deadline has come) signal, and remove
    the rule when the signal has landed. Never raises: the next fire tries again."""
    watched = Watch.from_event(event)
    logger.thread_safe_clear_keys()
    logger.thread_safe_append_keys(
        logical_resource_id=event.get("LogicalResourceId"),
        job_name=watched.name,
        watch=True,
        function_request_id=getattr(context, "aws_request_id", None),
    )
    try:
        rule = rules.job_rule_name(watched.job)
        outcome = _check(watched, service)
        if outcome is None:
            return
        status, message = outcome
        now = handler_clock.current.time()
        delivery = _signal(watched, status, message, give_up_at=now + _time_left(context))
        if delivery is not Delivery.UNDELIVERED or now > watched.deadline + 2 * WATCH_DEADLINE_MARGIN_SECONDS:
            rules.remove(rule)
            logger.info("Watch rule removed", extra={"rule": rule})
    except Exception as error:
        logger.warning("Watch poll failed; the next one tries again", extra={"problem": cause_of(error)})


def _check(watched: Watch, service: HarvestService) -> tuple[str, str] | None:
    """The status and message to signal, or None while the job runs and the deadline has not come."""
    job = service.get(watched.job)
    if job is None:
        return "GONE", DISAPPEARED
    if job.status in ENDED:
        return job.status.value, job.error_message
    if handler_clock.current.time() < watched.deadline:
        return None
    cancelled = service.cancel(job.arn)
    logger.warning("Deadline reached; cancelling the harvest job", extra={"cancelled": cancelled})
    return "TIMEOUT", past_deadline(watched.timeout, cancelled, runs_for=None, maximum=spec.TIMEOUT_MAX_SECONDS)


def _signal(watched: Watch, status: str, message: str, *, give_up_at: float) -> Delivery:
    """PUT the wait condition's signal."""
    if status == "COMPLETED":
        body = {"Status": "SUCCESS", "Reason": f"Harvest job {watched.name} COMPLETED", "Data": status}
    else:
        what = f"Harvest job {watched.name}" + (f" {status}" if status in ENDED else "")
        text = reason(what, message or NO_ERROR_MESSAGE)
        body = {"Status": "FAILURE", "Reason": fit_reason(text), "Data": status}
    body["UniqueId"] = watched.name
    logger.info("Signalling the wait condition", extra={"status": body["Status"], "job_status": status})
    return put_response(watched.url, json.dumps(body).encode(), give_up_at=give_up_at)


# EventBridge -----------------------------------------------------------------------------------------------
def _put_watch_rule(watched: Watch, event: Mapping[str, Any], context: LambdaContext) -> None:
    name = rules.job_rule_name(watched.job)
    rules.put(name, f"Signals the wait condition of harvest job {watched.name}")
    rules.point(name, context, watched.to_poll(event))


def _time_left(context: LambdaContext) -> float:
    return min(ANSWER_TRY_SECONDS, context.get_remaining_time_in_millis() / 1000 - SIGNAL_RESERVE_SECONDS)


def _give_up_at(inv: Invocation) -> float:
    return handler_clock.current.time() + _time_left(inv.context)


# The result resource ---------------------------------------------------------------------------------------
def read_result(inv: Invocation) -> Outcome:
    """Create / Update of the result resource: the job as it is now (its wait condition has completed)."""
    job_arn = str(inv.event.resource_properties.get(spec.RESULT_JOB_ARN) or "")
    if not inv.service.is_job_id(job_arn):
        return Failed(f"Invalid properties ({spec.RESULT_JOB_ARN}): must be a harvest job ARN")
    job = inv.service.get(job_arn)
    if job is None:
        return Failed(f"Harvest job {job_arn.rsplit('/', 1)[-1]}: MediaPackage no longer finds it")
    if job.status != JobStatus.COMPLETED:
        return Failed(
            reason(
                f"Harvest job {job.name}",
                f"is {job.status.value}, not COMPLETED: its wait condition was not signalled for this job",
            )
        )
    return Succeeded(job_arn, job.attributes())


def keep_job(inv: Invocation) -> Outcome:
    """Delete of the result resource: the job belongs to the job's resource; nothing to do."""
    return Succeeded(inv.event.physical_resource_id)
