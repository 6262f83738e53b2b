"""A wire-level MediaPackage v2 emulator: unmodified boto3 reaches it through ``AWS_ENDPOINT_URL_MEDIAPACKAGEV2``.

There is no AWS account anywhere in this project, so the handler's MediaPackage behaviour is proven against
this HTTP server instead. It speaks rest-json exactly as the botocore ``mediapackagev2`` 2022-12-25 model
describes it: routes, members' locations (URI, query string, headers, body), limits, timestamps and errors
all come from that model, so what boto3 parses here is what it would parse from the service.

Time comes from the ``clock`` given to the emulator (the rehearsal's virtual clock, or a test's fake):
a job's status is derived lazily from its :class:`~mediapackage_harvest.rehearsal.scenario.JobScript` each
time someone looks, and status changes are reported at the virtual time the script put them at.

The module has layers so that a second service model sits beside v2 without a rewrite:

- :class:`RestJsonApi` and :func:`serve` know the protocol: routing by the model's ``http`` method and
  ``requestUri``, decoding requests into member-name dicts, constraint checks, encoding outputs and errors.
- :class:`ScriptedJobsEmulator` knows what every harvest-job service shares here: the lock, the call log,
  scripted faults and throttling, status changes on the clock.
- :class:`MediaPackageV2Emulator` knows v2 harvest jobs: idempotency, names, statuses, quota, tags.
- :class:`MediaPackageV1Emulator` knows v1 harvest jobs (``mediapackage`` 2017-10-12, reached through
  ``AWS_ENDPOINT_URL_MEDIAPACKAGE``): IDs, IN_PROGRESS then SUCCEEDED or FAILED, no cancel, no delete.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from copy import deepcopy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from mediapackage_harvest.rehearsal.scenario import Fault, JobScript, Scenario, Throttle

ApiDict = dict[str, Any]


class Clock(Protocol):
    """All the emulator needs from time: now, in epoch seconds."""

    def time(self) -> float: ...


# =============================================================================================================
# Protocol layer: one rest-json service model.
# =============================================================================================================


class ApiError(Exception):
    """An error response: ``code`` goes to ``x-amzn-errortype``, ``fields`` are the error shape's extra members."""

    def __init__(
        self, code: str, message: str, fields: Mapping[str, str] | None = None, status: int | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.fields = dict(fields or {})
        self.status = status  # None: the model's httpStatusCode for ``code``


@dataclass(frozen=True)
class Response:
    """An HTTP answer, kept apart from the socket so the protocol layer can be tested without a server."""

    status: int
    headers: dict[str, str]
    body: bytes = b""


@dataclass(frozen=True)
class Violation:
    """One broken model constraint; ``kind`` is a ValidationExceptionType value (MEMBER_MISSING, ...)."""

    path: str
    message: str
    kind: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class _Route:
    """One operation's ``http`` trait: literals match exactly, ``{Label}`` one segment, ``{Label+}`` the rest."""

    operation: OperationModel
    method: str
    segments: tuple[str, ...]

    @property
    def specificity(self) -> int:
        return sum(not s.startswith("{") for s in self.segments)

    def match(self, method: str, segments: list[str]) -> dict[str, str] | None:
        if method != self.method:
            return None
        labels: dict[str, str] = {}
        for index, template in enumerate(self.segments):
            if template.startswith("{") and template.endswith("+}"):
                labels[template[1:-2]] = "/".join(unquote(s) for s in segments[index:])
                return labels
            if index >= len(segments):
                return None
            if template.startswith("{"):
                if not segments[index]:
                    return None
                labels[template[1:-1]] = unquote(segments[index])
            elif template != segments[index]:
                return None
        return labels if len(segments) == len(self.segments) else None


@functools.cache
def _service_model(service: str, api_version: str) -> ServiceModel:
    """Loaded once per process: reading and resolving a model takes longer than a rehearsal's API calls."""
    return botocore.session.get_session().get_service_model(service, api_version)


def _split_path(path: str) -> list[str]:
    """Segments of a raw (still percent-encoded) path, so an encoded '/' stays inside its label."""
    return path.strip("/").split("/") if path.strip("/") else []


class RestJsonApi:
    """The wire format of one rest-json service model, restricted to the operations an emulator serves."""

    def __init__(
        self,
        model: ServiceModel,
        operations: Iterable[str],
        *,
        validation_code: str,
        violation_member: str | None = None,
    ) -> None:
        """``validation_code`` is the service's error for bad input; ``violation_member`` the member of that
        error which carries :attr:`Violation.kind` (v2: ValidationExceptionType), if it has one."""
        if model.protocol != "rest-json":
            raise ValueError(f"{model.service_name} speaks {model.protocol}, not rest-json")
        self.model = model
        self.validation_code = validation_code
        self.violation_member = violation_member
        routes = []
        for name in operations:
            operation = model.operation_model(name)
            uri = str(operation.http["requestUri"]).split("?", 1)[0]
            routes.append(_Route(operation, str(operation.http["method"]).upper(), tuple(_split_path(uri))))
        # The most literal template wins where two could match (".../harvestJob" before ".../{Name}").
        self.routes = sorted(routes, key=lambda r: -r.specificity)
        self.error_statuses = {
            shape.name: int(shape.metadata.get("error", {}).get("httpStatusCode", 400)) for shape in model.error_shapes
        }

    @classmethod
    def load(
        cls,
        service: str,
        api_version: str,
        operations: Iterable[str],
        *,
        validation_code: str,
        violation_member: str | None = None,
    ) -> RestJsonApi:
        """The API from the botocore model installed with boto3 (the authority on the wire format)."""
        model = _service_model(service, api_version)
        return cls(model, operations, validation_code=validation_code, violation_member=violation_member)

    # Requests ------------------------------------------------------------------------------------------------
    def route(self, method: str, path: str) -> tuple[OperationModel, dict[str, str]]:
        segments = _split_path(path)
        for route in self.routes:
            labels = route.match(method.upper(), segments)
            if labels is not None:
                return route.operation, labels
        raise ApiError("UnknownOperationException", f"No operation matches {method} {path}", status=404)

    def decode(
        self,
        operation: OperationModel,
        labels: Mapping[str, str],
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> ApiDict:
        """The request as a dict keyed by member names (timestamps as aware datetimes), before constraint checks."""
        try:
            return self._decode(operation, labels, query, headers, body)
        except _Mistyped as mistyped:
            raise self.invalid([Violation(mistyped.path, mistyped.problem, "MEMBER_INVALID")]) from mistyped

    def _decode(
        self,
        operation: OperationModel,
        labels: Mapping[str, str],
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> ApiDict:
        shape = operation.input_shape
        if shape is None:
            return {}
        document = self._json_body(body)
        params: ApiDict = {}
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            wire = str(member.serialization.get("name", name))
            if location == "uri":
                if wire in labels:
                    params[name] = _from_text(member, labels[wire], name, "iso8601")
            elif location == "querystring":
                if wire in query:
                    values = query[wire]
                    if isinstance(member, ListShape):
                        params[name] = [
                            _from_text(member.member, v, f"{name}[{i}]", "iso8601") for i, v in enumerate(values)
                        ]
                    else:
                        params[name] = _from_text(member, values[0], name, "iso8601")
            elif location == "header":
                value = headers.get(wire.lower())
                if value is not None:
                    params[name] = _from_text(member, value, name, "rfc822")
            elif wire in document:
                params[name] = _from_json(member, document[wire], name)
        return params

    def _json_body(self, body: bytes) -> ApiDict:
        if not body.strip():
            return {}
        try:
            document = json.loads(body)
        except ValueError as error:
            raise ApiError(
                "SerializationException", f"The request body is not valid JSON: {error}", status=400
            ) from error
        if not isinstance(document, dict):
            raise ApiError("SerializationException", "The request body must be a JSON object", status=400)
        return document

    def check(self, operation: OperationModel, params: ApiDict) -> None:
        """Raise the service's validation error when ``params`` break the model's constraints."""
        shape = operation.input_shape
        violations = _violations(shape, params, "") if shape is not None else []
        if violations:
            raise self.invalid(violations)

    def invalid(self, violations: list[Violation]) -> ApiError:
        count = len(violations)
        message = f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(map(str, violations))
        fields = {self.violation_member: violations[0].kind} if self.violation_member else {}
        return ApiError(self.validation_code, message, fields)

    # Responses -----------------------------------------------------------------------------------------------
    def encode(self, operation: OperationModel, output: ApiDict, request_id: str) -> Response:
        status = int(operation.http.get("responseCode", 200))
        headers = {"x-amzn-requestid": request_id}
        shape = operation.output_shape
        if shape is None:
            return Response(status, headers)
        document: ApiDict = {}
        for name, member in shape.members.items():
            if name not in output or output[name] is None:
                continue
            location = member.serialization.get("location")
            wire = str(member.serialization.get("name", name))
            if location == "header":
                headers[wire] = _to_text(member, output[name])
            elif location == "statusCode":
                status = int(output[name])
            else:
                document[wire] = _to_json(member, output[name])
        headers["Content-Type"] = "application/json"
        return Response(status, headers, json.dumps(document).encode())

    def encode_error(self, error: ApiError, request_id: str) -> Response:
        """``x-amzn-errortype`` carries the code (botocore's RestJSONParser reads it first); the body carries the
        message twice: ``message`` for ``Error.Message`` and the model's ``Message`` member for the modeled parse."""
        status = error.status or self.error_statuses.get(error.code, 400)
        body = {"message": error.message, "Message": error.message, **error.fields}
        headers = {
            "x-amzn-requestid": request_id,
            "x-amzn-errortype": error.code,
            "Content-Type": "application/json",
        }
        return Response(status, headers, json.dumps(body).encode())


# Wire conversions ------------------------------------------------------------------------------------------


class _Mistyped(Exception):
    """A request value of the wrong type; :meth:`RestJsonApi.decode` turns it into the service's error."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def _from_text(shape: Shape, text: str, path: str, timestamp_format: str) -> Any:
    """A scalar carried as text (URI label, query string, header)."""
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
        if kind == "boolean":
            if text not in ("true", "false"):
                raise ValueError(text)
            return text == "true"
        if kind == "timestamp":
            if timestamp_format == "rfc822":
                return parsedate_to_datetime(text).astimezone(UTC)
            return _aware(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except (ValueError, TypeError) as error:
        raise _Mistyped(path, f"{text!r} is not a valid {kind}") from error
    return text


def _from_json(shape: Shape, value: Any, path: str) -> Any:
    """A body value, type-checked against its shape; members by name, timestamps as aware datetimes."""
    kind = shape.type_name
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            raise _Mistyped(path, "must be an object")
        result: ApiDict = {}
        for name, member in shape.members.items():
            wire = str(member.serialization.get("name", name))
            if wire in value and value[wire] is not None:
                result[name] = _from_json(member, value[wire], f"{path}.{name}")
        return result
    if isinstance(shape, ListShape):
        if not isinstance(value, list):
            raise _Mistyped(path, "must be a list")
        return [_from_json(shape.member, item, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(shape, MapShape):
        if not isinstance(value, dict):
            raise _Mistyped(path, "must be an object")
        return {str(k): _from_json(shape.value, v, f"{path}.{k}") for k, v in value.items()}
    if kind == "timestamp":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str):
            return _from_text(shape, value, path, "iso8601")
        raise _Mistyped(path, "must be a timestamp (epoch seconds)")
    expected: dict[str, type | tuple[type, ...]] = {
        "string": str,
        "integer": int,
        "long": int,
        "boolean": bool,
        "float": (int, float),
        "double": (int, float),
    }
    wanted = expected.get(kind)
    if wanted is not None and (not isinstance(value, wanted) or (kind != "boolean" and isinstance(value, bool))):
        raise _Mistyped(path, f"must be a {kind}")
    return value


def _to_json(shape: Shape, value: Any) -> Any:
    """A member value as rest-json writes it: timestamps as epoch seconds, structure members by wire name."""
    if isinstance(shape, StructureShape):
        return {
            str(member.serialization.get("name", name)): _to_json(member, value[name])
            for name, member in shape.members.items()
            if value.get(name) is not None
        }
    if isinstance(shape, ListShape):
        return [_to_json(shape.member, item) for item in value]
    if isinstance(shape, MapShape):
        return {k: _to_json(shape.value, v) for k, v in value.items()}
    if shape.type_name == "timestamp":
        seconds = round(_aware(value).timestamp(), 3)
        return int(seconds) if seconds.is_integer() else seconds
    return value


def _to_text(shape: Shape, value: Any) -> str:
    if shape.type_name == "timestamp":
        return format_datetime(_aware(value), usegmt=True)
    if shape.type_name == "boolean":
        return "true" if value else "false"
    return str(value)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# Constraint checks -----------------------------------------------------------------------------------------


def _violations(shape: Shape, value: Any, path: str) -> list[Violation]:
    """Every broken constraint (required, length, pattern, range, enum) under ``value``, in member order."""
    found: list[Violation] = []
    if isinstance(shape, StructureShape):
        for name in shape.required_members:
            if value.get(name) is None:
                found.append(Violation(_join(path, name), "is required", "MEMBER_MISSING"))
        for name, member in shape.members.items():
            if value.get(name) is not None:
                found += _violations(member, value[name], _join(path, name))
        return found
    if isinstance(shape, ListShape):
        found += _length(shape, len(value), path, "item(s)")
        for index, item in enumerate(value):
            found += _violations(shape.member, item, f"{path}[{index}]")
        return found
    if isinstance(shape, MapShape):
        found += _length(shape, len(value), path, "entry(ies)")
        for key, item in value.items():
            found += _violations(shape.key, key, f"{path} key {key!r}")
            found += _violations(shape.value, item, f"{path}.{key}")
        return found
    if shape.type_name == "string":
        found += _length(shape, len(value), path, "character(s)")
        pattern = shape.metadata.get("pattern")
        if pattern is not None and re.fullmatch(pattern, value) is None:
            found.append(Violation(path, f"must match the pattern {pattern}", "MEMBER_DOES_NOT_MATCH_PATTERN"))
        enum = shape.metadata.get("enum")
        if enum and value not in enum:
            found.append(Violation(path, f"must be one of {', '.join(enum)}", "MEMBER_INVALID_ENUM_VALUE"))
    elif shape.type_name in ("integer", "long", "float", "double"):
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and value < low:
            found.append(Violation(path, f"must be at least {low}", "MEMBER_MIN_VALUE"))
        if high is not None and value > high:
            found.append(Violation(path, f"must be at most {high}", "MEMBER_MAX_VALUE"))
    return found


def _length(shape: Shape, length: int, path: str, unit: str) -> list[Violation]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and length < low:
        return [Violation(path, f"must have at least {low} {unit}", "MEMBER_MIN_LENGTH")]
    if high is not None and length > high:
        return [Violation(path, f"must have at most {high} {unit}", "MEMBER_MAX_LENGTH")]
    return []


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# HTTP glue -------------------------------------------------------------------------------------------------

Dispatch = Callable[[str, str, Mapping[str, str], bytes], Response]


def serve(dispatch: Dispatch) -> ThreadingHTTPServer:
    """An HTTP/1.1 server on 127.0.0.1 (a free port) that hands every request to ``dispatch``; not yet running."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as boto3's connection pool expects
        disable_nagle_algorithm = True  # headers and body go out in two writes; don't wait 40 ms between them

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}  # HTTP header names are case-insensitive
            response = dispatch(self.command, self.path, headers, body)
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if response.body and self.command != "HEAD":
                self.wfile.write(response.body)

        # BaseHTTPRequestHandler looks these names up; every method goes through the same dispatch.
        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _answer  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the emulator's ``calls`` are the log."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return server


# =============================================================================================================
# Service layer: MediaPackage v2 harvest jobs.
# =============================================================================================================

V2_OPERATIONS = (
    "CreateHarvestJob",
    "GetHarvestJob",
    "ListHarvestJobs",
    "CancelHarvestJob",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
)
ACTIVE = frozenset({"QUEUED", "IN_PROGRESS"})
MAX_WINDOW = timedelta(hours=24)
MANIFEST_KINDS = ("HlsManifests", "DashManifests", "LowLatencyHlsManifests")
_SPEC_MEMBERS = ("HarvestedManifests", "ScheduleConfiguration", "Destination", "Description")
# AWS's general tagging limits; the v2 model leaves TagMap unconstrained (a guess at what the service enforces).
TAGS_MAX, TAG_KEY_MAX, TAG_VALUE_MAX = 50, 128, 256
_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):mediapackagev2:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"channelGroup/(?P<group>[^/]+)/channel/(?P<channel>[^/]+)/originEndpoint/(?P<endpoint>[^/]+)"
    r"/harvestJob/(?P<name>[^/]+)"
)
# Extra members scripted faults carry so botocore's modeled parse sees what the service would send.
_FAULT_FIELDS = {
    "ConflictException": {"ConflictExceptionType": "CONFLICTING_OPERATION"},
    "ResourceNotFoundException": {"ResourceTypeNotFound": "HARVEST_JOB"},
    "ValidationException": {"ValidationExceptionType": "MEMBER_INVALID"},
}


@dataclass(frozen=True)
class Call:
    """One request as the emulator answered it; ``at`` is the clock's time when it arrived."""

    at: float
    operation: str
    job_name: str | None
    status: int
    error_code: str | None = None


EventCallback = Callable[[float, str, str], None]


class _ScriptedJob(Protocol):
    """What the shared emulator machinery needs of a job: its name, status and scripted next change."""

    name: str
    arn: str
    status: str
    error_message: str | None

    def describe(self) -> ApiDict: ...

    def next_change(self) -> tuple[float, str] | None: ...

    def change(self, at: float, status: str) -> None: ...


_J = TypeVar("_J", bound=_ScriptedJob)


@dataclass
class _Job:
    """A harvest job's state; ``status`` is only as current as the last :meth:`advance`."""

    arn: str
    group: str
    channel: str
    endpoint: str
    name: str
    spec: ApiDict  # HarvestedManifests, ScheduleConfiguration, Destination, Description as created
    script: JobScript
    created_at: float
    tags: dict[str, str]
    status: str = "QUEUED"
    revision: int = 1
    modified_at: float = 0.0
    error_message: str | None = None

    def next_change(self) -> tuple[float, str] | None:
        """The scripted next status and when it happens; None once the job has finished."""
        if self.status == "QUEUED":
            return self.created_at + self.script.queued_seconds, "IN_PROGRESS"
        if self.status == "IN_PROGRESS":
            return self.created_at + self.script.finishes_after, self.script.outcome
        return None

    def change(self, at: float, status: str) -> None:
        self.status = status
        self.touch(at)
        if status == "FAILED":
            self.error_message = self.script.error_message

    def touch(self, at: float) -> None:
        """A modification: new ETag, ModifiedAt moves."""
        self.revision += 1
        self.modified_at = at

    @property
    def etag(self) -> str:
        """Deterministic per revision, so a rehearsal's figures are the same on every run."""
        return hashlib.sha256(f"{self.arn}#{self.revision}".encode()).hexdigest()[:32]

    def describe(self, *, with_tags: bool = True) -> ApiDict:
        """The job as GetHarvestJob returns it (member names; timestamps as aware datetimes)."""
        described: ApiDict = {
            "ChannelGroupName": self.group,
            "ChannelName": self.channel,
            "OriginEndpointName": self.endpoint,
            "Destination": deepcopy(self.spec["Destination"]),
            "HarvestJobName": self.name,
            "HarvestedManifests": deepcopy(self.spec["HarvestedManifests"]),
            "Description": self.spec.get("Description"),
            "ScheduleConfiguration": dict(self.spec["ScheduleConfiguration"]),
            "Arn": self.arn,
            "CreatedAt": datetime.fromtimestamp(self.created_at, UTC),
            "ModifiedAt": datetime.fromtimestamp(self.modified_at, UTC),
            "Status": self.status,
            "ErrorMessage": self.error_message,
            "ETag": self.etag,
        }
        if with_tags and self.tags:
            described["Tags"] = dict(self.tags)
        return {k: v for k, v in described.items() if v is not None}


class ServedEmulator:
    """Start/stop/URL/context manager for an emulator whose ``dispatch`` answers HTTP requests."""

    def __init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def dispatch(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Response:
        raise NotImplementedError

    def start(self) -> str:
        """Serve on a free local port; returns the endpoint URL."""
        if self._server is None:
            self._server = serve(self.dispatch)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                daemon=True,
                name=type(self).__name__,
            )
            self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join()
            self._server = self._thread = None

    @property
    def url(self) -> str:
        """The endpoint URL (for ``endpoint_url`` or ``AWS_ENDPOINT_URL_<SERVICE>``)."""
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


class ScriptedJobsEmulator(ServedEmulator):
    """What every harvest-job emulator shares: one request at a time under a lock, at one instant of ``clock``;
    scripted faults and throttling from the :class:`Scenario`; the call log; status changes reported as they
    happen. A subclass gives its :class:`RestJsonApi`, its operation handlers and its job model."""

    name_member = "HarvestJobName"  # the output member that names the job, for the call log
    throttle_code = "ThrottlingException"  # the service's error for a throttled call
    internal_code = "InternalServerException"  # the service's 500

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

    # Service hooks -------------------------------------------------------------------------------------------
    def _job_name_of(self, params: ApiDict) -> str | None:
        """The job a request is about, for fault matching and the call log."""
        return _job_name_of(params)

    def _fault_error(self, fault: Fault, attempt: int) -> ApiError:
        return _fault_error(fault, attempt)

    def _scenario_operation(self, operation: str) -> str:
        """The operation name faults and throttles in the scenario use for ``operation``."""
        return operation

    # Inspection ----------------------------------------------------------------------------------------------
    def on_event(self, callback: EventCallback) -> None:
        """Call ``callback(time, kind, detail)`` for every API call (kind = operation) and status change
        (kind = "status"); ``detail`` starts with the job name ("clip-1: IN_PROGRESS")."""
        with self._lock:
            self._listeners.append(callback)

    # Requests ------------------------------------------------------------------------------------------------
    def dispatch(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Response:
        """Answer one HTTP request; everything happens under the state lock, at one instant of the clock."""
        with self._lock:
            now = self.clock.time()
            self._requests += 1
            request_id = str(uuid.UUID(int=self._requests))
            parts = urlsplit(target)
            operation_name, job_name = "UnknownOperation", None
            try:
                operation, labels = self.api.route(method, parts.path)
                operation_name = operation.name
                params = self.api.decode(
                    operation, labels, parse_qs(parts.query, keep_blank_values=True), headers, body
                )
                job_name = self._job_name_of(params)
                self._scripted_fault(self._scenario_operation(operation_name), job_name)
                self._throttle(self._scenario_operation(operation_name), now)
                self.api.check(operation, params)
                output = self._handlers[operation_name](params, now)
                response = self.api.encode(operation, output, request_id)
                job_name = job_name or output.get(self.name_member)
                self._record(Call(now, operation_name, job_name, response.status), output.get("Status"))
            except ApiError as error:
                response = self.api.encode_error(error, request_id)
                self._record(Call(now, operation_name, job_name, response.status, error.code), None)
            except Exception as bug:  # answered like the service's 500, kept for the test that caused it
                self.internal_errors.append(bug)
                internal = ApiError(self.internal_code, f"Emulator error: {bug!r}")
                response = self.api.encode_error(internal, request_id)
                self._record(Call(now, operation_name, job_name, response.status, internal.code), None)
            return response

    def _record(self, call: Call, note: object) -> None:
        self.calls.append(call)
        detail = f"{call.status} {call.error_code}" if call.error_code else f"{call.status}"
        if isinstance(note, str):
            detail += f" {note}"
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

    def _job_records(self) -> Iterable[_ScriptedJob]:
        """The subclass's jobs, in creation order."""
        raise NotImplementedError

    # Job state -----------------------------------------------------------------------------------------------
    def _advance(self, job: _J, now: float) -> _J:
        """Apply every scripted status change due by ``now``, reporting each at the time it happened."""
        while (change := job.next_change()) is not None and change[0] <= now:
            at, status = change
            job.change(at, status)
            self._emit_status(job, at)
        return job

    def _emit_status(self, job: _ScriptedJob, at: float) -> None:
        detail = f"{job.name}: {job.status}"
        if job.error_message and job.status == "FAILED":
            detail += f" ({job.error_message})"
        self._emit(at, "status", detail)


class MediaPackageV2Emulator(ScriptedJobsEmulator):
    """MediaPackage v2 harvest jobs over HTTP on ``clock``'s time, as ``scenario`` scripts them.

    Use as a context manager (or ``start()`` / ``stop()``); point boto3 at ``url``. ``calls`` records every
    request, ``jobs()`` / ``job(arn)`` show the state, ``on_event`` reports calls and status changes.
    """

    service = "mediapackagev2"
    api_version = "2022-12-25"

    def __init__(
        self,
        clock: Clock,
        scenario: Scenario | None = None,
        account: str = "123456789012",
        region: str = "us-east-1",
    ) -> None:
        api = RestJsonApi.load(
            self.service,
            self.api_version,
            V2_OPERATIONS,
            validation_code="ValidationException",
            violation_member="ValidationExceptionType",
        )
        super().__init__(clock, scenario, account, region, api)
        self._jobs: dict[tuple[str, str, str], _Job] = {}  # (group, channel, name): names are unique per channel
        self._tokens: dict[str, tuple[str, str]] = {}  # client token -> (request fingerprint, job ARN)
        self._handlers = {
            "CreateHarvestJob": self._create,
            "GetHarvestJob": self._get,
            "ListHarvestJobs": self._list,
            "CancelHarvestJob": self._cancel,
            "TagResource": self._tag,
            "UntagResource": self._untag,
            "ListTagsForResource": self._list_tags,
        }

    def _job_records(self) -> Iterable[_ScriptedJob]:
        return self._jobs.values()

    # Job lookup ----------------------------------------------------------------------------------------------
    def _find(self, params: ApiDict, now: float) -> _Job:
        key = (params["ChannelGroupName"], params["ChannelName"], params["HarvestJobName"])
        job = self._jobs.get(key)
        if job is None or job.endpoint != params["OriginEndpointName"]:
            raise ApiError(
                "ResourceNotFoundException",
                f"Harvest job {params['HarvestJobName']} not found",
                {"ResourceTypeNotFound": "HARVEST_JOB"},
            )
        return self._advance(job, now)

    def _by_arn(self, arn: str, now: float) -> _Job:
        """The job a tagging call names; the model lists only ValidationException for these operations."""
        found = _ARN.fullmatch(arn)
        if found is None or found["region"] != self.region or found["account"] != self.account:
            message = f"ResourceArn: {arn!r} is not a harvest job ARN of this account and Region"
            raise ApiError("ValidationException", message, {"ValidationExceptionType": "INVALID_ARN"})
        job = self._jobs.get((found["group"], found["channel"], found["name"]))
        if job is None or job.arn != arn:
            message = f"ResourceArn: no harvest job {arn}"
            raise ApiError("ValidationException", message, {"ValidationExceptionType": "INVALID_ARN"})
        return self._advance(job, now)

    def _arn(self, group: str, channel: str, endpoint: str, name: str) -> str:
        partition = "aws-cn" if self.region.startswith("cn-") else "aws-us-gov" if "gov" in self.region else "aws"
        return (
            f"arn:{partition}:mediapackagev2:{self.region}:{self.account}:channelGroup/{group}/channel/{channel}"
            f"/originEndpoint/{endpoint}/harvestJob/{name}"
        )

    # Operations ----------------------------------------------------------------------------------------------
    def _create(self, params: ApiDict, now: float) -> ApiDict:
        self._check_job_request(params, now)
        self._check_tags(params.get("Tags", {}))
        token = params.get("ClientToken")
        fingerprint = _fingerprint({k: v for k, v in params.items() if k != "ClientToken"})
        if token is not None and token in self._tokens:
            earlier, arn = self._tokens[token]
            if earlier != fingerprint:
                raise ApiError(
                    "ConflictException",
                    "ClientToken was already used with different parameters",
                    {"ConflictExceptionType": "IDEMPOTENT_PARAMETER_MISMATCH"},
                )
            job = next(j for j in self._jobs.values() if j.arn == arn)
            return self._advance(job, now).describe()
        group, channel, endpoint = params["ChannelGroupName"], params["ChannelName"], params["OriginEndpointName"]
        name = params.get("HarvestJobName") or self._generated_name(fingerprint, token)
        if (group, channel, name) in self._jobs:
            raise ApiError(
                "ConflictException",
                f"HarvestJobName: a harvest job named {name} already exists in channel {channel}",
                {"ConflictExceptionType": "RESOURCE_ALREADY_EXISTS"},
            )
        self._check_quota(group, now)
        job = _Job(
            arn=self._arn(group, channel, endpoint, name),
            group=group,
            channel=channel,
            endpoint=endpoint,
            name=name,
            spec={k: deepcopy(params[k]) for k in _SPEC_MEMBERS if k in params},
            script=self.scenario.script_for(name),
            created_at=now,
            tags=dict(params.get("Tags", {})),
            modified_at=now,
        )
        self._jobs[(group, channel, name)] = job
        if token is not None:
            self._tokens[token] = (fingerprint, job.arn)
        self._emit_status(job, now)
        return self._advance(job, now).describe()

    def _check_job_request(self, params: ApiDict, now: float) -> None:
        """CreateHarvestJob's rules beyond the model's member constraints."""
        violations: list[Violation] = []
        manifests = params["HarvestedManifests"]
        if not any(manifests.get(kind) for kind in MANIFEST_KINDS):
            rule = f"must list at least one manifest ({', '.join(MANIFEST_KINDS)})"
            violations.append(Violation("HarvestedManifests", rule, "NUM_MANIFESTS_LOW"))
        schedule = params["ScheduleConfiguration"]
        start, end = schedule["StartTime"], schedule["EndTime"]
        if end <= start:
            rule = "must be later than StartTime"
            violations.append(Violation("ScheduleConfiguration.EndTime", rule, "END_TIME_EARLIER_THAN_START_TIME"))
        elif end - start > MAX_WINDOW:
            rule = "EndTime must be at most 24 hours after StartTime"
            violations.append(Violation("ScheduleConfiguration", rule, "INVALID_HARVEST_JOB_DURATION"))
        if start.timestamp() > now:
            violations.append(
                Violation("ScheduleConfiguration.StartTime", "must not be in the future", "MEMBER_INVALID")
            )
        if violations:
            raise self.api.invalid(violations)

    def _check_quota(self, group: str, now: float) -> None:
        active = sum(self._advance(job, now).status in ACTIVE for job in self._jobs.values() if job.group == group)
        if active >= self.scenario.active_jobs_quota:
            raise ApiError(
                "ServiceQuotaExceededException",
                f"Channel group {group} already has {active} queued or in-progress harvest jobs "
                f"(quota {self.scenario.active_jobs_quota})",
            )

    def _check_tags(self, tags: Mapping[str, str], existing: Mapping[str, str] | None = None) -> None:
        violations = [
            Violation(f"Tags key {key!r}", problem, "MEMBER_INVALID")
            for key, value in tags.items()
            for problem in _tag_problems(key, value)
        ]
        if len({**(existing or {}), **tags}) > TAGS_MAX:
            violations.append(Violation("Tags", f"a resource can have at most {TAGS_MAX} tags", "MEMBER_MAX_LENGTH"))
        if violations:
            raise self.api.invalid(violations)

    def _generated_name(self, fingerprint: str, token: str | None) -> str:
        """A name for a job created without one (the service's naming rule is undocumented)."""
        digest = hashlib.sha256(f"{fingerprint}#{token}#{len(self._jobs)}".encode()).hexdigest()
        return f"harvest-job-{digest[:16]}"

    def _get(self, params: ApiDict, now: float) -> ApiDict:
        return self._find(params, now).describe()

    def _list(self, params: ApiDict, now: float) -> ApiDict:
        filters = {k: params.get(k) for k in ("ChannelGroupName", "ChannelName", "OriginEndpointName", "Status")}
        matching = [
            job
            for job in self._jobs.values()
            if job.group == filters["ChannelGroupName"]
            and filters["ChannelName"] in (None, job.channel)
            and filters["OriginEndpointName"] in (None, job.endpoint)
            and filters["Status"] in (None, self._advance(job, now).status)
        ]
        token = params.get("NextToken")
        offset = _page_offset(token, filters) if token else 0
        size = params.get("MaxResults") or self.scenario.list_page_size
        page = matching[offset : offset + size]
        output: ApiDict = {"Items": [job.describe(with_tags=False) for job in page]}
        if offset + size < len(matching):
            output["NextToken"] = _page_token(offset + size, filters)
        return output

    def _cancel(self, params: ApiDict, now: float) -> ApiDict:
        job = self._find(params, now)
        if params.get("ETag") is not None and params["ETag"] != job.etag:
            raise ApiError(
                "ConflictException",
                "ETag: the harvest job has changed since that ETag was read",
                {"ConflictExceptionType": "CONFLICTING_OPERATION"},
            )
        if job.status not in ACTIVE:
            raise ApiError(
                "ConflictException",
                f"Harvest job {job.name} is {job.status}; only QUEUED or IN_PROGRESS jobs can be cancelled",
                {"ConflictExceptionType": "CONFLICTING_OPERATION"},
            )
        job.change(now, "CANCELLED")
        self._emit_status(job, now)
        return {}

    def _tag(self, params: ApiDict, now: float) -> ApiDict:
        job = self._by_arn(params["ResourceArn"], now)
        self._check_tags(params["Tags"], job.tags)
        merged = {**job.tags, **params["Tags"]}
        if merged != job.tags:
            job.tags = merged
            job.touch(now)
        return {}

    def _untag(self, params: ApiDict, now: float) -> ApiDict:
        job = self._by_arn(params["ResourceArn"], now)
        kept = {k: v for k, v in job.tags.items() if k not in params["TagKeys"]}
        if kept != job.tags:
            job.tags = kept
            job.touch(now)
        return {}

    def _list_tags(self, params: ApiDict, now: float) -> ApiDict:
        return {"Tags": dict(self._by_arn(params["ResourceArn"], now).tags)}


# =============================================================================================================
# Service layer: MediaPackage v1 harvest jobs (``mediapackage`` 2017-10-12), on an endpoint of their own.
# =============================================================================================================

V1_OPERATIONS = ("CreateHarvestJob", "DescribeHarvestJob", "ListHarvestJobs")
V1_STATUSES = ("IN_PROGRESS", "SUCCEEDED", "FAILED")
# A scenario's outcome as v1 reports it. v1 knows neither QUEUED nor CANCELLED: a job is IN_PROGRESS from its
# creation until the script ends it, and a script ending CANCELLED (the service stopping the job) reads FAILED.
_V1_OUTCOMES = {"COMPLETED": "SUCCEEDED", "FAILED": "FAILED", "CANCELLED": "FAILED"}
# Scenarios script v2's error codes; v1 answers each with its own error of the same kind.
_V1_FAULT_CODES = {
    "ThrottlingException": "TooManyRequestsException",
    "InternalServerException": "InternalServerErrorException",
    "AccessDeniedException": "ForbiddenException",
    "ValidationException": "UnprocessableEntityException",
    "ConflictException": "UnprocessableEntityException",
    "ResourceNotFoundException": "NotFoundException",
    "ServiceQuotaExceededException": "UnprocessableEntityException",
}
# Scenarios name v2's operations: faults and throttles for GetHarvestJob also cover v1's DescribeHarvestJob.
_V1_SCENARIO_OPERATIONS = {"DescribeHarvestJob": "GetHarvestJob"}
# The model constrains no member; these are the user guide's rules (IDs: letters, digits, '_' and '-').
_V1_ID = re.compile(r"[a-zA-Z0-9_-]{1,256}")
_V1_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/\S+")
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


@dataclass
class _V1Job:
    """A v1 harvest job's state; ``status`` is only as current as the last advance."""

    arn: str
    name: str  # the job's Id
    endpoint: str
    channel: str
    start_time: str  # as the request gave them: v1's timestamps are strings
    end_time: str
    destination: ApiDict  # S3Destination as created
    script: JobScript
    created_at: float
    status: str = "IN_PROGRESS"
    error_message: str | None = None  # for the timeline only: DescribeHarvestJob carries no reason

    def next_change(self) -> tuple[float, str] | None:
        if self.status == "IN_PROGRESS":
            return self.created_at + self.script.finishes_after, _V1_OUTCOMES[self.script.outcome]
        return None

    def change(self, at: float, status: str) -> None:
        self.status = status
        if status == "FAILED":
            scripted = self.script.outcome == "FAILED"
            self.error_message = self.script.error_message if scripted else "stopped by the service (script: CANCELLED)"

    def describe(self) -> ApiDict:
        """The job as DescribeHarvestJob returns it (member names; every value a string)."""
        return {
            "Arn": self.arn,
            "ChannelId": self.channel,
            "CreatedAt": _v1_time(self.created_at),
            "EndTime": self.end_time,
            "Id": self.name,
            "OriginEndpointId": self.endpoint,
            "S3Destination": dict(self.destination),
            "StartTime": self.start_time,
            "Status": self.status,
        }


class MediaPackageV1Emulator(ScriptedJobsEmulator):
    """MediaPackage v1 harvest jobs over HTTP (``AWS_ENDPOINT_URL_MEDIAPACKAGE``) on ``clock``'s time.

    The same :class:`Scenario` scripts it as the v2 emulator: a job's :class:`JobScript` keeps it IN_PROGRESS for
    ``queued_seconds + in_progress_seconds``, then SUCCEEDED (outcome COMPLETED) or FAILED. Faults and throttles
    apply by v2 operation name (GetHarvestJob stands for DescribeHarvestJob), answered with v1's error codes.
    v1 jobs cannot be cancelled or deleted, so nothing here does either.

    IDs are unique per account and Region; a second CreateHarvestJob with a taken Id is refused with
    UnprocessableEntityException (the service's exact answer is undocumented). ``channels`` maps origin endpoint
    IDs to their channel's ID for ChannelId; an endpoint not in it gets the stand-in ``<endpoint>-channel``.
    """

    service = "mediapackage"
    api_version = "2017-10-12"
    name_member = "Id"
    throttle_code = "TooManyRequestsException"
    internal_code = "InternalServerErrorException"

    def __init__(
        self,
        clock: Clock,
        scenario: Scenario | None = None,
        account: str = "123456789012",
        region: str = "us-east-1",
        channels: Mapping[str, str] | None = None,
    ) -> None:
        api = RestJsonApi.load(
            self.service, self.api_version, V1_OPERATIONS, validation_code="UnprocessableEntityException"
        )
        super().__init__(clock, scenario, account, region, api)
        self.channels = dict(channels or {})
        self._jobs: dict[str, _V1Job] = {}  # by Id
        self._handlers = {
            "CreateHarvestJob": self._create,
            "DescribeHarvestJob": self._describe,
            "ListHarvestJobs": self._list,
        }

    def _job_records(self) -> Iterable[_ScriptedJob]:
        return self._jobs.values()

    def channel_of(self, endpoint: str) -> str:
        return self.channels.get(endpoint, f"{endpoint}-channel")

    # Service hooks -------------------------------------------------------------------------------------------
    def _job_name_of(self, params: ApiDict) -> str | None:
        return str(params["Id"]) if params.get("Id") else None

    def _fault_error(self, fault: Fault, attempt: int) -> ApiError:
        code = _V1_FAULT_CODES.get(fault.code, fault.code)
        return ApiError(code, fault.message or f"Scripted {fault.code} on attempt {attempt} of {fault.operation}")

    def _scenario_operation(self, operation: str) -> str:
        return _V1_SCENARIO_OPERATIONS.get(operation, operation)

    # Operations ----------------------------------------------------------------------------------------------
    def _create(self, params: ApiDict, now: float) -> ApiDict:
        self._check_job_request(params, now)
        job_id, endpoint = str(params["Id"]), str(params["OriginEndpointId"])
        if job_id in self._jobs:
            raise ApiError("UnprocessableEntityException", f"HarvestJob with id {job_id} already exists")
        partition = "aws-cn" if self.region.startswith("cn-") else "aws-us-gov" if "gov" in self.region else "aws"
        job = _V1Job(
            arn=f"arn:{partition}:mediapackage:{self.region}:{self.account}:harvest_jobs/{job_id}",
            name=job_id,
            endpoint=endpoint,
            channel=self.channel_of(endpoint),
            start_time=params["StartTime"],
            end_time=params["EndTime"],
            destination=deepcopy(params["S3Destination"]),
            script=self.scenario.script_for(job_id),
            created_at=now,
        )
        self._jobs[job_id] = job
        self._emit_status(job, now)
        return self._advance(job, now).describe()

    def _check_job_request(self, params: ApiDict, now: float) -> None:
        """CreateHarvestJob's rules (the user guide's; the model has none): one 422 naming every problem."""
        problems: list[str] = []
        if not _V1_ID.fullmatch(params["Id"]):
            problems.append("id: 1 to 256 letters, digits, '_' and '-'")
        start = _v1_instant(params["StartTime"])
        end = _v1_instant(params["EndTime"])
        if start is None:
            problems.append(f"startTime: {params['StartTime']!r} is not an ISO-8601 time with an offset")
        if end is None:
            problems.append(f"endTime: {params['EndTime']!r} is not an ISO-8601 time with an offset")
        if start is not None and end is not None:
            if end <= start:
                problems.append("endTime: must be later than startTime")
            elif end - start > MAX_WINDOW:
                problems.append("endTime: the harvest window is at most 24 hours")
            if end.timestamp() > now:
                problems.append("endTime: must be in the past")
        destination = params["S3Destination"]
        bucket = destination["BucketName"]
        if not _BUCKET_NAME.fullmatch(bucket) or ".." in bucket:
            problems.append(f"s3Destination.bucketName: {bucket!r} is not a valid bucket name")
        if not destination["ManifestKey"] or destination["ManifestKey"].startswith("/"):
            problems.append("s3Destination.manifestKey: must be an object key (not starting with '/')")
        if not _V1_ROLE_ARN.fullmatch(destination["RoleArn"]):
            problems.append(f"s3Destination.roleArn: {destination['RoleArn']!r} is not an IAM role ARN")
        if problems:
            raise ApiError("UnprocessableEntityException", "Invalid harvest job: " + "; ".join(problems))

    def _describe(self, params: ApiDict, now: float) -> ApiDict:
        job = self._jobs.get(str(params["Id"]))
        if job is None:
            raise ApiError("NotFoundException", f"HarvestJob {params['Id']} not found")
        return self._advance(job, now).describe()

    def _list(self, params: ApiDict, now: float) -> ApiDict:
        filters = {"IncludeChannelId": params.get("IncludeChannelId"), "IncludeStatus": params.get("IncludeStatus")}
        matching = [
            job
            for job in self._jobs.values()
            if filters["IncludeChannelId"] in (None, job.channel)
            and filters["IncludeStatus"] in (None, self._advance(job, now).status)
        ]
        token = params.get("NextToken")
        try:
            offset = _page_offset(token, filters) if token else 0
        except ApiError as error:
            raise ApiError("UnprocessableEntityException", error.message) from error
        size = params.get("MaxResults") or self.scenario.list_page_size
        page = matching[offset : offset + size]
        output: ApiDict = {"HarvestJobs": [self._advance(job, now).describe() for job in page]}
        if offset + size < len(matching):
            output["NextToken"] = _page_token(offset + size, filters)
        return output


def _v1_time(seconds: float) -> str:
    """v1's timestamps are ISO-8601 strings (UTC, 'Z')."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _v1_instant(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


# Helpers ---------------------------------------------------------------------------------------------------


def _job_name_of(params: ApiDict) -> str | None:
    """The job a request is about, for fault matching and the call log."""
    if params.get("HarvestJobName"):
        return str(params["HarvestJobName"])
    found = _ARN.fullmatch(str(params.get("ResourceArn", "")))
    return found["name"] if found else None


def _fault_error(fault: Fault, attempt: int) -> ApiError:
    message = fault.message or f"Scripted {fault.code} on attempt {attempt} of {fault.operation}"
    return ApiError(fault.code, message, _FAULT_FIELDS.get(fault.code))


def _tag_problems(key: str, value: str) -> list[str]:
    problems = []
    if not 1 <= len(key) <= TAG_KEY_MAX:
        problems.append(f"must have 1 to {TAG_KEY_MAX} characters")
    if key.lower().startswith("aws:"):
        problems.append("must not start with the reserved prefix aws:")
    if len(value) > TAG_VALUE_MAX:
        problems.append(f"value must have at most {TAG_VALUE_MAX} characters")
    return problems


def _fingerprint(params: ApiDict) -> str:
    """A stable digest of a request, to tell an idempotent retry from a reused ClientToken."""
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=_jsonable).encode()).hexdigest()


def _jsonable(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _page_token(offset: int, filters: Mapping[str, object]) -> str:
    """An opaque token bound to the filters it was issued for."""
    raw = json.dumps({"offset": offset, "filters": _fingerprint(dict(filters))})
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _page_offset(token: str, filters: Mapping[str, object]) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        if data["filters"] == _fingerprint(dict(filters)) and isinstance(data["offset"], int) and data["offset"] >= 0:
            return int(data["offset"])
    except (ValueError, KeyError, TypeError):
        pass
    raise ApiError(
        "ValidationException",
        "NextToken: the pagination token is invalid or was issued for different filters",
        {"ValidationExceptionType": "INVALID_PAGINATION_TOKEN"},
    )
