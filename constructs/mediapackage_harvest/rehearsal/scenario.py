"""What the MediaPackage emulator should do during a rehearsal: job timings, outcomes, faults, limits.

A scenario is plain data so a rehearsal can be described in a JSON file next to the test that uses it, and
so a failing rehearsal can be replayed exactly. Every key is optional; unknown keys are errors (a typo must
not silently rehearse the default). Times are virtual seconds.

JSON format (every key optional; ``default_job``, ``active_jobs_quota`` and ``list_page_size`` show their
defaults, ``throttle`` defaults to null and ``jobs`` / ``faults`` to empty)::

    {
      "default_job": {"queued_seconds": 5, "in_progress_seconds": 30, "outcome": "COMPLETED"},
      "jobs": {
        "clip-broken-*": {"outcome": "FAILED", "error_message": "Manifest not found on endpoint"},
        "long-clip": {"queued_seconds": 60, "in_progress_seconds": 1800}
      },
      "faults": [
        {"operation": "CreateHarvestJob", "code": "ThrottlingException", "attempts": [1, 2]},
        {"operation": "GetHarvestJob", "code": "InternalServerException", "attempts": "every",
         "job_name": "flaky-*", "message": "try again"}
      ],
      "active_jobs_quota": 10,
      "throttle": {"max_calls": 5, "per_seconds": 1, "operations": ["GetHarvestJob"]},
      "list_page_size": 10,
      "events": {"delay_seconds": 0, "loss": 0, "duplicate_after_seconds": null},
      "origin_endpoints": {"live/main/hls": {"startover_window_seconds": 86400, "hls_manifests": ["index"]}},
      "stack_endpoints": "existing",
      "rules_quota": 300
    }

- ``default_job`` / ``jobs`` values: ``queued_seconds``, ``in_progress_seconds``, ``outcome`` (COMPLETED,
  FAILED or CANCELLED) and ``error_message`` (the ErrorMessage of a FAILED job).
- ``jobs``: an exact name wins over patterns; patterns are tried in file order. A job's omitted keys come
  from ``default_job``.
- ``faults``: ``attempts`` are 1-based and counted per operation, or per operation and job name when the fault
  has a ``job_name`` (so ``[1]`` with a pattern fails the first call for *each* matching job). The first fault
  that applies wins. ``code`` is one of :data:`FAULT_CODES`.
- ``active_jobs_quota``: QUEUED + IN_PROGRESS jobs per channel group; one more is ServiceQuotaExceededException.
- ``throttle``: at most ``max_calls`` accepted calls (of ``operations``, or of every operation when omitted)
  in any ``per_seconds`` window of virtual time; the rest get ThrottlingException (HTTP 429).
- ``list_page_size``: ListHarvestJobs' page size when the caller gives no MaxResults.
- ``events``: how EventBridge delivers MediaPackage's harvest-job events (published on each status change) to
  the stack's rules: ``delay_seconds`` after the change; ``loss`` ``"all"`` or the fraction lost (each event
  drawn from the rehearsal's seeded random); ``duplicate_after_seconds`` delivers each event again that long
  after the first delivery (null: once).
- ``origin_endpoints``: endpoints outside the stack, by ``<channel group>/<channel>/<endpoint>`` (v1: the
  endpoint's Id): ``startover_window_seconds`` (0: none), ``hls_manifests`` / ``dash_manifests`` /
  ``low_latency_hls_manifests``, ``harvester_grant`` (false: no policy) and ``exists`` (false: not found).
- ``stack_endpoints``: when the origin endpoints the stack declares were created, and so what they hold: an
  endpoint receives nothing before it exists. ``"existing"`` (default): by an earlier deploy, receiving the stream
  since before every window (said as an assumption; the README's two-step deploy). ``"new"``: by the rehearsal's
  first deploy, so a window starting before that deploy is refused, as MediaPackage would. An endpoint a later
  deploy of the same rehearsal adds is always created by that deploy.
- ``rules_quota``: how many rules EventBridge's default bus may hold (300, its default quota in most Regions; the
  stack's own rules count); a PutRule for one more gets LimitExceededException.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Literal, cast

Outcome = Literal["COMPLETED", "FAILED", "CANCELLED"]
OUTCOMES: tuple[Outcome, ...] = ("COMPLETED", "FAILED", "CANCELLED")
# When the origin endpoints a stack declares were created: by an earlier deploy, or by the rehearsal's first one.
StackEndpoints = Literal["existing", "new"]
STACK_ENDPOINTS: tuple[StackEndpoints, ...] = ("existing", "new")

# The error codes the mediapackagev2 model declares for the harvest-job operations.
FAULT_CODES = frozenset(
    {
        "ThrottlingException",
        "InternalServerException",
        "AccessDeniedException",
        "ValidationException",
        "ConflictException",
        "ResourceNotFoundException",
        "ServiceQuotaExceededException",
    }
)

# The operations a fault or a throttle may name (the ones the emulator serves).
OPERATIONS = frozenset(
    {
        "CreateHarvestJob",
        "GetHarvestJob",
        "ListHarvestJobs",
        "CancelHarvestJob",
        "TagResource",
        "UntagResource",
        "ListTagsForResource",
        "GetOriginEndpoint",
        "GetOriginEndpointPolicy",
    }
)
# An origin endpoint's manifest keys in a scenario, and CreateHarvestJob's kind for each.
MANIFEST_KEYS = {
    "hls_manifests": "HlsManifests",
    "dash_manifests": "DashManifests",
    "low_latency_hls_manifests": "LowLatencyHlsManifests",
}

DEFAULT_FAILURE_MESSAGE = "The harvest job failed (scripted by the rehearsal scenario)."


class ScenarioError(ValueError):
    """A scenario that cannot be rehearsed; the message names the offending key path."""


@dataclass(frozen=True)
class JobScript:
    """How one harvest job moves: QUEUED for ``queued_seconds``, IN_PROGRESS for ``in_progress_seconds``, then
    ``outcome``. A CANCELLED outcome plays the service cancelling the job by itself."""

    queued_seconds: float = 5.0
    in_progress_seconds: float = 30.0
    outcome: Outcome = "COMPLETED"
    error_message: str = DEFAULT_FAILURE_MESSAGE  # reported only when the outcome is FAILED

    @property
    def finishes_after(self) -> float:
        """Seconds from creation to the final status."""
        return self.queued_seconds + self.in_progress_seconds


@dataclass(frozen=True)
class Fault:
    """A scripted error for some calls of one operation (see the module docstring for how attempts count)."""

    operation: str
    code: str
    attempts: frozenset[int] | Literal["every"] = "every"
    job_name: str | None = None  # exact name or fnmatch pattern; None matches every call
    message: str | None = None

    def matches(self, operation: str, job_name: str | None) -> bool:
        """Whether this fault is about the call at all (before looking at the attempt number)."""
        if operation != self.operation:
            return False
        return self.job_name is None or (job_name is not None and fnmatchcase(job_name, self.job_name))

    def fails(self, attempt: int) -> bool:
        """Whether the call with this 1-based attempt number gets the error."""
        return self.attempts == "every" or attempt in self.attempts


@dataclass(frozen=True)
class Throttle:
    """A rate limit on virtual time: ``max_calls`` per ``per_seconds`` (of ``operations``, or of all)."""

    max_calls: int
    per_seconds: float = 1.0
    operations: frozenset[str] | None = None

    def covers(self, operation: str) -> bool:
        """Whether ``operation`` counts against this throttle."""
        return self.operations is None or operation in self.operations


@dataclass(frozen=True)
class EventDelivery:
    """How EventBridge delivers the harvest-job events (best effort: late, twice, or never)."""

    delay_seconds: float = 0.0
    loss: float = 0.0  # the fraction of events lost; 1.0 ("all" in JSON) loses every one
    duplicate_after_seconds: float | None = None


@dataclass(frozen=True)
class EndpointScript:
    """An origin endpoint outside the stack, as the scenario describes it (``exists`` false: not found)."""

    startover_window_seconds: int = 86400
    hls_manifests: tuple[str, ...] = ()
    dash_manifests: tuple[str, ...] = ()
    low_latency_hls_manifests: tuple[str, ...] = ()
    harvester_grant: bool = True
    exists: bool = True

    def manifests(self) -> dict[str, tuple[str, ...]]:
        """Manifest names by CreateHarvestJob's kind (HlsManifests, ...)."""
        return {kind: getattr(self, key) for key, kind in MANIFEST_KEYS.items()}


@dataclass(frozen=True)
class Scenario:
    """Everything the emulator may be told; the defaults rehearse a healthy service."""

    default_job: JobScript = field(default_factory=JobScript)
    jobs: Mapping[str, JobScript] = field(default_factory=dict)
    faults: tuple[Fault, ...] = ()
    active_jobs_quota: int = 10
    throttle: Throttle | None = None
    list_page_size: int = 10
    events: EventDelivery = field(default_factory=EventDelivery)
    origin_endpoints: Mapping[str, EndpointScript] = field(default_factory=dict)
    stack_endpoints: StackEndpoints = "existing"
    rules_quota: int = 300  # rules the default event bus may hold (EventBridge's default quota per Region)

    def script_for(self, job_name: str) -> JobScript:
        """The script of ``job_name``: an exact entry, else the first matching pattern, else the default."""
        if job_name in self.jobs:
            return self.jobs[job_name]
        for pattern, script in self.jobs.items():
            if fnmatchcase(job_name, pattern):
                return script
        return self.default_job

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        """Build a scenario from parsed JSON; :class:`ScenarioError` names the first bad key."""
        _only_keys(data, {f.name for f in fields(cls)}, "scenario")
        default_job = _job_script(data.get("default_job", {}), JobScript(), "default_job")
        jobs_data = _mapping(data.get("jobs", {}), "jobs")
        jobs = {str(name): _job_script(value, default_job, f"jobs[{name!r}]") for name, value in jobs_data.items()}
        faults_data = data.get("faults", [])
        if not isinstance(faults_data, list):
            raise ScenarioError(f"faults: must be a list, got {type(faults_data).__name__}")
        faults = tuple(_fault(item, f"faults[{index}]") for index, item in enumerate(faults_data))
        throttle_data = data.get("throttle")
        return cls(
            default_job=default_job,
            jobs=jobs,
            faults=faults,
            active_jobs_quota=_integer(data.get("active_jobs_quota", 10), "active_jobs_quota", minimum=0),
            throttle=None if throttle_data is None else _throttle(throttle_data, "throttle"),
            list_page_size=_integer(data.get("list_page_size", 10), "list_page_size", minimum=1, maximum=100),
            events=_event_delivery(data.get("events", {}), "events"),
            origin_endpoints={
                str(key): _endpoint(value, f"origin_endpoints[{key!r}]")
                for key, value in _mapping(data.get("origin_endpoints", {}), "origin_endpoints").items()
            },
            stack_endpoints=cast(
                StackEndpoints, _one_of(data.get("stack_endpoints", "existing"), STACK_ENDPOINTS, "stack_endpoints")
            ),
            rules_quota=_integer(data.get("rules_quota", 300), "rules_quota", minimum=0),
        )

    @classmethod
    def load(cls, path: Path | str) -> Scenario:
        """Read a scenario JSON file (format in the module docstring)."""
        try:
            data = json.loads(Path(path).read_text())
        except json.JSONDecodeError as error:
            raise ScenarioError(f"{path}: not valid JSON: {error}") from error
        try:
            return cls.from_dict(_mapping(data, "scenario"))
        except ScenarioError as error:
            raise ScenarioError(f"{path}: {error}") from error


# Parsing helpers: each checks one kind of value and names the key path when it is wrong. -------------------


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ScenarioError(f"{where}: must be an object, got {type(value).__name__}")
    return cast(Mapping[str, Any], value)


def _only_keys(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ScenarioError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


def _number(value: object, where: str, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"{where}: must be a number, got {value!r}")
    if value < minimum:
        raise ScenarioError(f"{where}: must be at least {minimum:g}, got {value!r}")
    return float(value)


def _integer(value: object, where: str, *, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScenarioError(f"{where}: must be an integer, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ScenarioError(f"{where}: must be {bound}, got {value}")
    return value


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ScenarioError(f"{where}: must be a non-empty string, got {value!r}")
    return value


def _one_of(value: object, choices: frozenset[str] | tuple[str, ...], where: str) -> str:
    if value not in choices:
        raise ScenarioError(f"{where}: must be one of {', '.join(sorted(choices))}, got {value!r}")
    return cast(str, value)


def _job_script(value: object, base: JobScript, where: str) -> JobScript:
    """A job script; omitted keys come from ``base`` (the scenario's default job)."""
    data = _mapping(value, where)
    _only_keys(data, {f.name for f in fields(JobScript)}, where)
    script = base
    if "queued_seconds" in data:
        script = replace(script, queued_seconds=_number(data["queued_seconds"], f"{where}.queued_seconds"))
    if "in_progress_seconds" in data:
        seconds = _number(data["in_progress_seconds"], f"{where}.in_progress_seconds")
        script = replace(script, in_progress_seconds=seconds)
    if "outcome" in data:
        script = replace(script, outcome=cast(Outcome, _one_of(data["outcome"], OUTCOMES, f"{where}.outcome")))
    if "error_message" in data:
        script = replace(script, error_message=_text(data["error_message"], f"{where}.error_message"))
    return script


def _fault(value: object, where: str) -> Fault:
    data = _mapping(value, where)
    _only_keys(data, {f.name for f in fields(Fault)}, where)
    for key in ("operation", "code"):
        if key not in data:
            raise ScenarioError(f"{where}.{key}: is required")
    job_name = data.get("job_name")
    message = data.get("message")
    return Fault(
        operation=_one_of(data["operation"], OPERATIONS, f"{where}.operation"),
        code=_one_of(data["code"], FAULT_CODES, f"{where}.code"),
        attempts=_attempts(data.get("attempts", "every"), f"{where}.attempts"),
        job_name=None if job_name is None else _text(job_name, f"{where}.job_name"),
        message=None if message is None else _text(message, f"{where}.message"),
    )


def _endpoint(value: object, where: str) -> EndpointScript:
    data = _mapping(value, where)
    _only_keys(data, {f.name for f in fields(EndpointScript)}, where)
    changes: dict[str, Any] = {}
    if "startover_window_seconds" in data:
        key = "startover_window_seconds"
        changes[key] = _integer(data[key], f"{where}.{key}", minimum=0)
    for key in MANIFEST_KEYS:
        if key in data:
            names = data[key]
            if not isinstance(names, list):
                raise ScenarioError(f"{where}.{key}: must be a list of manifest names, got {names!r}")
            changes[key] = tuple(_text(n, f"{where}.{key}[{i}]") for i, n in enumerate(names))
    for key in ("harvester_grant", "exists"):
        if key in data:
            if not isinstance(data[key], bool):
                raise ScenarioError(f"{where}.{key}: must be true or false, got {data[key]!r}")
            changes[key] = data[key]
    return EndpointScript(**changes)


def _attempts(value: object, where: str) -> frozenset[int] | Literal["every"]:
    if value == "every":
        return "every"
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ScenarioError(f'{where}: must be "every" or a non-empty list of attempt numbers, got {value!r}')
    return frozenset(_integer(item, f"{where}[{index}]", minimum=1) for index, item in enumerate(value))


def _throttle(value: object, where: str) -> Throttle:
    data = _mapping(value, where)
    _only_keys(data, {f.name for f in fields(Throttle)}, where)
    if "max_calls" not in data:
        raise ScenarioError(f"{where}.max_calls: is required")
    operations = data.get("operations")
    if operations is not None:
        if not isinstance(operations, list) or not operations:
            raise ScenarioError(f"{where}.operations: must be a non-empty list of operation names")
        operations = frozenset(
            _one_of(item, OPERATIONS, f"{where}.operations[{index}]") for index, item in enumerate(operations)
        )
    per_seconds = _number(data.get("per_seconds", 1.0), f"{where}.per_seconds")
    if per_seconds <= 0:
        raise ScenarioError(f"{where}.per_seconds: must be greater than 0")
    return Throttle(
        max_calls=_integer(data["max_calls"], f"{where}.max_calls", minimum=1),
        per_seconds=per_seconds,
        operations=operations,
    )


def _event_delivery(value: object, where: str) -> EventDelivery:
    data = _mapping(value, where)
    _only_keys(data, {f.name for f in fields(EventDelivery)}, where)
    loss = data.get("loss", 0.0)
    if loss == "all":
        loss = 1.0
    elif isinstance(loss, bool) or not isinstance(loss, int | float) or not 0 <= loss <= 1:
        raise ScenarioError(f'{where}.loss: must be "all" or a fraction from 0 to 1, got {loss!r}')
    duplicate = data.get("duplicate_after_seconds")
    return EventDelivery(
        delay_seconds=_number(data.get("delay_seconds", 0.0), f"{where}.delay_seconds"),
        loss=float(loss),
        duplicate_after_seconds=None if duplicate is None else _number(duplicate, f"{where}.duplicate_after_seconds"),
    )
