"""What every harvest-job emulator shares, whatever its service: the request cycle, the clock, the scenario.

:class:`ScriptedJobsEmulator` answers one request at a time under a lock, at one instant of its ``clock``:
it routes and decodes the request with its service's :class:`~.protocol.RestJsonApi`, applies the
:class:`~mediapackage_harvest.rehearsal.scenario.Scenario`'s scripted faults and throttle, runs the service's
handler, logs the call and reports it (and every status change) to its listeners. A job's status is derived
lazily from its :class:`~mediapackage_harvest.rehearsal.scenario.JobScript` each time someone looks, and each
change is reported at the virtual time the script put it at. A subclass (one per service) gives its API, its
operation handlers, its job records and the few places where its service differs (the hooks below).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar
from urllib.parse import parse_qs, urlsplit

from mediapackage_harvest.rehearsal.authorization import AccessDenied, Authorizer
from mediapackage_harvest.rehearsal.emulator.protocol import ApiDict, ApiError, RestJsonApi
from mediapackage_harvest.rehearsal.local_server import LocalServer, Response
from mediapackage_harvest.rehearsal.scenario import Fault, Scenario, Throttle

MAX_WINDOW = timedelta(hours=24)  # a harvest window's longest span, in both services


class Clock(Protocol):
    """All the emulator needs from time: now, in epoch seconds."""

    def time(self) -> float: ...


@dataclass(frozen=True)
class Call:
    """One request as the emulator answered it; ``at`` is the clock's time when it arrived."""

    at: float
    operation: str
    job_name: str | None
    status: int
    error_code: str | None = None
    sent: str | None = None  # what a CreateHarvestJob carried, in one line (see ``_what_was_sent``)


EventCallback = Callable[[float, str, str], None]
Publish = Callable[[dict[str, object]], None]  # an EventBridge event (as PutEvents would carry it) to deliver
WakeAt = Callable[[float, Callable[[], None]], None]  # run a callback at a virtual time (epoch seconds)


class ScriptedJob(Protocol):
    """What the shared emulator machinery needs of a job: its name, status and scripted next change."""

    name: str
    arn: str
    status: str
    error_message: str | None

    def describe(self) -> ApiDict: ...

    def next_change(self) -> tuple[float, str] | None: ...

    def change(self, at: float, status: str) -> None: ...


_J = TypeVar("_J", bound=ScriptedJob)


class ScriptedJobsEmulator(LocalServer):
    """What every harvest-job emulator shares: one request at a time under a lock, at one instant of ``clock``;
    scripted faults and throttling from the :class:`Scenario`; the call log; status changes reported as they
    happen. A subclass gives its :class:`RestJsonApi`, its operation handlers and its job model; it serves
    over HTTP as a :class:`~mediapackage_harvest.rehearsal.local_server.LocalServer` (point boto3 at ``url``)."""

    name_member = "HarvestJobName"  # the output member that names the job, for the call log
    throttle_code = "ThrottlingException"  # the service's error for a throttled call
    internal_code = "InternalServerException"  # the service's 500
    # Scenarios script v2's error codes and operation names; a service that calls them otherwise maps them here.
    fault_codes: Mapping[str, str] = {}
    scenario_operations: Mapping[str, str] = {}
    # Extra members a scripted fault carries, by the service's code, so botocore's modeled parse sees them.
    fault_fields: Mapping[str, Mapping[str, str]] = {}
    iam_prefix = ""  # the service's IAM prefix, for the authorizer
    # Operations about an origin endpoint, not a job: their requests name no job.
    endpoint_operations = frozenset({"GetOriginEndpoint", "GetOriginEndpointPolicy", "DescribeOriginEndpoint"})

    def __init__(
        self,
        clock: Clock,
        scenario: Scenario | None,
        account: str,
        region: str,
        api: RestJsonApi,
    ) -> None:
        super().__init__()
        self.clock = clock
        self.scenario = scenario or Scenario()
        self.account = account
        self.region = region
        self.api = api
        self.calls: list[Call] = []
        self.internal_errors: list[Exception] = []  # emulator bugs, answered as the service's 500
        self._lock = threading.RLock()
        self._attempts: dict[tuple[str, str | None], int] = {}
        self._accepted: deque[float] = deque()  # times of the calls the throttle let through
        self._listeners: list[EventCallback] = []
        self._requests = 0
        self._handlers: dict[str, Callable[[ApiDict, float], ApiDict]] = {}
        self._publish: tuple[Publish, WakeAt] | None = None
        self.authorizer: Authorizer | None = None  # the rehearsal's IAM; None: every caller is allowed

    # Service hooks -------------------------------------------------------------------------------------------
    def _job_name_of(self, params: ApiDict) -> str | None:
        """The job a request is about, for fault matching and the call log."""
        raise NotImplementedError

    def _job_records(self) -> Iterable[ScriptedJob]:
        """The subclass's jobs, in creation order."""
        raise NotImplementedError

    def _fault_error(self, fault: Fault, attempt: int) -> ApiError:
        code = self.fault_codes.get(fault.code, fault.code)
        message = fault.message or f"Scripted {fault.code} on attempt {attempt} of {fault.operation}"
        return ApiError(code, message, self.fault_fields.get(code))

    def _what_was_sent(self, operation: str, params: ApiDict) -> str | None:
        """A one-line summary of what ``operation`` carried, for the call log and the timeline; None for calls
        whose request says nothing new (reads, lists)."""
        return None

    def _status_event(self, job: ScriptedJob, at: float) -> dict[str, object] | None:
        """The EventBridge event the service sends for ``job``'s status change at ``at``; None when it sends none."""
        return None

    def _authorize(self, headers: Mapping[str, str], operation: str, params: ApiDict) -> None:
        """IAM's judgement of the caller (see :mod:`~mediapackage_harvest.rehearsal.authorization`), when the
        rehearsal gave the emulator an authorizer; a refusal is AWS's ``AccessDeniedException`` (HTTP 403)."""
        if self.authorizer is None:
            return
        try:
            self.authorizer.check(headers, self.iam_prefix, operation, params)
            self._authorize_more(headers, operation, params)
        except AccessDenied as denied:
            raise ApiError("AccessDeniedException", str(denied), status=403) from None

    def _authorize_more(self, headers: Mapping[str, str], operation: str, params: ApiDict) -> None:
        """What else a call is authorized as (v1's CreateHarvestJob passes a role); nothing by default."""

    def _scenario_operation(self, operation: str) -> str:
        """The operation name faults and throttles in the scenario use for ``operation``."""
        return self.scenario_operations.get(operation, operation)

    # Inspection ----------------------------------------------------------------------------------------------
    def on_event(self, callback: EventCallback) -> None:
        """Call ``callback(time, kind, detail)`` for every API call (kind = operation) and status change
        (kind = "status"); ``detail`` starts with the job name ("clip-1: IN_PROGRESS"). A CreateHarvestJob's
        detail ends with what it was sent ("clip-1: 200 QUEUED; sent: endpoint ...; manifests ...")."""
        with self._lock:
            self._listeners.append(callback)

    def publish_events(self, publish: Publish, wake_at: WakeAt) -> None:
        """Publish the service's harvest-job events: ``publish(event)`` on each status change, at the time it
        happens; ``wake_at(time, callback)`` lets the emulator look at a job when its next change is due (status is
        otherwise derived only when someone asks), so an event goes out even while nobody calls the service."""
        with self._lock:
            self._publish = (publish, wake_at)

    # Requests ------------------------------------------------------------------------------------------------
    def dispatch(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Response:
        """Answer one HTTP request; everything happens under the state lock, at one instant of the clock."""
        with self._lock:
            now = self.clock.time()
            self._requests += 1
            request_id = str(uuid.UUID(int=self._requests))
            parts = urlsplit(target)
            operation_name, job_name, sent = "UnknownOperation", None, None
            try:
                operation, labels = self.api.route(method, parts.path)
                operation_name = operation.name
                params = self.api.decode(
                    operation, labels, parse_qs(parts.query, keep_blank_values=True), headers, body
                )
                job_name = None if operation_name in self.endpoint_operations else self._job_name_of(params)
                sent = self._what_was_sent(operation_name, params)
                self._authorize(headers, operation_name, params)
                self._scripted_fault(self._scenario_operation(operation_name), job_name)
                self._throttle(self._scenario_operation(operation_name), now)
                self.api.check(operation, params)
                output = self._handlers[operation_name](params, now)
                response = self.api.encode(operation, output, request_id)
                job_name = job_name or output.get(self.name_member)
                self._record(Call(now, operation_name, job_name, response.status, sent=sent), output.get("Status"))
            except ApiError as error:
                response = self.api.encode_error(error, request_id)
                self._record(Call(now, operation_name, job_name, response.status, error.code, sent), None)
            except Exception as bug:  # answered like the service's 500, kept for the test that caused it
                self.internal_errors.append(bug)
                internal = ApiError(self.internal_code, f"Emulator error: {bug!r}")
                response = self.api.encode_error(internal, request_id)
                self._record(Call(now, operation_name, job_name, response.status, internal.code, sent), None)
            return response

    def _record(self, call: Call, note: object) -> None:
        self.calls.append(call)
        detail = f"{call.status} {call.error_code}" if call.error_code else f"{call.status}"
        if isinstance(note, str):
            detail += f" {note}"
        if call.sent:
            detail += f"; sent: {call.sent}"
        self._emit(call.at, call.operation, f"{call.job_name or '*'}: {detail}")

    def _emit(self, at: float, kind: str, detail: str) -> None:
        for listener in self._listeners:
            listener(at, kind, detail)

    # Faults and throttling -----------------------------------------------------------------------------------
    def _scripted_fault(self, operation: str, job_name: str | None) -> None:
        """Count this attempt and raise the first scripted fault that applies to it."""
        per_operation = self._count((operation, None))
        per_job = self._count((operation, job_name)) if job_name is not None else None
        for fault in self.scenario.faults:
            if not fault.matches(operation, job_name):
                continue
            attempt = per_operation if fault.job_name is None else per_job
            if attempt is not None and fault.fails(attempt):
                raise self._fault_error(fault, attempt)

    def _count(self, key: tuple[str, str | None]) -> int:
        self._attempts[key] = self._attempts.get(key, 0) + 1
        return self._attempts[key]

    def _throttle(self, operation: str, now: float) -> None:
        throttle: Throttle | None = self.scenario.throttle
        if throttle is None or not throttle.covers(operation):
            return
        accepted = self._accepted
        while accepted and accepted[0] <= now - throttle.per_seconds:
            accepted.popleft()
        if len(accepted) >= throttle.max_calls:
            limit = f"at most {throttle.max_calls} calls per {throttle.per_seconds:g} s"
            raise ApiError(self.throttle_code, f"Rate exceeded: {limit}")
        accepted.append(now)

    # Inspection ----------------------------------------------------------------------------------------------
    def jobs(self) -> list[ApiDict]:
        """Every job as the service's Get/DescribeHarvestJob would return it now, in creation order."""
        with self._lock:
            now = self.clock.time()
            return [self._advance(job, now).describe() for job in self._job_records()]

    def job(self, arn: str) -> ApiDict:
        """One job as the service's Get/DescribeHarvestJob would return it now; KeyError for an unknown ARN."""
        with self._lock:
            for job in self._job_records():
                if job.arn == arn:
                    return self._advance(job, self.clock.time()).describe()
        raise KeyError(arn)

    # Job state -----------------------------------------------------------------------------------------------
    def _advance(self, job: _J, now: float) -> _J:
        """Apply every scripted status change due by ``now``, reporting each at the time it happened."""
        while (change := job.next_change()) is not None and change[0] <= now:
            at, status = change
            job.change(at, status)
            self._emit_status(job, at)
        return job

    def _emit_status(self, job: ScriptedJob, at: float) -> None:
        detail = f"{job.name}: {job.status}"
        if job.error_message and job.status == "FAILED":
            detail += f" ({job.error_message})"
        self._emit(at, "status", detail)
        if self._publish is None:
            return
        publish, wake_at = self._publish
        event = self._status_event(job, at)
        if event is not None:
            publish(event)
        change = job.next_change()
        if change is not None:
            wake_at(change[0], lambda: self._look_at(job))

    def _look_at(self, job: ScriptedJob) -> None:
        """Apply the job's changes due by now (a wake-up from :meth:`publish_events`'s clock)."""
        with self._lock:
            self._advance(job, self.clock.time())

    # Pieces of the services' operations ----------------------------------------------------------------------
    @property
    def partition(self) -> str:
        """The ARN partition of ``region``."""
        return "aws-cn" if self.region.startswith("cn-") else "aws-us-gov" if "gov" in self.region else "aws"

    def _page(
        self, matching: Sequence[_J], params: ApiDict, filters: Mapping[str, object]
    ) -> tuple[Sequence[_J], str | None]:
        """The page of ``matching`` a List call asks for (NextToken, MaxResults), and the token for the next one.

        A token is opaque and bound to the filters it was issued for; a bad one is the service's validation
        error (v2 names its type INVALID_PAGINATION_TOKEN)."""
        token = params.get("NextToken")
        offset = _page_offset(token, filters) if token else 0
        if offset is None:
            member = self.api.violation_member
            message = "NextToken: the pagination token is invalid or was issued for different filters"
            raise ApiError(self.api.validation_code, message, {member: "INVALID_PAGINATION_TOKEN"} if member else {})
        size = params.get("MaxResults") or self.scenario.list_page_size
        following = _page_token(offset + size, filters) if offset + size < len(matching) else None
        return matching[offset : offset + size], following


def job_event(
    emulator: ScriptedJobsEmulator, source: str, detail_type: str, arn: str, at: float, detail: dict[str, object]
) -> dict[str, object]:
    """An EventBridge event of ``emulator``'s account and Region about the job ``arn`` (a deterministic id)."""
    return {
        "version": "0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{arn}#{at}#{detail.get('Status', detail)}")),
        "detail-type": detail_type,
        "source": source,
        "account": emulator.account,
        "time": datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "region": emulator.region,
        "resources": [arn],
        "detail": detail,
    }


def fingerprint(params: ApiDict) -> str:
    """A stable digest of a request, to tell an idempotent retry from a reused ClientToken."""
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=_jsonable).encode()).hexdigest()


def _jsonable(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _page_token(offset: int, filters: Mapping[str, object]) -> str:
    """An opaque token bound to the filters it was issued for."""
    raw = json.dumps({"offset": offset, "filters": fingerprint(dict(filters))})
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _page_offset(token: str, filters: Mapping[str, object]) -> int | None:
    """Where the page ``token`` asks for starts; None for a token that is not ours or not for ``filters``."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        if data["filters"] == fingerprint(dict(filters)) and isinstance(data["offset"], int) and data["offset"] >= 0:
            return int(data["offset"])
    except (ValueError, KeyError, TypeError):
        pass
    return None
