"""A MediaPackage harvest-job event from EventBridge: answer the request waiting on that job the moment it ends.

One rule per stack routes MediaPackage v2 (``MediaPackageV2 HarvestJob Notification``) and v1 (``MediaPackage
HarvestJob Notification``) events to the handler (``contract.services``). Delivery is best effort (late, twice, out
of order, or never) and the v2 detail is documented by example only, so an event only says WHICH job to look at:
the job comes from the event's ``resources`` (v1: ``detail.harvest_job.arn`` first), its status from the service itself
(GetHarvestJob / DescribeHarvestJob), never from the event.

The waiting request lives on its polling rule, named after the job (:func:`harvest_handler.rules.job_rule_name`):
ListTargetsByRule (inside the ``rule/<prefix>*`` grant) says whether anyone waits and gives the
rule's target Input. Only when the re-read job is terminal does that Input run through the handler, exactly as a
scheduled fire of the rule would (it answers, then removes the rule, so a duplicate event finds no rule).
Anything else (nobody waits, the job is still running or not found, a malformed event, an AWS error) changes
nothing: no exception, no modifying call, no answer; the rule's polls remain the fallback. The Input holds the
ResponseURL: it is never logged.

One thing an event does add: v1's ``detail.message`` says why a job failed, which DescribeHarvestJob does not. When
the re-read job is FAILED, the poll that runs carries it (``model.EVENT_MESSAGE_KEY``) for the Reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from harvest_handler import flavours, rules
from harvest_handler.logs import logger, quiet_libraries
from harvest_handler.model import ACTIVE, EVENT_MESSAGE_KEY, HarvestService, JobStatus, LambdaContext, cause_of
from mediapackage_harvest.contract import services

RunPoll = Callable[[dict[str, Any], LambdaContext], object]
MESSAGE_MAX = 512  # more than a Reason can show; keeps the poll small


def is_job_event(event: Mapping[str, Any]) -> bool:
    """Whether an invocation carries an EventBridge event (``source`` and ``detail-type``) rather than a
    CloudFormation request or a poll."""
    return "source" in event and "detail-type" in event


def handle(event: Mapping[str, Any], context: LambdaContext, run_poll: RunPoll) -> None:
    """Follow one event up (see the module docstring); ``run_poll`` is the handler a rule's fire runs."""
    quiet_libraries()  # botocore's DEBUG log of ListTargetsByRule's answer would show the Input's ResponseURL
    logger.thread_safe_clear_keys()
    logger.thread_safe_append_keys(
        job_event=str(event.get("detail-type")), function_request_id=getattr(context, "aws_request_id", None)
    )
    found = job_of(event)
    if found is None:
        logger.info("Not a harvest-job event this handler understands; ignored", extra={"source": event.get("source")})
        return
    job_arn, service = found
    logger.thread_safe_append_keys(job=job_arn)
    try:
        poll = rules.waiting_poll(rules.job_rule_name(job_arn))
        if poll is None:
            logger.info("No request waits on this harvest job; nothing to do")
            return
        job = service.get(job_arn)
    except Exception as error:
        logger.warning(
            "Could not follow the harvest-job event up; polling answers instead", extra={"problem": cause_of(error)}
        )
        return
    if job is None or job.status in ACTIVE:
        status = job.status.value if job else "not found"
        logger.info("Harvest job not finished (or not found); nothing to do", extra={"status": status})
        return
    logger.info("Harvest job ended: running its rule's poll now", extra={"status": job.status.value})
    message = failure_message(event) if job.status == JobStatus.FAILED else ""
    run_poll({**poll, EVENT_MESSAGE_KEY: message} if message else poll, context)


def job_of(event: Mapping[str, Any]) -> tuple[str, HarvestService] | None:
    """The job ARN an event is about and its service flavour; None for anything else or anything malformed."""
    found = flavours.for_job_event(dict(event))
    if found is None:
        return None
    flavour, service = found
    candidates: list[object] = []
    detail = event.get("detail")
    if flavour == services.V1 and isinstance(detail, Mapping) and isinstance(detail.get("harvest_job"), Mapping):
        candidates.append(detail["harvest_job"].get("arn"))
    resources = event.get("resources")
    if isinstance(resources, list):
        candidates += resources
    for candidate in candidates:
        if isinstance(candidate, str) and service.is_job_id(candidate):
            return candidate, service
    return None


def failure_message(event: Mapping[str, Any]) -> str:
    """Why the job failed, as a v1 event's ``detail.message`` says it (v2 events: the job itself says); at most
    ``MESSAGE_MAX`` characters, "" when absent or malformed."""
    detail = event.get("detail")
    if event.get("source") != services.V1.event_source or not isinstance(detail, Mapping):
        return ""
    job = detail.get("harvest_job")
    message = detail.get("message") or (job.get("message") if isinstance(job, Mapping) else None)
    return message.strip()[:MESSAGE_MAX] if isinstance(message, str) else ""
