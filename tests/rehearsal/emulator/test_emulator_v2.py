"""The MediaPackage v2 emulator (``emulator/v2.py``), seen through unmodified boto3: every answer must parse as the
2022-12-25 model says (see ``wire.py`` for the output-shape validator). What v2 shares with v1 is tested over both
in ``test_emulator_base.py``; the wire format alone in ``test_emulator_protocol.py``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from mypy_boto3_mediapackagev2 import Mediapackagev2Client

from mediapackage_harvest.rehearsal.emulator import MediaPackageV2Emulator
from mediapackage_harvest.rehearsal.scenario import FAULT_CODES, Fault, JobScript, Outcome, Scenario, Throttle
from mediapackage_harvest.rehearsal.virtual_clock import VirtualClock
from tests.rehearsal.emulator.wire import (
    CHANNEL,
    ENDPOINT,
    GROUP,
    START,
    V2,
    FakeClock,
    Flavour,
    client_for,
    error_of,
    shape_problems,
)
from tests.rehearsal.emulator.wire import V2_MODEL as MODEL
from tests.rehearsal.emulator.wire import assert_fits_output as fits_output
from tests.rehearsal.emulator.wire import v2_key as job_key
from tests.rehearsal.emulator.wire import v2_request as job_request

SENT = V2.sent  # what job_request() sends, as the call's event (the rehearsal's timeline) shows it


def assert_fits_output(operation: str, parsed: Mapping[str, Any]) -> None:
    fits_output(MODEL, operation, parsed)


# Fixtures ----------------------------------------------------------------------------------------------------


@pytest.fixture
def flavour() -> Flavour:
    return V2


@pytest.fixture
def client(emulator: MediaPackageV2Emulator) -> Mediapackagev2Client:
    typed: Mediapackagev2Client = client_for(emulator)
    return typed


def test_the_validator_catches_missing_unknown_and_out_of_enum_members() -> None:
    shape = MODEL.operation_model("GetHarvestJob").output_shape
    assert shape is not None
    problems = shape_problems(shape, {"Status": "DONE", "Surprise": 1, "CreatedAt": "yesterday"}, "Get")
    assert "Get.Arn: required but missing" in problems
    assert "Get.Surprise: not a member of GetHarvestJobResponse" in problems
    assert any("'DONE' not in" in p for p in problems)
    assert any(p.startswith("Get.CreatedAt: expected an aware datetime") for p in problems)


# Every operation's response fits its output shape ----------------------------------------------------------


def test_every_operation_answers_in_its_output_shape(client: Mediapackagev2Client, clock: FakeClock) -> None:
    request = job_request(
        Description="The goal in the second half",
        HarvestedManifests={
            "HlsManifests": [{"ManifestName": "hls"}],
            "DashManifests": [{"ManifestName": "dash"}],
            "LowLatencyHlsManifests": [{"ManifestName": "llhls"}],
        },
        Tags={"team": "sport"},
    )
    created = client.create_harvest_job(**request)
    assert_fits_output("CreateHarvestJob", created)
    assert created["Status"] == "QUEUED"
    assert created["Tags"] == {"team": "sport"}
    assert created["Description"] == "The goal in the second half"
    assert created["ScheduleConfiguration"] == request["ScheduleConfiguration"]
    assert created["CreatedAt"] == datetime.fromtimestamp(START, UTC)

    clock.advance(6)
    got = client.get_harvest_job(**job_key())
    assert_fits_output("GetHarvestJob", got)
    assert got["Status"] == "IN_PROGRESS"

    listed = client.list_harvest_jobs(ChannelGroupName=GROUP)
    assert_fits_output("ListHarvestJobs", listed)
    assert [item["Arn"] for item in listed["Items"]] == [created["Arn"]]

    assert_fits_output("TagResource", client.tag_resource(ResourceArn=created["Arn"], Tags={"tier": "gold"}))
    tags = client.list_tags_for_resource(ResourceArn=created["Arn"])
    assert_fits_output("ListTagsForResource", tags)
    assert tags["Tags"] == {"team": "sport", "tier": "gold"}
    assert_fits_output("UntagResource", client.untag_resource(ResourceArn=created["Arn"], TagKeys=["team"]))

    assert_fits_output("CancelHarvestJob", client.cancel_harvest_job(**job_key()))
    cancelled = client.get_harvest_job(**job_key())
    assert_fits_output("GetHarvestJob", cancelled)
    assert cancelled["Status"] == "CANCELLED"

    names = {"ChannelGroupName": GROUP, "ChannelName": CHANNEL, "OriginEndpointName": ENDPOINT}
    endpoint = client.get_origin_endpoint(**names)
    assert_fits_output("GetOriginEndpoint", endpoint)
    assert endpoint["Arn"] == created["Arn"].split("/harvestJob/")[0]
    policy = client.get_origin_endpoint_policy(**names)
    assert_fits_output("GetOriginEndpointPolicy", policy)
    assert "mediapackagev2.amazonaws.com" in policy["Policy"]


def test_failed_job_answers_in_shape_with_its_error_message(
    start_emulator: Callable[..., MediaPackageV2Emulator], clock: FakeClock
) -> None:
    scenario = Scenario(jobs={"broken-*": JobScript(outcome="FAILED", error_message="Manifest not found")})
    client = client_for(start_emulator(scenario))
    client.create_harvest_job(**job_request("broken-1"))
    clock.advance(35)
    got = client.get_harvest_job(**job_key("broken-1"))
    assert_fits_output("GetHarvestJob", got)
    assert (got["Status"], got["ErrorMessage"]) == ("FAILED", "Manifest not found")
    assert_fits_output("ListHarvestJobs", client.list_harvest_jobs(ChannelGroupName=GROUP))


def test_error_responses_carry_code_status_and_modeled_members(client: Mediapackagev2Client) -> None:
    error = error_of(lambda: client.get_harvest_job(**job_key("missing")))
    assert error.response["Error"]["Code"] == "ResourceNotFoundException"
    assert error.response["Error"]["Message"] == "Harvest job missing not found"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error.response.get("ResourceTypeNotFound") == "HARVEST_JOB"
    assert isinstance(error, client.exceptions.ResourceNotFoundException)


# Idempotency, names, not found ---------------------------------------------------------------------------------


def test_same_client_token_and_request_returns_the_same_job(
    client: Mediapackagev2Client, emulator: MediaPackageV2Emulator
) -> None:
    first = client.create_harvest_job(**job_request(), ClientToken="token-1")
    again = client.create_harvest_job(**job_request(), ClientToken="token-1")
    assert again["Arn"] == first["Arn"]
    assert again["ETag"] == first["ETag"]
    assert len(emulator.jobs()) == 1


def test_same_client_token_with_a_different_request_is_a_conflict(client: Mediapackagev2Client) -> None:
    client.create_harvest_job(**job_request(), ClientToken="token-1")
    error = error_of(lambda: client.create_harvest_job(**job_request(Description="changed"), ClientToken="token-1"))
    assert error.response["Error"]["Code"] == "ConflictException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert error.response.get("ConflictExceptionType") == "IDEMPOTENT_PARAMETER_MISMATCH"


def test_job_names_are_unique_per_channel(client: Mediapackagev2Client) -> None:
    client.create_harvest_job(**job_request())
    error = error_of(lambda: client.create_harvest_job(**job_request(OriginEndpointName="dash-endpoint")))
    assert error.response["Error"]["Code"] == "ConflictException"
    assert error.response.get("ConflictExceptionType") == "RESOURCE_ALREADY_EXISTS"
    assert "HarvestJobName" in error.response["Error"]["Message"]
    other_channel = client.create_harvest_job(**job_request(ChannelName="other-channel"))
    assert other_channel["HarvestJobName"] == "clip-1"


def test_a_job_without_a_name_gets_one(client: Mediapackagev2Client) -> None:
    request = job_request()
    del request["HarvestJobName"]
    created = client.create_harvest_job(**request)
    assert re.fullmatch(r"[a-zA-Z0-9_-]+", created["HarvestJobName"])
    assert client.get_harvest_job(**job_key(created["HarvestJobName"]))["Arn"] == created["Arn"]


def test_unknown_jobs_are_not_found(client: Mediapackagev2Client) -> None:
    client.create_harvest_job(**job_request())
    for call in (
        lambda: client.get_harvest_job(**job_key("nope")),
        lambda: client.get_harvest_job(**job_key(OriginEndpointName="another-endpoint")),
        lambda: client.cancel_harvest_job(**job_key("nope")),
    ):
        error = error_of(call)
        assert error.response["Error"]["Code"] == "ResourceNotFoundException"
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 404


# Status over time ---------------------------------------------------------------------------------------------


def test_status_follows_the_script_on_the_clock(client: Mediapackagev2Client, clock: FakeClock) -> None:
    created = client.create_harvest_job(**job_request())
    seen = []
    for step in (0, 4.9, 0.1, 29.9, 0.1, 100):
        clock.advance(step)
        got = client.get_harvest_job(**job_key())
        seen.append((round(clock.now - START, 1), got["Status"], got["ModifiedAt"].timestamp() - START))
    assert seen == [
        (0, "QUEUED", 0),
        (4.9, "QUEUED", 0),
        (5.0, "IN_PROGRESS", 5),
        (34.9, "IN_PROGRESS", 5),
        (35.0, "COMPLETED", 35),
        (135.0, "COMPLETED", 35),
    ]
    assert created["CreatedAt"] == got["CreatedAt"]
    assert "ErrorMessage" not in got


def test_a_real_time_harvest_runs_until_its_end_time_then_its_scripted_time(
    client: Mediapackagev2Client, clock: FakeClock
) -> None:
    """EndTime an hour ahead: IN_PROGRESS at least until then (not after the scripted 35 s), then 30 s more."""
    start = datetime.fromtimestamp(START, UTC) - timedelta(minutes=10)
    window = {"StartTime": start, "EndTime": start + timedelta(minutes=70)}
    client.create_harvest_job(**job_request(ScheduleConfiguration=window))
    seen = []
    for step in (35, 3564.9, 0.1, 29.9, 0.1):
        clock.advance(step)
        seen.append((round(clock.now - START, 1), client.get_harvest_job(**job_key())["Status"]))
    assert seen == [
        (35, "IN_PROGRESS"),
        (3599.9, "IN_PROGRESS"),
        (3600, "IN_PROGRESS"),  # the window's end
        (3629.9, "IN_PROGRESS"),
        (3630, "COMPLETED"),  # its scripted 30 s in progress after the window's end
    ]


def test_late_observation_reports_status_changes_at_their_scripted_times(
    emulator: MediaPackageV2Emulator, client: Mediapackagev2Client, clock: FakeClock
) -> None:
    events: list[tuple[float, str, str]] = []
    emulator.on_event(lambda at, kind, detail: events.append((at - START, kind, detail)))
    client.create_harvest_job(**job_request())
    clock.advance(600)
    client.get_harvest_job(**job_key())
    assert events == [
        (0, "status", "clip-1: QUEUED"),
        (0, "CreateHarvestJob", f"clip-1: 200 QUEUED; sent: {SENT}"),
        (5, "status", "clip-1: IN_PROGRESS"),
        (35, "status", "clip-1: COMPLETED"),
        (600, "GetHarvestJob", "clip-1: 200 COMPLETED"),
    ]


def test_a_failed_job_reports_its_error_message(
    start_emulator: Callable[..., MediaPackageV2Emulator], clock: FakeClock
) -> None:
    scenario = Scenario(jobs={"clip-1": JobScript(queued_seconds=1, in_progress_seconds=2, outcome="FAILED")})
    emulator = start_emulator(scenario)
    events: list[str] = []
    emulator.on_event(lambda _at, kind, detail: events.append(detail) if kind == "status" else None)
    client = client_for(emulator)
    client.create_harvest_job(**job_request())
    clock.advance(3)
    got = client.get_harvest_job(**job_key())
    assert got["Status"] == "FAILED"
    assert got["ErrorMessage"] == JobScript().error_message
    assert events[-1] == f"clip-1: FAILED ({JobScript().error_message})"


def test_a_scripted_cancelled_outcome(start_emulator: Callable[..., MediaPackageV2Emulator], clock: FakeClock) -> None:
    client = client_for(start_emulator(Scenario(default_job=JobScript(outcome="CANCELLED"))))
    client.create_harvest_job(**job_request())
    clock.advance(35)
    assert client.get_harvest_job(**job_key())["Status"] == "CANCELLED"


def test_zero_queue_time_starts_in_progress(start_emulator: Callable[..., MediaPackageV2Emulator]) -> None:
    client = client_for(start_emulator(Scenario(default_job=JobScript(queued_seconds=0))))
    assert client.create_harvest_job(**job_request())["Status"] == "IN_PROGRESS"


# Cancel ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("after", [0, 10])
def test_queued_and_in_progress_jobs_can_be_cancelled(
    client: Mediapackagev2Client, clock: FakeClock, after: float
) -> None:
    client.create_harvest_job(**job_request())
    clock.advance(after)
    client.cancel_harvest_job(**job_key())
    clock.advance(1000)  # the script's later changes no longer apply
    got = client.get_harvest_job(**job_key())
    assert got["Status"] == "CANCELLED"
    assert got["ModifiedAt"] == datetime.fromtimestamp(START + after, UTC)


@pytest.mark.parametrize("outcome", ["COMPLETED", "FAILED", "CANCELLED"])
def test_finished_jobs_cannot_be_cancelled(
    start_emulator: Callable[..., MediaPackageV2Emulator], clock: FakeClock, outcome: Outcome
) -> None:
    client = client_for(start_emulator(Scenario(default_job=JobScript(outcome=outcome))))
    client.create_harvest_job(**job_request())
    clock.advance(35)
    error = error_of(lambda: client.cancel_harvest_job(**job_key()))
    assert error.response["Error"]["Code"] == "ConflictException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert outcome in error.response["Error"]["Message"]


def test_cancel_checks_the_etag_when_given(client: Mediapackagev2Client, clock: FakeClock) -> None:
    stale = client.create_harvest_job(**job_request())["ETag"]
    clock.advance(6)  # IN_PROGRESS: a new ETag
    error = error_of(lambda: client.cancel_harvest_job(**job_key(), ETag=stale))
    assert error.response["Error"]["Code"] == "ConflictException"
    current = client.get_harvest_job(**job_key())["ETag"]
    client.cancel_harvest_job(**job_key(), ETag=current)
    assert client.get_harvest_job(**job_key())["Status"] == "CANCELLED"


# ETag and ModifiedAt -------------------------------------------------------------------------------------------


def test_the_etag_changes_with_every_modification_and_only_then(client: Mediapackagev2Client, clock: FakeClock) -> None:
    arn = client.create_harvest_job(**job_request(), Tags={"a": "1"})["Arn"]

    def state() -> tuple[str, float]:
        got = client.get_harvest_job(**job_key())
        return got["ETag"], got["ModifiedAt"].timestamp() - START

    created = state()
    clock.advance(1)
    assert state() == created  # looked at, not modified
    clock.advance(5)
    started = state()
    clock.advance(1)
    client.tag_resource(ResourceArn=arn, Tags={"b": "2"})
    tagged = state()
    client.tag_resource(ResourceArn=arn, Tags={"b": "2"})  # no change
    assert state() == tagged
    clock.advance(1)
    client.untag_resource(ResourceArn=arn, TagKeys=["a"])
    untagged = state()
    clock.advance(1)
    client.cancel_harvest_job(**job_key())
    cancelled = state()
    history = [created, started, tagged, untagged, cancelled]
    assert [modified for _, modified in history] == [0, 5, 7, 8, 9]
    assert len({etag for etag, _ in history}) == len(history)


# Tags ---------------------------------------------------------------------------------------------------------


def test_tags_round_trip(client: Mediapackagev2Client) -> None:
    arn = client.create_harvest_job(**job_request(), Tags={"team": "sport", "cost": "clips"})["Arn"]
    client.tag_resource(ResourceArn=arn, Tags={"cost": "vod", "new": "yes"})
    client.untag_resource(ResourceArn=arn, TagKeys=["team", "absent"])
    expected = {"cost": "vod", "new": "yes"}
    assert client.list_tags_for_resource(ResourceArn=arn)["Tags"] == expected
    assert client.get_harvest_job(**job_key())["Tags"] == expected
    assert "Tags" not in client.list_harvest_jobs(ChannelGroupName=GROUP)["Items"][0]


def test_a_job_without_tags_lists_an_empty_map(client: Mediapackagev2Client) -> None:
    arn = client.create_harvest_job(**job_request())["Arn"]
    assert client.list_tags_for_resource(ResourceArn=arn)["Tags"] == {}
    assert "Tags" not in client.get_harvest_job(**job_key())


@pytest.mark.parametrize(
    "tags, field",
    [({"aws:owner": "me"}, "aws:owner"), ({"k" * 129: "v"}, "k" * 129), ({"k": "v" * 257}, "'k'")],
)
def test_tags_break_the_aws_tagging_rules(client: Mediapackagev2Client, tags: dict[str, str], field: str) -> None:
    arn = client.create_harvest_job(**job_request())["Arn"]
    error = error_of(lambda: client.tag_resource(ResourceArn=arn, Tags=tags))
    assert error.response["Error"]["Code"] == "ValidationException"
    assert field in error.response["Error"]["Message"]


def test_at_most_fifty_tags(client: Mediapackagev2Client) -> None:
    arn = client.create_harvest_job(**job_request(), Tags={f"k{i}": "v" for i in range(50)})["Arn"]
    error = error_of(lambda: client.tag_resource(ResourceArn=arn, Tags={"one-more": "v"}))
    assert error.response["Error"]["Code"] == "ValidationException"


@pytest.mark.parametrize(
    "arn",
    [
        "not-an-arn",
        "arn:aws:mediapackagev2:us-east-1:123456789012:channelGroup/g/channel/c/originEndpoint/e/harvestJob/none",
        "arn:aws:mediapackagev2:eu-west-1:123456789012:channelGroup/g/channel/c/originEndpoint/e/harvestJob/x",
    ],
)
def test_tagging_an_unknown_arn_is_a_validation_error(client: Mediapackagev2Client, arn: str) -> None:
    for call in (
        lambda: client.tag_resource(ResourceArn=arn, Tags={"a": "b"}),
        lambda: client.untag_resource(ResourceArn=arn, TagKeys=["a"]),
        lambda: client.list_tags_for_resource(ResourceArn=arn),
    ):
        error = error_of(call)
        assert error.response["Error"]["Code"] == "ValidationException"
        assert "ResourceArn" in error.response["Error"]["Message"]


# Listing -------------------------------------------------------------------------------------------------------


def test_pagination_walks_every_job_in_creation_order(
    start_emulator: Callable[..., MediaPackageV2Emulator],
) -> None:
    client = client_for(start_emulator(Scenario(active_jobs_quota=20, list_page_size=3)))
    names = [f"clip-{i}" for i in range(7)]
    for name in names:
        client.create_harvest_job(**job_request(name))
    first = client.list_harvest_jobs(ChannelGroupName=GROUP)
    assert len(first["Items"]) == 3 and "NextToken" in first
    pages = list(client.get_paginator("list_harvest_jobs").paginate(ChannelGroupName=GROUP))
    assert [len(p["Items"]) for p in pages] == [3, 3, 1]
    assert [item["HarvestJobName"] for p in pages for item in p["Items"]] == names
    for page in pages:
        assert_fits_output("ListHarvestJobs", page)
    sized = client.list_harvest_jobs(ChannelGroupName=GROUP, MaxResults=7)
    assert len(sized["Items"]) == 7 and "NextToken" not in sized


def test_list_filters_by_channel_endpoint_and_status(client: Mediapackagev2Client, clock: FakeClock) -> None:
    client.create_harvest_job(**job_request("a"))
    client.create_harvest_job(**job_request("b", ChannelName="other"))
    client.create_harvest_job(**job_request("c", OriginEndpointName="dash"))
    clock.advance(6)
    client.create_harvest_job(**job_request("d"))

    def names(**filters: Any) -> list[str]:
        return [i["HarvestJobName"] for i in client.list_harvest_jobs(ChannelGroupName=GROUP, **filters)["Items"]]

    assert names() == ["a", "b", "c", "d"]
    assert names(ChannelName=CHANNEL) == ["a", "c", "d"]
    assert names(ChannelName=CHANNEL, OriginEndpointName="dash") == ["c"]
    assert names(Status="QUEUED") == ["d"]
    assert names(Status="IN_PROGRESS", ChannelName="other") == ["b"]
    assert client.list_harvest_jobs(ChannelGroupName="empty-group")["Items"] == []


def test_a_bad_or_foreign_next_token_is_rejected(
    start_emulator: Callable[..., MediaPackageV2Emulator],
) -> None:
    client = client_for(start_emulator(Scenario(list_page_size=1)))
    client.create_harvest_job(**job_request("a"))
    client.create_harvest_job(**job_request("b"))
    token = client.list_harvest_jobs(ChannelGroupName=GROUP)["NextToken"]
    for call in (
        lambda: client.list_harvest_jobs(ChannelGroupName=GROUP, NextToken="garbage"),
        lambda: client.list_harvest_jobs(ChannelGroupName=GROUP, ChannelName="other", NextToken=token),
    ):
        error = error_of(call)
        assert error.response["Error"]["Code"] == "ValidationException"
        assert error.response.get("ValidationExceptionType") == "INVALID_PAGINATION_TOKEN"


@pytest.mark.parametrize("max_results", [0, 101])
def test_max_results_outside_the_model_range_is_rejected(emulator: MediaPackageV2Emulator, max_results: int) -> None:
    client = client_for(emulator, validate_params=False)
    error = error_of(lambda: client.list_harvest_jobs(ChannelGroupName=GROUP, MaxResults=max_results))
    assert error.response["Error"]["Code"] == "ValidationException"
    assert "MaxResults" in error.response["Error"]["Message"]


# Validation ----------------------------------------------------------------------------------------------------

LATER = datetime.fromtimestamp(START, UTC) + timedelta(minutes=5)
EARLIER = datetime.fromtimestamp(START, UTC) - timedelta(hours=30)


@pytest.mark.parametrize(
    "overrides, field, kind",
    [
        ({"HarvestJobName": "has space"}, "HarvestJobName", "MEMBER_DOES_NOT_MATCH_PATTERN"),
        ({"HarvestJobName": "n" * 257}, "HarvestJobName", "MEMBER_MAX_LENGTH"),
        ({"Description": "d" * 1025}, "Description", "MEMBER_MAX_LENGTH"),
        ({"HarvestedManifests": {}}, "HarvestedManifests", "NUM_MANIFESTS_LOW"),
        ({"HarvestedManifests": {"DashManifests": []}}, "HarvestedManifests", "NUM_MANIFESTS_LOW"),
        (
            {"HarvestedManifests": {"DashManifests": [{"ManifestName": "a/b"}]}},
            "HarvestedManifests.DashManifests[0].ManifestName",
            "MEMBER_DOES_NOT_MATCH_PATTERN",
        ),
        (
            {"HarvestedManifests": {"HlsManifests": [{}]}},
            "HarvestedManifests.HlsManifests[0].ManifestName",
            "MEMBER_MISSING",
        ),
        (
            {"ScheduleConfiguration": {"StartTime": EARLIER + timedelta(hours=1), "EndTime": EARLIER}},
            "ScheduleConfiguration.EndTime",
            "END_TIME_EARLIER_THAN_START_TIME",
        ),
        (
            {"ScheduleConfiguration": {"StartTime": EARLIER, "EndTime": EARLIER + timedelta(hours=24, seconds=1)}},
            "ScheduleConfiguration",
            "INVALID_HARVEST_JOB_DURATION",
        ),
        (
            {"ScheduleConfiguration": {"StartTime": LATER, "EndTime": LATER + timedelta(minutes=5)}},
            "ScheduleConfiguration.StartTime",
            "MEMBER_INVALID",
        ),
        (
            {"ScheduleConfiguration": {"StartTime": EARLIER}},
            "ScheduleConfiguration.EndTime",
            "MEMBER_MISSING",
        ),
        ({"Destination": None}, "Destination", "MEMBER_MISSING"),
        (
            {"Destination": {"S3Destination": {"BucketName": "ab", "DestinationPath": "p"}}},
            "Destination.S3Destination.BucketName",
            "MEMBER_MIN_LENGTH",
        ),
        (
            {"Destination": {"S3Destination": {"BucketName": "bucket", "DestinationPath": "has space"}}},
            "Destination.S3Destination.DestinationPath",
            "MEMBER_DOES_NOT_MATCH_PATTERN",
        ),
        ({"ChannelName": "bad.channel"}, "ChannelName", "MEMBER_DOES_NOT_MATCH_PATTERN"),
        ({"Tags": {"aws:reserved": "x"}}, "aws:reserved", "MEMBER_INVALID"),
    ],
)
def test_validation_errors_name_the_field(
    emulator: MediaPackageV2Emulator, overrides: dict[str, Any], field: str, kind: str
) -> None:
    client = client_for(emulator, validate_params=False)  # let the emulator, not botocore, judge the request
    request = {k: v for k, v in job_request(**overrides).items() if v is not None}
    error = error_of(lambda: client.create_harvest_job(**request))
    assert error.response["Error"]["Code"] == "ValidationException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert f"{field}:" in error.response["Error"]["Message"] or field in error.response["Error"]["Message"]
    assert error.response.get("ValidationExceptionType") == kind
    assert emulator.jobs() == []


def test_the_window_may_be_exactly_24_hours_and_end_after_now(client: Mediapackagev2Client) -> None:
    day = {"StartTime": EARLIER, "EndTime": EARLIER + timedelta(hours=24)}
    assert client.create_harvest_job(**job_request(ScheduleConfiguration=day))["Status"] == "QUEUED"


def test_a_bad_name_in_the_uri_is_a_validation_error(client: Mediapackagev2Client) -> None:
    error = error_of(lambda: client.get_harvest_job(**job_key("bad.name")))
    assert error.response["Error"]["Code"] == "ValidationException"
    assert "HarvestJobName" in error.response["Error"]["Message"]


# Quota -------------------------------------------------------------------------------------------------------


def test_the_active_jobs_quota_counts_queued_and_in_progress_per_channel_group(
    start_emulator: Callable[..., MediaPackageV2Emulator], clock: FakeClock
) -> None:
    client = client_for(start_emulator(Scenario(active_jobs_quota=2)))
    client.create_harvest_job(**job_request("a"))
    clock.advance(10)  # a is IN_PROGRESS
    client.create_harvest_job(**job_request("b"))
    error = error_of(lambda: client.create_harvest_job(**job_request("c")))
    assert error.response["Error"]["Code"] == "ServiceQuotaExceededException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 402
    client.create_harvest_job(**job_request("c", ChannelGroupName="another-group"))
    clock.advance(25)  # a COMPLETED at 35 s
    client.create_harvest_job(**job_request("c"))
    client.cancel_harvest_job(**job_key("b"))
    client.create_harvest_job(**job_request("d"))


# Scripted faults and throttling ------------------------------------------------------------------------------

_STATUS = {
    "ThrottlingException": 429,
    "InternalServerException": 500,
    "AccessDeniedException": 403,
    "ValidationException": 400,
    "ConflictException": 409,
    "ResourceNotFoundException": 404,
    "ServiceQuotaExceededException": 402,
}


@pytest.mark.parametrize("code", sorted(FAULT_CODES))
def test_a_scripted_fault_reaches_boto3_with_the_model_status(
    start_emulator: Callable[..., MediaPackageV2Emulator], code: str
) -> None:
    fault = Fault("CreateHarvestJob", code, frozenset({1, 2}))
    emulator = start_emulator(Scenario(faults=(fault,)))
    client = client_for(emulator)
    for _ in range(2):
        error = error_of(lambda: client.create_harvest_job(**job_request()))
        assert error.response["Error"]["Code"] == code
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == _STATUS[code]
    assert client.create_harvest_job(**job_request())["Status"] == "QUEUED"
    assert [(c.status, c.error_code) for c in emulator.calls] == [(_STATUS[code], code)] * 2 + [(200, None)]


def test_faults_with_a_job_name_count_attempts_per_job(
    start_emulator: Callable[..., MediaPackageV2Emulator],
) -> None:
    fault = Fault("GetHarvestJob", "InternalServerException", frozenset({1}), job_name="flaky-*", message="oops")
    client = client_for(start_emulator(Scenario(faults=(fault,))))
    for name in ("flaky-a", "flaky-b", "steady"):
        client.create_harvest_job(**job_request(name))
    outcomes = []
    for name in ("steady", "flaky-a", "flaky-a", "flaky-b", "flaky-b"):
        try:
            outcomes.append(client.get_harvest_job(**job_key(name))["HarvestJobName"])
        except ClientError as error:
            outcomes.append(f"{error.response['Error']['Code']}: {error.response['Error']['Message']}")
    assert outcomes == [
        "steady",
        "InternalServerException: oops",
        "flaky-a",
        "InternalServerException: oops",
        "flaky-b",
    ]


def test_every_attempt_fault_and_fault_extra_members(start_emulator: Callable[..., MediaPackageV2Emulator]) -> None:
    faults = (Fault("ListTagsForResource", "AccessDeniedException"), Fault("CancelHarvestJob", "ConflictException"))
    client = client_for(start_emulator(Scenario(faults=faults)))
    arn = client.create_harvest_job(**job_request())["Arn"]
    for _ in range(3):
        error = error_of(lambda: client.list_tags_for_resource(ResourceArn=arn))
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    error = error_of(lambda: client.cancel_harvest_job(**job_key()))
    assert error.response.get("ConflictExceptionType") == "CONFLICTING_OPERATION"


def test_throttling_limits_calls_per_virtual_second(
    start_emulator: Callable[..., MediaPackageV2Emulator], clock: FakeClock
) -> None:
    throttle = Throttle(max_calls=2, per_seconds=1, operations=frozenset({"GetHarvestJob"}))
    emulator = start_emulator(Scenario(throttle=throttle))
    client = client_for(emulator)
    client.create_harvest_job(**job_request())
    client.get_harvest_job(**job_key())
    client.get_harvest_job(**job_key())
    error = error_of(lambda: client.get_harvest_job(**job_key()))
    assert error.response["Error"]["Code"] == "ThrottlingException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    client.list_harvest_jobs(ChannelGroupName=GROUP)  # not covered by the throttle
    clock.advance(0.5)
    error_of(lambda: client.get_harvest_job(**job_key()))
    clock.advance(0.5)
    client.get_harvest_job(**job_key())
    assert [c.error_code for c in emulator.calls if c.operation == "GetHarvestJob"] == [
        None,
        None,
        "ThrottlingException",
        "ThrottlingException",
        None,
    ]


def test_boto3_standard_retries_ride_over_a_scripted_throttle(
    start_emulator: Callable[..., MediaPackageV2Emulator],
) -> None:
    emulator = start_emulator(Scenario(faults=(Fault("CreateHarvestJob", "ThrottlingException", frozenset({1})),)))
    client = boto3.client(
        "mediapackagev2",
        endpoint_url=emulator.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"mode": "standard", "total_max_attempts": 2}),
    )
    created = client.create_harvest_job(**job_request())
    assert created["ResponseMetadata"]["RetryAttempts"] == 1
    assert [c.status for c in emulator.calls] == [429, 200]


# Inspection and concurrency ----------------------------------------------------------------------------------


def test_jobs_and_job_are_snapshots(client: Mediapackagev2Client, emulator: MediaPackageV2Emulator) -> None:
    arn = client.create_harvest_job(**job_request(), Tags={"a": "b"})["Arn"]
    snapshot = emulator.job(arn)
    assert snapshot["Status"] == "QUEUED" and snapshot["Tags"] == {"a": "b"}
    snapshot["Tags"]["a"] = "changed"
    snapshot["HarvestedManifests"]["HlsManifests"].clear()
    assert emulator.jobs() == [emulator.job(arn)]
    assert emulator.job(arn)["Tags"] == {"a": "b"}
    assert emulator.job(arn)["HarvestedManifests"]["HlsManifests"] == [{"ManifestName": "index"}]
    with pytest.raises(KeyError):
        emulator.job(arn + "-nope")


# On the rehearsal's virtual clock -----------------------------------------------------------------------------


def test_a_polling_task_on_the_virtual_clock_sees_the_scripted_timeline() -> None:
    clock = VirtualClock(START)
    on_virtual_time = MediaPackageV2Emulator(clock, Scenario(default_job=JobScript(60, 1200)))
    events: list[tuple[float, str, str]] = []
    on_virtual_time.on_event(lambda at, kind, detail: events.append((at - START, kind, detail)))
    statuses: list[tuple[float, str]] = []

    def poll() -> None:
        client = client_for(on_virtual_time)
        client.create_harvest_job(**job_request())
        while True:
            status = client.get_harvest_job(**job_key())["Status"]
            statuses.append((clock.time() - START, status))
            if status not in ("QUEUED", "IN_PROGRESS"):
                return
            clock.sleep(300)

    with on_virtual_time:
        began = time.monotonic()
        clock.spawn(poll)
        clock.run()
    assert time.monotonic() - began < 10  # 21 virtual minutes
    assert [status for _, status in statuses] == ["QUEUED"] + ["IN_PROGRESS"] * 4 + ["COMPLETED"]
    assert [at for at, _ in statuses] == [0, 300, 600, 900, 1200, 1500]
    assert [(at, detail) for at, kind, detail in events if kind == "status"] == [
        (0, "clip-1: QUEUED"),
        (60, "clip-1: IN_PROGRESS"),
        (1260, "clip-1: COMPLETED"),
    ]
