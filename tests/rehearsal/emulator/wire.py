"""What the emulator tests share: a clock that moves when told, boto3 clients on an emulator, valid requests for
each service, and a validator that walks a parsed answer against botocore's output shape.

Each response is walked against the model's output shape (types, required members, enum values, limits, no
unknown members), so a difference between an emulator and its service model fails in these tests rather than in
a rehearsal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape

from mediapackage_harvest.rehearsal.emulator import MediaPackageV1Emulator, MediaPackageV2Emulator
from mediapackage_harvest.rehearsal.emulator.base import ScriptedJobsEmulator

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
START = NOW.timestamp()  # the fake clock's time when a test begins
GROUP, CHANNEL, ENDPOINT = "live-group", "live-channel", "hls-endpoint"
ROLE = "arn:aws:iam::123456789012:role/harvest-writer"
V2_MODEL: ServiceModel = botocore.session.get_session().get_service_model("mediapackagev2", "2022-12-25")
V1_MODEL: ServiceModel = botocore.session.get_session().get_service_model("mediapackage", "2017-10-12")


class FakeClock:
    """Time that moves only when a test says so."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def client_for(emulator: ScriptedJobsEmulator, *, validate_params: bool = True) -> Any:
    """A boto3 client on the emulator's service; no retries, so every error a test expects reaches it."""
    config = Config(retries={"total_max_attempts": 1}, parameter_validation=validate_params)
    return boto3.client(
        emulator.api.model.service_name,  # type: ignore[call-overload]
        endpoint_url=emulator.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=config,
    )


def error_of(call: Callable[[], object]) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value


# Valid requests ------------------------------------------------------------------------------------------------


def v2_request(name: str = "clip-1", **overrides: Any) -> dict[str, Any]:
    """A valid v2 CreateHarvestJob request: ten minutes that ended ten minutes before the fake clock's start."""
    start = NOW - timedelta(minutes=20)
    request: dict[str, Any] = {
        "ChannelGroupName": GROUP,
        "ChannelName": CHANNEL,
        "OriginEndpointName": ENDPOINT,
        "HarvestJobName": name,
        "HarvestedManifests": {"HlsManifests": [{"ManifestName": "index"}]},
        "ScheduleConfiguration": {"StartTime": start, "EndTime": start + timedelta(minutes=10)},
        "Destination": {"S3Destination": {"BucketName": "clips-bucket", "DestinationPath": "clips/one/"}},
    }
    request.update(overrides)
    return request


def v2_key(name: str = "clip-1", **overrides: str) -> dict[str, Any]:
    key = {"ChannelGroupName": GROUP, "ChannelName": CHANNEL, "OriginEndpointName": ENDPOINT, "HarvestJobName": name}
    return {**key, **overrides}


def v1_request(job_id: str = "clip-1", **overrides: Any) -> dict[str, Any]:
    """A valid v1 CreateHarvestJob request: ten minutes that ended ten minutes before the fake clock's now."""
    request: dict[str, Any] = {
        "Id": job_id,
        "OriginEndpointId": "sports-hls",
        "StartTime": (NOW - timedelta(minutes=20)).isoformat(),
        "EndTime": (NOW - timedelta(minutes=10)).isoformat().replace("+00:00", "Z"),
        "S3Destination": {"BucketName": "clips-bucket", "ManifestKey": "clips/one/index.m3u8", "RoleArn": ROLE},
    }
    request.update(overrides)
    return request


@dataclass(frozen=True)
class Flavour:
    """One service's emulator, as the tests of what both share see it."""

    name: str
    emulator: type[MediaPackageV1Emulator] | type[MediaPackageV2Emulator]
    endpoint_variable: str
    create_path: str  # CreateHarvestJob's route
    name_member: str  # the member that names a job
    read_operation: str  # GetHarvestJob / DescribeHarvestJob
    request: Callable[..., dict[str, Any]]
    read: Callable[[Any, str], dict[str, Any]]  # (client, job name) -> the job as the read operation returns it
    list: Callable[[Any], dict[str, Any]]  # client -> ListHarvestJobs' first page
    not_found_code: str
    internal_code: str
    sent: str  # what request("clip-1") sent, as the call's event shows it

    def __str__(self) -> str:
        return self.name


V2 = Flavour(
    "v2",
    MediaPackageV2Emulator,
    "AWS_ENDPOINT_URL_MEDIAPACKAGEV2",
    f"/channelGroup/{GROUP}/channel/{CHANNEL}/originEndpoint/{ENDPOINT}/harvestJob",
    "HarvestJobName",
    "GetHarvestJob",
    v2_request,
    lambda client, name: dict(client.get_harvest_job(**v2_key(name))),
    lambda client: dict(client.list_harvest_jobs(ChannelGroupName=GROUP)),
    "ResourceNotFoundException",
    "InternalServerException",
    "endpoint live-group/live-channel/hls-endpoint; manifests HLS index; "
    "window 2026-03-01T11:40:00Z to 2026-03-01T11:50:00Z; destination s3://clips-bucket/clips/one/; tags none",
)
V1 = Flavour(
    "v1",
    MediaPackageV1Emulator,
    "AWS_ENDPOINT_URL_MEDIAPACKAGE",
    "/harvest_jobs",
    "Id",
    "DescribeHarvestJob",
    v1_request,
    lambda client, name: dict(client.describe_harvest_job(Id=name)),
    lambda client: dict(client.list_harvest_jobs()),
    "NotFoundException",
    "InternalServerErrorException",
    "endpoint sports-hls; window 2026-03-01T11:40:00+00:00 to 2026-03-01T11:50:00Z; "
    f"destination s3://clips-bucket/clips/one/index.m3u8; role {ROLE}",
)
FLAVOURS = [V2, V1]


# The output-shape validator ------------------------------------------------------------------------------------


def shape_problems(shape: Shape, value: Any, path: str) -> list[str]:
    """What in ``value`` (as boto3 parsed it) does not fit ``shape``; empty when it fits."""
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            return [f"{path}: expected a dict, got {type(value).__name__}"]
        problems = [f"{path}.{name}: required but missing" for name in shape.required_members if name not in value]
        problems += [f"{path}.{name}: not a member of {shape.name}" for name in value if name not in shape.members]
        for name, item in value.items():
            if name in shape.members:
                problems += shape_problems(shape.members[name], item, f"{path}.{name}")
        return problems
    if isinstance(shape, ListShape):
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {type(value).__name__}"]
        return [p for i, item in enumerate(value) for p in shape_problems(shape.member, item, f"{path}[{i}]")]
    if isinstance(shape, MapShape):
        if not isinstance(value, dict):
            return [f"{path}: expected a dict, got {type(value).__name__}"]
        return [
            p
            for key, item in value.items()
            for p in shape_problems(shape.key, key, f"{path} key") + shape_problems(shape.value, item, f"{path}.{key}")
        ]
    return scalar_problems(shape, value, path)


def scalar_problems(shape: Shape, value: Any, path: str) -> list[str]:
    kind = shape.type_name
    if kind == "timestamp":
        aware = isinstance(value, datetime) and value.tzinfo is not None
        return [] if aware else [f"{path}: expected an aware datetime, got {value!r}"]
    if kind in ("integer", "long"):
        return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{path}: expected an int"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: expected a bool"]
    if kind != "string":
        return [f"{path}: the validator does not know {kind}"]
    if not isinstance(value, str):
        return [f"{path}: expected a str, got {type(value).__name__}"]
    problems = []
    meta = shape.metadata
    if meta.get("enum") and value not in meta["enum"]:
        problems.append(f"{path}: {value!r} not in {meta['enum']}")
    if not meta.get("min", 0) <= len(value) <= meta.get("max", len(value)):
        problems.append(f"{path}: length {len(value)} outside {meta.get('min')}..{meta.get('max')}")
    if meta.get("pattern") and re.fullmatch(meta["pattern"], value) is None:
        problems.append(f"{path}: {value!r} does not match {meta['pattern']}")
    return problems


def assert_fits_output(model: ServiceModel, operation: str, parsed: Mapping[str, Any]) -> None:
    """The parsed response (minus ResponseMetadata) fits the operation's output shape exactly."""
    shape = model.operation_model(operation).output_shape
    body = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
    if shape is None:
        assert body == {}, f"{operation} has no output shape but returned {body}"
        return
    assert shape_problems(shape, body, operation) == []
