"""The handler's service adapters (``harvest_handler.mediapackage_v2`` and ``mediapackage_v1``) against their
emulators, through botocore. The rules both flavours share run over both; v1's own (a redelivered or clashing
create, since v1's CreateHarvestJob has no client token) run over v1."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from harvest_handler.mediapackage_v1 import MediaPackageV1
from harvest_handler.mediapackage_v2 import MediaPackageV2
from harvest_handler.model import HarvestService, JobStatus, NameInUse
from mediapackage_harvest.rehearsal.emulator import MediaPackageV1Emulator, MediaPackageV2Emulator

NOW = datetime(2026, 1, 15, 11, 0, tzinfo=UTC).timestamp()
PROPS: dict[str, Any] = {
    "OriginEndpointId": "sports-hls",
    "StartTime": "2026-01-15T10:00:00Z",
    "EndTime": "2026-01-15T10:30:00+00:00",
    "S3Destination": {
        "BucketName": "harvest-bucket",
        "ManifestKey": "clips/index.m3u8",
        "RoleArn": "arn:aws:iam::123456789012:role/harvest-writer",
    },
    "WaitForCompletion": "true",
    "Timeout": "600",
}
V2_PROPS: dict[str, Any] = {
    "ChannelGroupName": "live",
    "ChannelName": "main",
    "OriginEndpointName": "hls",
    "HarvestedManifests": {"HlsManifests": [{"ManifestName": "index"}]},
    "ScheduleConfiguration": {"StartTime": "2026-01-15T10:00:00Z", "EndTime": "2026-01-15T10:30:00+00:00"},
    "Destination": {"S3Destination": {"BucketName": "harvest-bucket", "DestinationPath": "clips/"}},
    "WaitForCompletion": "true",
    "Timeout": "600",
}
NO_RETRIES = Config(retries={"total_max_attempts": 1})
CREDENTIALS: dict[str, Any] = {"region_name": "us-east-1", "aws_access_key_id": "test", "aws_secret_access_key": "test"}


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emulator(clock: Clock) -> Iterator[MediaPackageV1Emulator]:
    with MediaPackageV1Emulator(clock) as running:
        yield running


@pytest.fixture
def service(emulator: MediaPackageV1Emulator) -> MediaPackageV1:
    client = boto3.client("mediapackage", endpoint_url=emulator.url, config=NO_RETRIES, **CREDENTIALS)
    return MediaPackageV1(lambda: client)


@pytest.fixture
def v2_service(clock: Clock) -> Iterator[MediaPackageV2]:
    with MediaPackageV2Emulator(clock) as running:
        client = boto3.client("mediapackagev2", endpoint_url=running.url, config=NO_RETRIES, **CREDENTIALS)
        yield MediaPackageV2(lambda: client)


@pytest.fixture(params=["v2", "v1"])
def flavour(request: pytest.FixtureRequest) -> tuple[HarvestService, dict[str, Any]]:
    """Each service adapter with props it accepts (the rules below hold for both)."""
    if request.param == "v2":
        return request.getfixturevalue("v2_service"), V2_PROPS
    return request.getfixturevalue("service"), PROPS


# Rules both flavours share ---------------------------------------------------------------------------------


def test_a_redelivered_create_returns_the_same_job(flavour: tuple[HarvestService, dict[str, Any]]) -> None:
    service, props = flavour
    first = service.create(props, name="Clip-0123456789ab", token="token-1")
    again = service.create(props, name="Clip-0123456789ab", token="token-1")
    assert again.arn == first.arn and again.name == first.name == "Clip-0123456789ab"


def test_a_created_job_is_read_back_by_its_arn_and_a_missing_one_reads_as_none(
    flavour: tuple[HarvestService, dict[str, Any]],
) -> None:
    service, props = flavour
    created = service.create(props, name="clip", token="token-2")
    assert service.is_job_id(created.arn)
    found = service.get(created.arn)
    assert found is not None and found.arn == created.arn
    assert service.get(created.arn.replace("/clip", "/gone")) is None


def test_placeholder_ids_are_not_jobs(flavour: tuple[HarvestService, dict[str, Any]]) -> None:
    service, _ = flavour
    assert not service.is_job_id("failed-create:Clip:0f1e")
    assert not service.is_job_id("")


# MediaPackage v1's own rules -------------------------------------------------------------------------------


def test_a_redelivered_create_finds_the_job_it_already_made(
    service: MediaPackageV1, emulator: MediaPackageV1Emulator
) -> None:
    first = service.create(PROPS, name="Clip-0123456789ab", token="unused")
    again = service.create(PROPS, name="Clip-0123456789ab", token="unused")
    assert again.arn == first.arn
    assert [job["Id"] for job in emulator.jobs()] == ["Clip-0123456789ab"]
    assert [(c.operation, c.status) for c in emulator.calls] == [
        ("CreateHarvestJob", 200),
        ("CreateHarvestJob", 422),
        ("DescribeHarvestJob", 200),
    ]


def test_another_job_under_the_id_is_a_name_clash(service: MediaPackageV1) -> None:
    service.create(PROPS, name="news", token="unused")
    with pytest.raises(NameInUse, match="UnprocessableEntityException: HarvestJob with id news already exists"):
        service.create({**PROPS, "EndTime": "2026-01-15T10:20:00Z"}, name="news", token="unused")


def test_a_create_refused_for_another_reason_keeps_the_services_message(service: MediaPackageV1, clock: Clock) -> None:
    clock.now = datetime(2026, 1, 15, 10, 15, tzinfo=UTC).timestamp()  # the window has not ended yet
    with pytest.raises(ClientError, match="endTime: must be in the past"):
        service.create(PROPS, name="early", token="unused")


def test_a_job_is_read_back_by_its_arn(service: MediaPackageV1, clock: Clock) -> None:
    created = service.create(PROPS, name="clip", token="unused")
    assert created.status == JobStatus.IN_PROGRESS
    assert service.is_job_id(created.arn)
    clock.now += 60
    done = service.get(created.arn)
    assert done is not None
    assert done.status == JobStatus.COMPLETED
    assert done.attributes() == {
        "Arn": created.arn,
        "Id": "clip",
        "Status": "SUCCEEDED",
        "ChannelId": "sports-hls-channel",
        "CreatedAt": "2026-01-15T11:00:00Z",
    }
    assert service.matches(done, PROPS)
    assert not service.matches(done, {**PROPS, "StartTime": "2026-01-15T10:05:00Z"})
    assert service.get(created.arn.replace("/clip", "/gone")) is None


def test_only_v1_job_arns_are_v1_jobs(service: MediaPackageV1) -> None:
    assert not service.is_job_id(
        "arn:aws:mediapackagev2:us-east-1:123456789012:channelGroup/live/channel/main/originEndpoint/hls/harvestJob/a"
    )
    assert not service.is_job_id("failed-create:Clip")
    assert service.cancel("arn:aws:mediapackage:us-east-1:123456789012:harvest_jobs/clip") is False
