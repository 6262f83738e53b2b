"""What a harvest-job custom resource does on Create, Update, Delete and each poll, whatever the service flavour.

The rules live here once; the service's API lives behind :class:`~harvest_handler.model.HarvestService` (v2 in
:mod:`harvest_handler.mediapackage_v2`, MediaPackage v1 in :mod:`harvest_handler.mediapackage_v1`, which cannot
cancel or delete a job). Each dispatcher returns an Outcome that :mod:`harvest_handler.crhelper_resource` answers
or hands over to polling.

Long-wait mode (a ``SignalUrl`` in the properties, Timeout over an hour): the job is answered as soon as it is
created, and :mod:`harvest_handler.long_wait` keeps watching it and signals the stack's wait condition.

Timing: a job is watched inline for about 8 s (checks 2 s apart), then handed over to a polling rule named after
the job: the job's MediaPackage events answer the moment it ends (:mod:`harvest_handler.job_events`), and the
rule polls every five minutes in case they are lost. The deadline is the request's start + Timeout - 30 s. When
the next poll would land after it, the invocation keeps watching inline up to it (the function's timeout covers a
poll period); at the deadline the job is cancelled and the request answered FAILED, in time for CloudFormation.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harvest_handler import clock as handler_clock
from harvest_handler import long_wait, rules
from harvest_handler.logs import logger
from harvest_handler.model import (
    ACTIVE,
    DISAPPEARED,
    EVENT_MESSAGE_KEY,
    NO_ERROR_MESSAGE,
    SAME_CONDITION,
    STATE_KEY,
    Failed,
    InProgress,
    Invocation,
    Job,
    JobStatus,
    NameInUse,
    Outcome,
    QuotaExceeded,
    Succeeded,
    cause_of,
    invalid_reason,
    not_created,
    past_deadline,
    reason,
)
from mediapackage_harvest.contract import spec

INLINE_WATCH_SECONDS = 8.0  # events answer after that; a short watch keeps GetHarvestJob calls few
DEADLINE_MARGIN_SECONDS = 30.0  # CloudFormation gives up at start + Timeout: cancel and answer before that
ANSWER_BEFORE_CLOUDFORMATION_SECONDS = 10.0  # a call hung past the deadline: answer this long before CFN gives up
LAMBDA_RESERVE_SECONDS = 8.0  # left at the end of an invocation for a cancel and the response PUT
DEFAULT_TIMEOUT_SECONDS = spec.SERVICE_TIMEOUT_MAX_SECONDS
POLL_PERIOD_SECONDS = rules.POLL_PERIOD_SECONDS


@dataclass
class Progress:
    """Where a create-and-watch stands; travels between invocations as the poll state (compact JSON)."""

    started: float
    deadline: float
    wait: bool
    name: str
    job_id: str = ""
    pending: Mapping[str, Any] | None = None  # the job's properties until it is created (quota retries)
    problem: str = ""  # why it is not created yet
    signal: long_wait.Signal | None = None  # long-wait mode: the wait condition to signal once the job ends
    wake: bool = False  # a ClipSet's clip: refused for the quota, try again when a job of the channel group ends
    ends: float | None = None  # when the job's window ends (for the advice at the deadline); polls carry no props

    def to_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "started": self.started,
            "deadline": self.deadline,
            "wait": self.wait,
            "name": self.name,
        }
        if self.signal is not None:
            state["signal"] = self.signal.to_state()
        if self.wake:
            state["wake"] = True
        if self.ends is not None:
            state["ends"] = self.ends
        if self.job_id:
            state["job"] = self.job_id
        else:
            state["pending"] = _pack(self.pending or {})
            state["problem"] = self.problem[:200]
        return state

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Progress:
        pending = state.get("pending")
        return cls(
            started=float(state["started"]),
            deadline=float(state["deadline"]),
            wait=bool(state["wait"]),
            name=str(state["name"]),
            job_id=str(state.get("job", "")),
            pending=_unpack(pending) if pending else None,
            problem=str(state.get("problem", "")),
            signal=long_wait.Signal.from_state(state["signal"]) if state.get("signal") else None,
            wake=bool(state.get("wake")),
            ends=float(state["ends"]) if state.get("ends") is not None else None,
        )

    @property
    def timeout(self) -> int:
        return round(self.deadline - self.started + DEADLINE_MARGIN_SECONDS)


# Dispatchers, one per request type -------------------------------------------------------------------------
def create(inv: Invocation) -> Outcome:
    """Validate (no service call on bad input), then create the job and watch it."""
    props = inv.event.resource_properties
    problems = inv.service.problems(props)
    if problems:
        return Failed(invalid_reason(problems))
    return start_job(inv, props)


def update(inv: Invocation) -> Outcome:
    """In place when the job already is what the properties describe; else a new job (a replacement)."""
    props, old = inv.event.resource_properties, inv.event.old_resource_properties
    problems = inv.service.problems(props)
    if problems:
        return Failed(invalid_reason(problems))
    physical_id = inv.event.physical_resource_id
    job = inv.service.get(physical_id) if inv.service.is_job_id(physical_id) else None
    if job is not None:
        logger.thread_safe_append_keys(job_name=job.name)
        signal, old_signal = long_wait.Signal.of(props), long_wait.Signal.of(old)
        if only_lifecycle_changed(old, props) or inv.service.matches(job, props):
            answer = update_in_place(inv, job, old, props)
            if signal is None and old_signal is not None:
                long_wait.stop_watching(job.arn)  # nobody waits on the old condition's watch any more
            if signal is None or signal == old_signal:
                return answer
            return long_wait.watch(inv, job, signal, answer)  # a new wait condition waits on the kept job
        if signal is not None and old_signal is not None and signal.url == old_signal.url:
            # A replacement under the condition the old job already signalled (long_wait's module docstring).
            return Failed(reason(f"Harvest job {job.name}", SAME_CONDITION))
        clash = inv.service.name_clash(job, props)
        if clash:
            return Failed(
                f"This change replaces harvest job {job.name}, but the new job would need its "
                f"{inv.service.name_property}, which the old job still holds on {clash}: "
                f"change or remove {inv.service.name_prop}"
            )
    return start_job(inv, props)


def delete(inv: Invocation) -> Outcome:
    """Cancel a job still running; anything else (placeholder id, ended or gone job) needs nothing."""
    physical_id = inv.event.physical_resource_id
    if not inv.service.is_job_id(physical_id):
        logger.info("No harvest job behind this resource (its create failed); nothing to delete")
        return Succeeded(physical_id)
    if long_wait.Signal.of(inv.event.resource_properties) is not None:
        long_wait.stop_watching(physical_id)  # nobody waits for this job any more
    if not inv.service.can_cancel:
        logger.info("This service can neither cancel nor delete harvest jobs; the job and its files stay")
        return Succeeded(physical_id)
    try:
        job = inv.service.get(physical_id)
    except Exception as error:
        return cancel_unread(inv, physical_id, error)
    if job is None:
        logger.info("Harvest job already gone")
    elif job.status in ACTIVE:
        logger.thread_safe_append_keys(job_name=job.name)
        inv.service.cancel(job.arn)
        logger.info("Harvest job cancelled", extra={"status": job.status.value})
    else:
        logger.info("Harvest job already ended; nothing to cancel", extra={"status": job.status.value})
    return Succeeded(physical_id)


def poll(inv: Invocation) -> Outcome:
    """An EventBridge poll of a Create or Update: one check, or watch up to the deadline when it is close."""
    progress = Progress.from_state(inv.event.get(STATE_KEY) or {})
    logger.thread_safe_append_keys(job_name=progress.name)
    if progress.job_id:
        _job_exists(inv, progress.job_id)
    return watch(inv, progress, inline_until=handler_clock.current.time())


# Steps -----------------------------------------------------------------------------------------------------
def start_job(inv: Invocation, props: Mapping[str, Any]) -> Outcome:
    now = handler_clock.current.time()
    # CloudFormation waits for this request at most ServiceTimeout; a longer Timeout is the wait condition's.
    timeout = min(int(props.get(key) or DEFAULT_TIMEOUT_SECONDS) for key in (spec.TIMEOUT, spec.SERVICE_TIMEOUT))
    signal = long_wait.Signal.of(props)
    progress = Progress(
        started=now,
        deadline=now + timeout - DEADLINE_MARGIN_SECONDS,
        wait=signal is None and spec.parse_bool(props.get(spec.WAIT_FOR_COMPLETION, True)),
        name=str(props.get(inv.service.name_property) or inv.derived_name()),
        pending=job_properties(props),
        signal=signal,
        wake=spec.parse_bool(props.get(spec.RETRY_WHEN_SLOT_FREES, False)),
        ends=_window_end(props),
    )
    logger.thread_safe_append_keys(job_name=progress.name)
    refusal = inv.service.preflight(props, name=progress.name, now=now)
    if refusal:
        return Failed(reason(f"Harvest job {progress.name}", refusal))
    return watch(inv, progress, inline_until=now + INLINE_WATCH_SECONDS)


def watch(inv: Invocation, progress: Progress, *, inline_until: float) -> Outcome:
    """Check, pause, check again until the job ends, the deadline passes, or it is time to hand over."""
    clock = handler_clock.current
    began = clock.time()
    inv.answer_by(progress.deadline + DEADLINE_MARGIN_SECONDS - ANSWER_BEFORE_CLOUDFORMATION_SECONDS)
    hand_over_by = began + inv.remaining_seconds() - LAMBDA_RESERVE_SECONDS
    while True:
        try:
            outcome = check(inv, progress)
            if outcome is None and clock.time() >= progress.deadline:
                outcome = give_up(inv, progress)
        except Exception as error:
            logger.exception("Harvest job call failed")
            return Failed(reason(f"Harvest job {progress.name}", cause_of(error)), _failure_id(inv, progress))
        if outcome is not None:
            return outcome
        now = clock.time()
        pause = min(pause_after(now - began), progress.deadline - now)
        next_poll_in_time = now + POLL_PERIOD_SECONDS <= progress.deadline
        if now + pause > hand_over_by or (now + pause > inline_until and next_poll_in_time):
            logger.info("Harvest job not finished yet; EventBridge polls from here", extra={"job": progress.job_id})
            wake_on = None
            if progress.wake:  # a ClipSet's clip (its lanes keep the waiters few): the channel group's job endings
                wake_on = inv.service.wake_pattern(
                    progress.pending or {}, progress.job_id, rules.function_arn(inv.context)
                )
            return InProgress(progress.to_state(), _failure_id(inv, progress), job=progress.job_id, wake_on=wake_on)
        clock.sleep(pause)


def pause_after(elapsed: float) -> float:
    """2 s between checks for the first 10 s of watching, then one second more every 10 s, at most 5 s."""
    return min(2.0 + elapsed // 10, 5.0)


def check(inv: Invocation, progress: Progress) -> Outcome | None:
    """One step: create the job if it does not exist yet, else read its status; None while undecided."""
    if progress.job_id:
        job = inv.service.get(progress.job_id)
        if job is None:
            return Failed(f"Harvest job {progress.name}: {DISAPPEARED}", _failure_id(inv, progress))
        return settle(inv, progress, job)
    if handler_clock.current.time() >= progress.deadline:  # e.g. the preflight's reads retried that long
        progress.problem = progress.problem or "the deadline came before CreateHarvestJob could be called"
        return None  # no job now: it would only be cancelled again (and a v1 job cannot be)
    try:
        job = inv.service.create(progress.pending or {}, name=progress.name, token=inv.digest)
    except QuotaExceeded as error:
        progress.problem = str(error)
        logger.warning("Service quota exceeded; the create will be retried", extra={"problem": str(error)})
        return None
    except NameInUse as error:
        advice = "" if progress.name == inv.derived_name() else f": change or remove {inv.service.name_prop}"
        return Failed(f"Cannot create harvest job {progress.name}, the name is taken ({error}){advice}")
    progress.job_id, progress.pending, progress.problem = job.arn, None, ""
    created = job.created_at.timestamp() if job.created_at else progress.started
    if created < progress.started:  # a redelivered request gets its first delivery's job: its Timeout began then
        progress.deadline -= progress.started - created
        progress.started = created
    _job_exists(inv, job.arn)
    logger.info("Harvest job created", extra={"job": job.arn, "status": job.status.value})
    if progress.signal is not None:
        return long_wait.watch(inv, job, progress.signal, Succeeded(job.arn, job.attributes()))
    if not progress.wait:
        return Succeeded(job.arn, job.attributes())
    return settle(inv, progress, job)


def settle(inv: Invocation, progress: Progress, job: Job) -> Outcome | None:
    """COMPLETED succeeds, FAILED or CANCELLED fails with the service's message last; None while active."""
    if job.status == JobStatus.COMPLETED:
        logger.info("Harvest job completed")
        return Succeeded(job.arn, job.attributes())
    if job.status in ACTIVE:
        return None
    message = str(inv.event.get(EVENT_MESSAGE_KEY) or "") or job.error_message or NO_ERROR_MESSAGE
    return Failed(reason(f"Harvest job {job.name} {job.status.value}", message), _failure_id(inv, progress))


def give_up(inv: Invocation, progress: Progress) -> Outcome:
    """The deadline has come: cancel the job (if there is one) and say why the request failed, and what to set."""
    subject = f"Harvest job {progress.name}"
    if not progress.job_id:
        return Failed(reason(subject, not_created(progress.timeout, progress.problem)))
    cancelled = inv.service.cancel(progress.job_id)
    logger.warning("Deadline reached; cancelling the harvest job", extra={"cancelled": cancelled})
    runs_for = progress.ends - progress.started if progress.ends is not None else None
    v1 = inv.event.resource_type == spec.V1_RESOURCE_TYPE
    maximum = spec.V1_TIMEOUT_MAX_SECONDS if v1 else spec.TIMEOUT_MAX_SECONDS
    cause = past_deadline(progress.timeout, cancelled, runs_for=runs_for, maximum=maximum)
    return Failed(reason(subject, cause), _failure_id(inv, progress))


def _window_end(props: Mapping[str, Any]) -> float | None:
    """When the job's window ends (v2: in its ScheduleConfiguration; v1: at the top), as a timestamp."""
    schedule = props.get(spec.SCHEDULE)
    text = schedule.get("EndTime") if isinstance(schedule, Mapping) else props.get(spec.V1_END)
    try:
        return spec.parse_timestamp(str(text)).timestamp()
    except ValueError:
        return None


def update_in_place(inv: Invocation, job: Job, old: Mapping[str, Any], props: Mapping[str, Any]) -> Outcome:
    """Keep the job: bring its tags to the new properties' and answer with its current attributes.

    Never waits: an in-place update (tags, lifecycle options, a rollback) must not hang on a running job.
    """
    old_tags: Mapping[str, str] = old.get(spec.TAGS) or {}
    new_tags: Mapping[str, str] = props.get(spec.TAGS) or {}
    add = {key: value for key, value in new_tags.items() if job.tags.get(key) != value}
    remove = sorted(key for key in old_tags if key not in new_tags)
    if add or remove:
        inv.service.retag(job.arn, add=add, remove=remove)
        logger.info("Harvest job tags updated", extra={"added": sorted(add), "removed": remove})
        job = inv.service.get(job.arn) or job
    return Succeeded(job.arn, job.attributes())


def cancel_unread(inv: Invocation, job_id: str, error: Exception) -> Outcome:
    """Delete when the job cannot be read: cancel it all the same (a job already ended or gone counts as done),
    so a rollback is not stuck on a read; fail with the read's error only when the cancel fails too."""
    logger.warning("Could not read the harvest job; cancelling it anyway", extra={"problem": cause_of(error)})
    try:
        inv.service.cancel(job_id)
    except Exception as cancel_error:
        logger.warning("Cancelling the unread harvest job failed too", extra={"problem": cause_of(cancel_error)})
        return Failed(reason(f"Harvest job {job_id.rsplit('/', 1)[-1]}", cause_of(error)))
    logger.info("Harvest job cancelled (or already ended) without reading it")
    return Succeeded(job_id)


# Small rules -----------------------------------------------------------------------------------------------
def only_lifecycle_changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether every changed property is one that does not describe the job (spec.LIFECYCLE_PROPERTIES)."""
    changed = {key for key in set(old) | set(new) if old.get(key) != new.get(key)}
    return changed <= spec.LIFECYCLE_PROPERTIES


def job_properties(props: Mapping[str, Any]) -> dict[str, Any]:
    """The properties a create needs: everything but the lifecycle options (tags are part of the create)."""
    return {key: value for key, value in props.items() if key == spec.TAGS or key not in spec.LIFECYCLE_PROPERTIES}


def _failure_id(inv: Invocation, progress: Progress) -> str | None:
    """A failed Create answers with its job's ARN, so the rollback's Delete can find the job; an Update keeps
    the old id (CloudFormation keeps the old resource when an update fails)."""
    return progress.job_id if progress.job_id and inv.event.request_type == "Create" else None


def _job_exists(inv: Invocation, job_id: str) -> None:
    if inv.event.request_type == "Create":
        inv.job_started(job_id)


def _pack(value: Mapping[str, Any]) -> str:
    """Compact text for the poll state, which must fit EventBridge's 8192-character Input."""
    raw = json.dumps(value, separators=(",", ":"), sort_keys=True).encode()
    return base64.b64encode(zlib.compress(raw, 9)).decode()


def _unpack(text: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(zlib.decompress(base64.b64decode(text)))
    return value
