"""A MediaPackage harvest-job event from EventBridge: answer the request waiting on that job the moment it ends.

One rule per stack routes MediaPackage v2 (``MediaPackageV2 HarvestJob Notification``) and v1 (``MediaPackage
HarvestJob Notification``) events to the handler (``spec.JOB_EVENTS``). Delivery is best effort (late, twice, out
of order, or never) and the v2 detail is undocumented, so an event only says WHICH job to look at: the job comes
from the event's ``resources`` (v1: ``detail.harvest_job.arn`` first), its status from the service itself
(GetHarvestJob / DescribeHarvestJob), never from the event.

The waiting request lives on its polling rule, named after the job (:func:`~harvest_handler.crhelper_resource.
job_rule_name`): ListTargetsByRule (inside the ``rule/<prefix>*`` grant) says whether anyone waits and gives the
rule's target Input. Only when the re-read job is terminal does that Input run through the handler, exactly as a
scheduled fire of the rule would (it answers, then removes the rule, so a duplicate event finds no rule).
Anything else (nobody waits, the job is still running or not found, a malformed event, an AWS error) changes
nothing: no exception, no modifying call, no answer; the rule's polls remain the fallback. The Input holds the
ResponseURL: it is never logged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from harvest_handler import aws_clients
from harvest_handler.cfn_response import cause_of
from harvest_handler.crhelper_resource import TARGET_ID, LambdaContext, job_rule_name, rule_prefix
from harvest_handler.lifecycle import ACTIVE, HarvestService
from harvest_handler.logs import logger, quiet_libraries
from harvest_handler.mediapackage_v1 import MediaPackageV1
from harvest_handler.mediapackage_v2 import MediaPackageV2
from mediapackage_harvest import spec

V2_SOURCE, V1_SOURCE = "aws.mediapackagev2", "aws.mediapackage"
SERVICES: dict[str, Callable[[], HarvestService]] = {V2_SOURCE: MediaPackageV2, V1_SOURCE: MediaPackageV1}
RunPoll = Callable[[dict[str, Any], LambdaContext], object]


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
        poll = waiting_poll(job_rule_name(rule_prefix(spec.POLL_RULE_PREFIX_ENV), job_arn))
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
    run_poll(poll, context)


def job_of(event: Mapping[str, Any]) -> tuple[str, HarvestService] | None:
    """The job ARN an event is about and its service flavour; None for anything else or anything malformed."""
    source = event.get("source")
    if not isinstance(source, str) or source not in SERVICES or spec.JOB_EVENTS[source] != event.get("detail-type"):
        return None
    service = SERVICES[source]()
    candidates: list[object] = []
    detail = event.get("detail")
    if source == V1_SOURCE and isinstance(detail, Mapping) and isinstance(detail.get("harvest_job"), Mapping):
        candidates.append(detail["harvest_job"].get("arn"))
    resources = event.get("resources")
    if isinstance(resources, list):
        candidates += resources
    for candidate in candidates:
        if isinstance(candidate, str) and service.is_job_id(candidate):
            return candidate, service
    return None


def waiting_poll(rule_name: str) -> dict[str, Any] | None:
    """The poll event the rule's target carries, or None when no such rule (nobody waits) or no usable target."""
    try:
        targets = aws_clients.events().list_targets_by_rule(Rule=rule_name).get("Targets", [])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise
    for target in targets:
        if target.get("Id") == TARGET_ID and target.get("Input"):
            poll = json.loads(target["Input"])
            return poll if isinstance(poll, dict) else None
    return None
