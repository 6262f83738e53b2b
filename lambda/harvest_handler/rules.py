"""The handler's EventBridge rules, in one place: how they are named, made, pointed at the function, read and removed.

Whatever waits on a job waits on one rule named after it (:func:`job_rule_name`): a request polled until its job
ends, or a long-wait watch. A request whose job does not exist yet (the quota) waits on a rule named after the
request (:func:`request_rule_name`), which also fires on the events that may free a slot (:func:`put`'s
``event_pattern``). Each rule fires every :data:`POLL_PERIOD_SECONDS` and has one target, this
function, whose Input is the poll to run. Every name starts with the function's own prefix (environment variable
``spec.POLL_RULE_PREFIX_ENV``), the one the construct grants the rule calls and the invoke permission for.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from harvest_handler import aws_clients
from harvest_handler.model import LambdaContext, error_code
from mediapackage_harvest.contract import spec

POLL_PERIOD_SECONDS = float(spec.POLL_PERIOD_SECONDS)  # the fallback when a job's events are lost
POLL_PERIOD_MINUTES = round(POLL_PERIOD_SECONDS / 60)
TARGET_ID = "1"  # crhelper's own target id, kept so a rule made by either looks the same
INPUT_MAX_CHARS = 8192  # EventBridge's limit on a target's Input
NAME_MAX = 64
HASH_CHARS = 16
PREFIX_MAX = NAME_MAX - HASH_CHARS - 1
PREFIX_PATTERN = re.compile(r"[.\-_A-Za-z0-9]+")
# At most ~130 characters: it ends a Reason of 256 after the job's name and what could not be done.
QUOTA_REACHED = (
    "LimitExceededException: EventBridge's rule quota is reached (300 per Region by default, L-244521F2): delete "
    "unused rules or raise it"
)


class RuleError(RuntimeError):
    """A rule cannot be made or pointed at the function (configuration or size); the message says why."""


def prefix() -> str:
    """The function's rule-name prefix (the construct grants ``rule/<prefix>*``)."""
    found = os.environ.get(spec.POLL_RULE_PREFIX_ENV, "")
    if not (PREFIX_PATTERN.fullmatch(found) and len(found) <= PREFIX_MAX):
        raise RuleError(
            f"Environment variable {spec.POLL_RULE_PREFIX_ENV} must hold a rule-name prefix of 1 to "
            f"{PREFIX_MAX} letters, digits, '.', '-' or '_', got {found!r}"
        )
    return found


def job_rule_name(job_arn: str, rule_prefix: str | None = None) -> str:
    """The one rule of whatever waits on the job ``job_arn``: ``<prefix>-<16 hex of sha256(job ARN)>`` (this
    function's prefix unless ``rule_prefix`` is given).

    The job's EventBridge events find the waiting request by this name alone (ListTargetsByRule inside the
    ``rule/<prefix>*`` grant) and run the rule's target Input as a scheduled fire would.
    """
    return f"{rule_prefix or prefix()}-{_digest(job_arn)}"


def request_rule_name(stack_id: str, logical_id: str, request_id: str) -> str:
    """The rule of a request that has no job yet: the same on redelivery, at most 64 characters."""
    return f"{prefix()}-{_digest(chr(10).join((stack_id, logical_id, request_id)))}"


def name_of(rule_arn: str) -> str:
    """A rule's name from its ARN (``arn:...:rule/<name>``); a name stays as it is."""
    return rule_arn.split("/", 1)[-1]


def put(
    name: str,
    description: str,
    *,
    every_minutes: int = POLL_PERIOD_MINUTES,
    event_pattern: Mapping[str, Any] | None = None,
) -> str:
    """Create (or replace) the rule, firing every ``every_minutes`` and, with ``event_pattern``, on every event
    that matches it too (a rule may have both); its ARN. At the account's rule quota, a :class:`RuleError` says so."""
    unit = "minute" if every_minutes == 1 else "minutes"
    params: dict[str, Any] = {
        "Name": name,
        "ScheduleExpression": f"rate({every_minutes} {unit})",
        "State": "ENABLED",
        "Description": description[:512],
    }
    if event_pattern:
        params["EventPattern"] = json.dumps(event_pattern, separators=(",", ":"))
    try:
        response = aws_clients.events().put_rule(**params)
    except ClientError as error:
        if error_code(error) == "LimitExceededException":
            raise RuleError(QUOTA_REACHED) from error
        raise
    return str(response["RuleArn"])


def point(name: str, context: LambdaContext, poll: Mapping[str, Any]) -> None:
    """Make this function the rule's one target, with ``poll`` as its Input (at most 8192 characters)."""
    text = json.dumps(poll, separators=(",", ":"))
    if len(text) > INPUT_MAX_CHARS:
        raise RuleError(f"the poll input would be {len(text)} characters, over EventBridge's {INPUT_MAX_CHARS}")
    response = aws_clients.events().put_targets(
        Rule=name, Targets=[{"Id": TARGET_ID, "Arn": function_arn(context), "Input": text}]
    )
    if response.get("FailedEntryCount"):
        failed = response.get("FailedEntries") or [{}]
        raise RuleError(f"EventBridge refused the rule's target: {failed[0].get('ErrorMessage', 'no reason')}")


def exists(name: str) -> bool:
    """Whether EventBridge has the rule; an error other than "not found" is raised."""
    try:
        aws_clients.events().describe_rule(Name=name)
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return False
        raise
    return True


def waiting_poll(name: str) -> dict[str, Any] | None:
    """The poll the rule's target carries, or None when there is no such rule (nobody waits) or no usable target."""
    try:
        targets = aws_clients.events().list_targets_by_rule(Rule=name).get("Targets", [])
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return None
        raise
    for target in targets:
        if target.get("Id") == TARGET_ID and target.get("Input"):
            poll = json.loads(target["Input"])
            return poll if isinstance(poll, dict) else None
    return None


def remove(name: str) -> None:
    """The target, then the rule; either already gone counts as removed."""
    events = aws_clients.events()
    try:
        events.remove_targets(Rule=name, Ids=[TARGET_ID])
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
    try:
        events.delete_rule(Name=name)
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise


def function_arn(context: LambdaContext) -> str:
    """This function's unqualified ARN (the construct's permission names the function, not a version)."""
    return ":".join(context.invoked_function_arn.split(":")[:7])


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_CHARS]
