"""The MediaPackage v1 emulator (``emulator/v1.py``), seen through unmodified boto3: every answer parses as the
2017-10-12 model says (see ``wire.py`` for the output-shape validator). What v1 shares with v2 is tested over both
in ``test_emulator_base.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import pytest
from mypy_boto3_mediapackage import MediaPackageClient

from mediapackage_harvest.rehearsal.emulator import V1_OPERATIONS, MediaPackageV1Emulator
from mediapackage_harvest.rehearsal.scenario import Fault, JobScript, Outcome, Scenario, Throttle
from tests.rehearsal.emulator.wire import NOW, ROLE, V1, FakeClock, Flavour, client_for, error_of, shape_problems
from tests.rehearsal.emulator.wire import V1_MODEL as MODEL
from tests.rehearsal.emulator.wire import assert_fits_output as fits_output
from tests.rehearsal.emulator.wire import v1_request as job_request


def assert_fits_output(operation: str, parsed: Mapping[str, Any]) -> None:
    fits_output(MODEL, operation, parsed)


@pytest.fixture
def flavour() -> Flavour:
    return V1


@pytest.fixture
def client(emulator: MediaPackageV1Emulator) -> MediaPackageClient:
    typed: MediaPackageClient = client_for(emulator)
    return typed


def test_the_validator_catches_unknown_and_out_of_enum_members() -> None:
    shape = MODEL.operation_model("DescribeHarvestJob").output_shape
    assert shape is not None
    problems = shape_problems(shape, {"Status": "COMPLETED", "Surprise": "1", "S3Destination": {}}, "Describe")
    assert "Describe.Surprise: not a member of DescribeHarvestJobResponse" in problems
    assert any("'COMPLETED' not in" in p for p in problems)
    assert "Describe.S3Destination.RoleArn: required but missing" in problems


# Every operation answers in its output shape -----------------------------------------------------------------


def test_every_operation_answers_in_its_output_shape(client: MediaPackageClient, clock: FakeClock) -> None:
    assert set(V1_OPERATIONS) == {"CreateHarvestJob", "DescribeHarvestJob", "ListHarvestJobs", "DescribeOriginEndpoint"}
    request = job_request()
    created = client.create_harvest_job(**request)
    assert_fits_output("CreateHarvestJob", created)
    assert created["Arn"] == "arn:aws:mediapackage:us-east-1:123456789012:harvest_jobs/clip-1"
    assert (created["Id"], created["Status"], created["OriginEndpointId"]) == ("clip-1", "IN_PROGRESS", "sports-hls")
    assert created["S3Destination"] == request["S3Destination"]
    assert (created["StartTime"], created["EndTime"]) == (request["StartTime"], request["EndTime"])
    assert created["CreatedAt"] == "2026-03-01T12:00:00Z"
    assert created["ChannelId"] == "sports-hls-channel"

    clock.advance(10)
    described = client.describe_harvest_job(Id="clip-1")
    assert_fits_output("DescribeHarvestJob", described)
    assert described["Status"] == "IN_PROGRESS"

    listed = client.list_harvest_jobs()
    assert_fits_output("ListHarvestJobs", listed)
    assert [job["Id"] for job in listed["HarvestJobs"]] == ["clip-1"]

    endpoint = client.describe_origin_endpoint(Id="sports-hls")  # not described anywhere: assumed
    assert_fits_output("DescribeOriginEndpoint", endpoint)
    assert (endpoint["Id"], endpoint["StartoverWindowSeconds"]) == ("sports-hls", 14 * 24 * 3600)


def test_a_job_succeeds_when_its_script_ends(client: MediaPackageClient, clock: FakeClock) -> None:
    """v1 has no QUEUED: IN_PROGRESS for queued_seconds + in_progress_seconds (5 + 30), then SUCCEEDED."""
    client.create_harvest_job(**job_request())
    clock.advance(34.9)
    assert client.describe_harvest_job(Id="clip-1")["Status"] == "IN_PROGRESS"
    clock.advance(0.1)
    succeeded = client.describe_harvest_job(Id="clip-1")
    assert_fits_output("DescribeHarvestJob", succeeded)
    assert succeeded["Status"] == "SUCCEEDED"


@pytest.mark.parametrize(
    ("outcome", "timeline"),
    [
        ("FAILED", "broken-1: FAILED (Startover window does not cover the times)"),
        ("CANCELLED", "broken-1: FAILED (stopped by the service (script: CANCELLED))"),
    ],
)
def test_a_failed_or_service_stopped_job_reads_failed(
    start_emulator: Callable[..., MediaPackageV1Emulator], clock: FakeClock, outcome: Outcome, timeline: str
) -> None:
    script = JobScript(outcome=outcome, error_message="Startover window does not cover the times")
    emulator = start_emulator(Scenario(jobs={"broken-*": script}))
    seen: list[tuple[str, str]] = []
    emulator.on_event(lambda at, kind, detail: seen.append((kind, detail)))
    client = client_for(emulator)
    client.create_harvest_job(**job_request("broken-1"))
    clock.advance(60)
    failed = client.describe_harvest_job(Id="broken-1")
    assert_fits_output("DescribeHarvestJob", failed)
    assert failed["Status"] == "FAILED"
    assert_fits_output("ListHarvestJobs", client.list_harvest_jobs(IncludeStatus="FAILED"))
    # DescribeHarvestJob has no room for a reason; the rehearsal's timeline shows the scripted one.
    assert [detail for kind, detail in seen if kind == "status"] == ["broken-1: IN_PROGRESS", timeline]


def test_channels_given_to_the_emulator_name_the_job_channel(
    start_emulator: Callable[..., MediaPackageV1Emulator],
) -> None:
    client = client_for(start_emulator(channels={"sports-hls": "sports"}))
    assert client.create_harvest_job(**job_request())["ChannelId"] == "sports"
    assert [j["Id"] for j in client.list_harvest_jobs(IncludeChannelId="sports")["HarvestJobs"]] == ["clip-1"]
    assert client.list_harvest_jobs(IncludeChannelId="news")["HarvestJobs"] == []


# Errors, as the model declares them ------------------------------------------------------------------------


def test_an_unknown_job_is_not_found(client: MediaPackageClient) -> None:
    error = error_of(lambda: client.describe_harvest_job(Id="nope"))
    assert isinstance(error, client.exceptions.NotFoundException)
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_an_id_is_unique(client: MediaPackageClient) -> None:
    client.create_harvest_job(**job_request())
    error = error_of(lambda: client.create_harvest_job(**job_request(EndTime=(NOW - timedelta(minutes=5)).isoformat())))
    assert isinstance(error, client.exceptions.UnprocessableEntityException)
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 422
    assert "clip-1 already exists" in error.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"Id": "clip 1"}, "id: 1 to 256 letters"),
        ({"EndTime": (NOW - timedelta(minutes=30)).isoformat()}, "endTime: must be later than startTime"),
        ({"StartTime": (NOW - timedelta(hours=25)).isoformat()}, "at most 24 hours"),
        ({"EndTime": (NOW + timedelta(minutes=1)).isoformat()}, "endTime: must be in the past"),
        ({"StartTime": "yesterday"}, "startTime: 'yesterday' is not an ISO-8601 time"),
        ({"StartTime": "2026-03-01T11:40:00"}, "with an offset"),
        (
            {"S3Destination": {"BucketName": "Clips", "ManifestKey": "index.m3u8", "RoleArn": ROLE}},
            "bucketName: 'Clips'",
        ),
        (
            {"S3Destination": {"BucketName": "clips-bucket", "ManifestKey": "x", "RoleArn": "harvest-writer"}},
            "roleArn: 'harvest-writer' is not an IAM role ARN",
        ),
    ],
    ids=["id", "end-before-start", "over-24h", "end-in-future", "not-a-time", "naive", "bucket", "role"],
)
def test_invalid_requests_are_unprocessable(client: MediaPackageClient, overrides: dict[str, Any], words: str) -> None:
    error = error_of(lambda: client.create_harvest_job(**job_request(**overrides)))
    assert isinstance(error, client.exceptions.UnprocessableEntityException)
    assert words in error.response["Error"]["Message"]


def test_a_missing_member_is_unprocessable(emulator: MediaPackageV1Emulator) -> None:
    client = client_for(emulator, validate_params=False)
    request = job_request()
    del request["OriginEndpointId"]
    error = error_of(lambda: client.create_harvest_job(**request))
    assert isinstance(error, client.exceptions.UnprocessableEntityException)
    assert "OriginEndpointId: is required" in error.response["Error"]["Message"]


# Listing ---------------------------------------------------------------------------------------------------


def test_list_filters_by_status_and_pages(client: MediaPackageClient, clock: FakeClock) -> None:
    for index in range(3):
        client.create_harvest_job(**job_request(f"clip-{index}"))
    clock.advance(40)
    client.create_harvest_job(**job_request("clip-late"))
    assert [j["Id"] for j in client.list_harvest_jobs(IncludeStatus="IN_PROGRESS")["HarvestJobs"]] == ["clip-late"]
    first = client.list_harvest_jobs(IncludeStatus="SUCCEEDED", MaxResults=2)
    assert_fits_output("ListHarvestJobs", first)
    assert [j["Id"] for j in first["HarvestJobs"]] == ["clip-0", "clip-1"]
    second = client.list_harvest_jobs(IncludeStatus="SUCCEEDED", MaxResults=2, NextToken=first["NextToken"])
    assert [j["Id"] for j in second["HarvestJobs"]] == ["clip-2"]
    assert "NextToken" not in second
    pages = client.get_paginator("list_harvest_jobs").paginate(PaginationConfig={"PageSize": 1})
    assert [j["Id"] for page in pages for j in page["HarvestJobs"]] == ["clip-0", "clip-1", "clip-2", "clip-late"]


def test_a_token_for_other_filters_is_unprocessable(client: MediaPackageClient) -> None:
    for index in range(2):
        client.create_harvest_job(**job_request(f"clip-{index}"))
    token = client.list_harvest_jobs(MaxResults=1)["NextToken"]
    error = error_of(lambda: client.list_harvest_jobs(IncludeStatus="FAILED", NextToken=token))
    assert isinstance(error, client.exceptions.UnprocessableEntityException)


# The scenario's faults and throttle, in v1's own errors ------------------------------------------------------


def test_scripted_faults_answer_with_v1_errors(start_emulator: Callable[..., MediaPackageV1Emulator]) -> None:
    scenario = Scenario(
        faults=(
            Fault("CreateHarvestJob", "ThrottlingException", frozenset({1})),
            Fault("GetHarvestJob", "InternalServerException", frozenset({1}), job_name="clip-*"),
        )
    )
    emulator = start_emulator(scenario)
    client = client_for(emulator)
    throttled = error_of(lambda: client.create_harvest_job(**job_request()))
    assert isinstance(throttled, client.exceptions.TooManyRequestsException)
    assert throttled.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    client.create_harvest_job(**job_request())
    broken = error_of(lambda: client.describe_harvest_job(Id="clip-1"))  # GetHarvestJob's faults cover Describe
    assert isinstance(broken, client.exceptions.InternalServerErrorException)
    assert client.describe_harvest_job(Id="clip-1")["Id"] == "clip-1"
    assert [(c.operation, c.status, c.error_code) for c in emulator.calls] == [
        ("CreateHarvestJob", 429, "TooManyRequestsException"),
        ("CreateHarvestJob", 200, None),
        ("DescribeHarvestJob", 500, "InternalServerErrorException"),
        ("DescribeHarvestJob", 200, None),
    ]
    assert emulator.internal_errors == []


def test_the_throttle_answers_too_many_requests(
    start_emulator: Callable[..., MediaPackageV1Emulator], clock: FakeClock
) -> None:
    emulator = start_emulator(Scenario(throttle=Throttle(max_calls=1, operations=frozenset({"GetHarvestJob"}))))
    client = client_for(emulator)
    client.create_harvest_job(**job_request())
    client.describe_harvest_job(Id="clip-1")
    error = error_of(lambda: client.describe_harvest_job(Id="clip-1"))
    assert isinstance(error, client.exceptions.TooManyRequestsException)
    clock.advance(1)
    assert client.describe_harvest_job(Id="clip-1")["Status"] == "IN_PROGRESS"
