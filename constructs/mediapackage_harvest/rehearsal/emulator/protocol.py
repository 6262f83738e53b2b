"""The rest-json wire format of one botocore service model: routes, request decoding, constraints, responses.

Everything here comes from the model installed with boto3 (the authority on the wire format): an operation's
``http`` trait routes a request, its members' locations (URI, query string, headers, body) decode it, its shapes'
constraints check it, and its output and error shapes encode the answer, so what boto3 parses from an emulator is
what it would parse from the service. Nothing here knows harvest jobs.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import unquote

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from mediapackage_harvest.rehearsal.local_server import Response

ApiDict = dict[str, Any]


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
        shape = operation.input_shape
        if shape is None:
            return {}
        document = self._json_body(body)
        params: ApiDict = {}
        try:
            for name, member in shape.members.items():
                location = member.serialization.get("location")
                wire = str(member.serialization.get("name", name))
                if location == "uri":
                    if wire in labels:
                        params[name] = _from_text(member, labels[wire], name, "iso8601")
                elif location == "querystring":
                    if wire in query:
                        params[name] = _from_query(member, query[wire], name)
                elif location == "header":
                    value = headers.get(wire.lower())
                    if value is not None:
                        params[name] = _from_text(member, value, name, "rfc822")
                elif wire in document:
                    params[name] = _from_json(member, document[wire], name)
        except _Mistyped as mistyped:
            raise self.invalid([Violation(mistyped.path, mistyped.problem, "MEMBER_INVALID")]) from mistyped
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


def _from_query(shape: Shape, values: list[str], path: str) -> Any:
    """A query-string member: a list takes every value given, a scalar the first."""
    if isinstance(shape, ListShape):
        return [_from_text(shape.member, v, f"{path}[{i}]", "iso8601") for i, v in enumerate(values)]
    return _from_text(shape, values[0], path, "iso8601")


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
