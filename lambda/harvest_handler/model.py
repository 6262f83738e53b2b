"""The handler's model of its domain: harvest jobs and their statuses, one request as the lifecycle sees it, the
outcomes a request can have, and the texts a failure's Reason is made of.

Everything else in the package builds on this module and nothing here imports the rest of the package: the service
adapters (``mediapackage_v2``, ``mediapackage_v1``) speak it, the orchestration (``lifecycle``, ``long_wait``,
``job_events``) decides with it, and ``crhelper_resource`` answers CloudFormation from its outcomes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from harvest_handler.cfn_event import CloudFormationCustomResourceEvent
from mediapackage_harvest.contract import spec


# Jobs ----------------------------------------------------------------------------------------------------------
class JobStatus(StrEnum):
    QUEUED = "QUEUED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


ACTIVE = frozenset({JobStatus.QUEUED, JobStatus.IN_PROGRESS})
ENDED = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


@dataclass(frozen=True)
class Job:
    """A harvest job as the lifecycle needs it; ``details`` is the service's own view of it, for its adapter."""

    arn: str
    name: str
    status: JobStatus
    error_message: str = ""
    etag: str = ""
    created_at: datetime | None = None
    modified_at: datetime | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)

    def attributes(self) -> dict[str, str]:
        """The resource's Fn::GetAtt attributes (spec.ATTRIBUTES), all strings."""
        return {
            "Arn": self.arn,
            "ETag": self.etag,
            "Status": self.status.value,
            "HarvestJobName": self.name,
            "CreatedAt": self.created_at.isoformat() if self.created_at else "",
            "ModifiedAt": self.modified_at.isoformat() if self.modified_at else "",
        }


class QuotaExceeded(Exception):
    """The service takes no new job for now (too many running); creating it again later may work."""


class NameInUse(Exception):
    """Another job already has the name, where names must be unique."""


class HarvestService(Protocol):
    """One service flavour's harvest-job API, in the lifecycle's terms."""

    @property
    def name_property(self) -> str:
        """The resource property that fixes the job's name when given (v2 HarvestJobName, v1 Id)."""
        ...

    @property
    def name_prop(self) -> str:
        """The construct prop behind it, for advice in failure reasons (harvest_job_name, harvest_job_id)."""
        ...

    @property
    def can_cancel(self) -> bool:
        """Whether a running job can be stopped; when not (v1), Delete and the deadline call nothing."""
        ...

    def problems(self, props: Mapping[str, Any]) -> list[spec.Violation]:
        """Every rule the resource properties break; empty when they are valid."""
        ...

    def is_job_id(self, physical_id: str) -> bool:
        """Whether a physical id names a job of this flavour (not a failed-create placeholder)."""
        ...

    def preflight(self, props: Mapping[str, Any], *, name: str, now: float) -> str | None:
        """What the service would refuse about these properties and its fix, read before any create (see
        :mod:`harvest_handler.preflight`); None when nothing is wrong or it cannot be told."""
        ...

    def create(self, props: Mapping[str, Any], *, name: str, token: str) -> Job:
        """Create the job the properties describe; raises QuotaExceeded or NameInUse."""
        ...

    def get(self, job_id: str) -> Job | None:
        """The job, or None when it no longer exists."""
        ...

    def cancel(self, job_id: str) -> bool:
        """Ask the service to stop the job; False when this flavour cannot cancel."""
        ...

    def retag(self, job_id: str, *, add: Mapping[str, str], remove: Sequence[str]) -> None: ...

    def matches(self, job: Job, props: Mapping[str, Any]) -> bool:
        """Whether the job already is what the properties describe (tags and lifecycle options aside)."""
        ...

    def name_clash(self, job: Job, props: Mapping[str, Any]) -> str | None:
        """Where a new job under the properties' fixed name would collide with ``job`` (e.g. "channel g/c")."""
        ...

    def wake_pattern(self, props: Mapping[str, Any], job_arn: str, function_arn: str) -> dict[str, Any] | None:
        """The EventBridge event pattern of the events after which a request should look at its job again, for the
        rule of a request refused for the quota: while there is no job, the job events of its quota's scope (one
        ending frees a slot); once ``job_arn`` exists, that job's own. None when the service has no such quota."""
        ...


# One request -----------------------------------------------------------------------------------------------------
class LambdaContext(Protocol):
    """The parts of Lambda's context object the handler reads."""

    function_name: str
    aws_request_id: str
    invoked_function_arn: str

    def get_remaining_time_in_millis(self) -> int: ...


DERIVED_NAME_LOGICAL_ID_CHARS = 48
DERIVED_NAME_HASH_CHARS = 12


@dataclass(frozen=True)
class Invocation:
    """One request as the dispatchers see it. ``job_started`` tells the responder which id a FAILED must carry;
    ``answer_by`` when to answer FAILED at the latest, should a call hang (the request's deadline)."""

    event: CloudFormationCustomResourceEvent
    context: LambdaContext
    service: HarvestService
    job_started: Callable[[str], None]
    answer_by: Callable[[float], None] = lambda at: None

    @property
    def digest(self) -> str:
        """Stable per request, the same on redelivery: the ClientToken and the derived name's suffix."""
        key = "\n".join((self.event.stack_id, self.event.logical_resource_id, self.event.request_id))
        return hashlib.sha256(key.encode()).hexdigest()

    def derived_name(self) -> str:
        """``<LogicalResourceId[:48]>-<12 hex>``: a valid job name, unique per request, deterministic."""
        prefix = self.event.logical_resource_id[:DERIVED_NAME_LOGICAL_ID_CHARS]
        return f"{prefix}-{self.digest[:DERIVED_NAME_HASH_CHARS]}"

    def remaining_seconds(self) -> float:
        return self.context.get_remaining_time_in_millis() / 1000


# crhelper's own keys in a poll's event (its target Input): the poll mark, the rule's ARN, and the state handed
# from one invocation to the next.
POLL_FLAG, RULE_KEY, STATE_KEY = "CrHelperPoll", "CrHelperRule", "CrHelperData"

# A v1 job's failure message, as its event said (DescribeHarvestJob has no reason): set on the poll an event runs,
# only once the job's own status has been read as FAILED (harvest_handler.job_events).
EVENT_MESSAGE_KEY = "HarvestJobEventMessage"


# Outcomes --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Succeeded:
    """The resource is ready: answer SUCCESS with this physical id and Data."""

    physical_id: str
    data: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Failed:
    """Answer FAILED; ``physical_id`` None keeps the event's id (or makes a failed-create placeholder)."""

    reason: str
    physical_id: str | None = None


@dataclass(frozen=True)
class InProgress:
    """Not finished: hand over to (or stay on) EventBridge polling with ``state`` for the next poll.

    ``physical_id`` is what a FAILED answer must carry meanwhile (a job that exists), if anything. ``job`` is
    the ARN of the job watched, once it exists: the polling rule is then named after it
    (:func:`harvest_handler.rules.job_rule_name`), so the job's EventBridge events find the request. A request
    that has no job yet (the quota) waits on a rule named after the request, which also fires on the events
    ``wake_on`` matches (:meth:`HarvestService.wake_pattern`), so a slot that frees is taken within seconds.
    """

    state: Mapping[str, Any]
    physical_id: str | None = None
    job: str = ""
    wake_on: Mapping[str, Any] | None = None


Outcome = Succeeded | Failed | InProgress


# Reason texts ----------------------------------------------------------------------------------------------------
NO_ERROR_MESSAGE = "the service gave no error message"
DISAPPEARED = "it disappeared before it finished: MediaPackage no longer finds it"
SAME_CONDITION = (
    "a replacement would keep its wait condition, already signalled (the change comes from a parameter, import or "
    "reference): change timeout or the construct id to declare a new one"
)


def fit_reason(reason: str, limit: int = spec.REASON_MAX_CHARS) -> str:
    """At most ``limit`` characters, cut at the front: messages put their cause last, and it must survive."""
    if len(reason) <= limit:
        return reason
    return "..." + reason[-(limit - 3) :]


def reason(subject: str, cause: str, limit: int = spec.REASON_MAX_CHARS) -> str:
    """``"<subject>: <cause>"`` in at most ``limit`` characters. The subject (which job) stays whole; a long cause
    loses its middle, keeping its start (the call and error code) and its end (the service's last words)."""
    text = f"{subject}: {cause}"
    if len(text) <= limit:
        return text
    room = max(limit - len(subject) - len(": ..."), 0)
    head, tail = room // 2, room - room // 2
    return f"{subject}: {cause[:head]}...{cause[len(cause) - tail :]}"[:limit]


def invalid_reason(problems: Sequence[spec.Violation]) -> str:
    """Every offending field first, then the rules, cut at the end to fit CloudFormation's 256 characters."""
    fields = ", ".join(dict.fromkeys(problem.field for problem in problems))
    text = f"Invalid properties ({fields}): " + "; ".join(str(problem) for problem in problems)
    return text if len(text) <= spec.REASON_MAX_CHARS else text[: spec.REASON_MAX_CHARS - 3] + "..."


def past_deadline(timeout: int, cancelled: bool, *, runs_for: float | None, maximum: int) -> str:
    """Why a job still running at the request's deadline failed it, and what would work instead, in the construct's
    own props (``timeout=Duration...``, ``wait_for_completion=False``): a timeout that covers the window when it was
    still running at the request's start (``runs_for``: how long after the start it ends; a real-time harvest),
    else a longer one, up to the flavour's ``maximum``."""
    stopped = "cancelled" if cancelled else "v1 cannot cancel it"
    head = f"did not finish within timeout={spec.duration_expression(timeout)}, {stopped}"
    most = f"up to {spec.span(maximum)}"
    if runs_for is not None and runs_for > 0:
        why = f"end_time is {spec.span(runs_for)} after the deploy began"
        needed = spec.timeout_to_cover(runs_for)
        if needed <= maximum:
            longer = spec.duration_expression(needed)
            return f"{head}: {why}; set timeout={longer} ({most}) or wait_for_completion=False"
        return f"{head}: {why}, more than timeout can wait ({most}); set wait_for_completion=False"
    if timeout < maximum:
        longer = spec.duration_expression(min(timeout * 2, maximum))
        return f"{head}; set timeout={longer} ({most}) or wait_for_completion=False"
    return f"{head}; set wait_for_completion=False"


def not_created(timeout: int, problem: str) -> str:
    """Why a job that could not be created before the request's deadline failed it (its last problem ends it)."""
    return f"could not be created within timeout={spec.duration_expression(timeout)}: {problem}"


def error_code(error: BaseException) -> str:
    """The AWS error code of a botocore ClientError (e.g. ``ResourceNotFoundException``); "" for anything else."""
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def cause_of(error: BaseException) -> str:
    """An exception as the cause in a Reason: the AWS call, its error code and message, and how often botocore
    tried; other errors by kind and text (botocore's never hold a pre-signed URL)."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        retries = int(error.response.get("ResponseMetadata", {}).get("RetryAttempts") or 0)
        tries = f" after {retries + 1} attempts" if retries else ""
        return f"{error.operation_name} failed{tries}: {details.get('Code', 'error')}: {details.get('Message', '')}"
    if isinstance(error, BotoCoreError):
        return f"{type(error).__name__}: {error}"
    return str(error) or type(error).__name__
