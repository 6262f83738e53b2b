"""The emulators' origin endpoints and buckets, on the wire: CreateHarvestJob refused as MediaPackage refuses it
(so the service's own refusal is rehearsed when the preflight cannot read), and a write the bucket refuses."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from mediapackage_harvest.rehearsal.emulator import MediaPackageV1Emulator, MediaPackageV2Emulator
from mediapackage_harvest.rehearsal.scenario import EndpointScript, Scenario
from tests.rehearsal.emulator.wire import CHANNEL, ENDPOINT, GROUP, NOW, FakeClock, client_for, error_of
from tests.rehearsal.emulator.wire import v1_request as v1_job
from tests.rehearsal.emulator.wire import v2_key as job_key
from tests.rehearsal.emulator.wire import v2_request as job_request

KEY = f"{GROUP}/{CHANNEL}/{ENDPOINT}"
HEALTHY = EndpointScript(startover_window_seconds=3600, hls_manifests=("index",))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def v2(clock: FakeClock, endpoint: EndpointScript) -> tuple[MediaPackageV2Emulator, Any]:
    emulator = MediaPackageV2Emulator(clock, Scenario(origin_endpoints={KEY: endpoint})).start()
    return emulator, client_for(emulator)


@pytest.mark.parametrize(
    ("endpoint", "request_changes", "code", "kind", "message"),
    [
        (
            replace(HEALTHY, exists=False),
            {},
            "ResourceNotFoundException",
            None,
            "Origin endpoint hls-endpoint not found",
        ),
        (
            HEALTHY,
            {"HarvestedManifests": {"HlsManifests": [{"ManifestName": "indx"}]}},
            "ValidationException",
            "HARVESTED_MANIFEST_NOT_FOUND_ON_ENDPOINT",
            "HLS manifest indx not found on origin endpoint hls-endpoint",
        ),
        (
            replace(HEALTHY, startover_window_seconds=0),
            {},
            "ValidationException",
            "MEMBER_INVALID",
            "has no startover window",
        ),
        (
            replace(HEALTHY, startover_window_seconds=600),
            {},
            "ValidationException",
            "MEMBER_INVALID",
            "must be within the origin endpoint's startover window (600 s)",
        ),
        (
            replace(HEALTHY, harvester_grant=False),
            {},
            "ValidationException",
            "HARVEST_JOB_CUSTOMER_ENDPOINT_READ_ACCESS_DENIED",
            "its policy does not allow mediapackagev2.amazonaws.com HarvestObject and GetObject",
        ),
    ],
    ids=["not-found", "manifest", "no-startover", "outside-startover", "no-grant"],
)
def test_a_create_the_endpoint_cannot_serve_is_refused_and_no_job_exists(
    clock: FakeClock,
    endpoint: EndpointScript,
    request_changes: dict[str, Any],
    code: str,
    kind: str | None,
    message: str,
) -> None:
    emulator, client = v2(clock, endpoint)
    with emulator:
        error = error_of(lambda: client.create_harvest_job(**job_request(**request_changes)))
        assert error.response["Error"]["Code"] == code
        assert message in error.response["Error"]["Message"]
        if kind:
            assert error.response.get("ValidationExceptionType") == kind
        assert emulator.jobs() == []


def test_the_endpoint_reads_say_what_the_scenario_describes(clock: FakeClock) -> None:
    emulator, client = v2(clock, replace(HEALTHY, dash_manifests=("dash",), harvester_grant=False))
    names = {"ChannelGroupName": GROUP, "ChannelName": CHANNEL, "OriginEndpointName": ENDPOINT}
    with emulator:
        endpoint = client.get_origin_endpoint(**names)
        assert endpoint["StartoverWindowSeconds"] == 3600
        assert [m["ManifestName"] for m in endpoint["HlsManifests"]] == ["index"]
        assert [m["ManifestName"] for m in endpoint["DashManifests"]] == ["dash"]
        error = error_of(lambda: client.get_origin_endpoint_policy(**names))
        assert error.response["Error"]["Code"] == "ResourceNotFoundException"
        assumed = client.get_origin_endpoint(**{**names, "OriginEndpointName": "other"})  # described nowhere
        assert assumed["StartoverWindowSeconds"] == 14 * 24 * 3600


def test_a_bucket_of_the_stack_without_the_write_grant_fails_the_job_when_it_starts_writing(clock: FakeClock) -> None:
    emulator, client = v2(clock, HEALTHY)
    emulator.surroundings.buckets["clips-bucket"] = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "mediapackagev2.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::clips-bucket/other/*",
            }
        ]
    }
    with emulator:
        assert client.create_harvest_job(**job_request())["Status"] == "QUEUED"  # accepted
        clock.advance(5)  # the scenario's queued time: the job starts writing
        job = client.get_harvest_job(**job_key())
        assert job["Status"] == "FAILED"
        assert job["ErrorMessage"].startswith("Access Denied writing s3://clips-bucket/clips/one/index.m3u8")


def test_a_bucket_whose_policy_grants_the_path_takes_the_write(clock: FakeClock) -> None:
    emulator, client = v2(clock, HEALTHY)
    emulator.surroundings.buckets["clips-bucket"] = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "mediapackagev2.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::clips-bucket/clips/one/*",
            }
        ]
    }
    with emulator:
        client.create_harvest_job(**job_request())
        clock.advance(35)
        assert client.get_harvest_job(**job_key())["Status"] == "COMPLETED"


def _endpoint_policy(actions: list[str], account: str = "123456789012") -> dict[str, Any]:
    return {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "mediapackagev2.amazonaws.com"},
                "Action": actions,
                "Resource": "*",
                "Condition": {"StringEquals": {"AWS:SourceAccount": account}},
            }
        ]
    }


@pytest.mark.parametrize(
    ("policy", "refused"),
    [
        (_endpoint_policy(["mediapackagev2:HarvestObject"]), "does not allow mediapackagev2.amazonaws.com GetObject"),
        (_endpoint_policy(["mediapackagev2:GetObject"]), "does not allow mediapackagev2.amazonaws.com HarvestObject"),
        (  # the condition is judged: the harvester works for this account, not the one the policy names
            _endpoint_policy(["mediapackagev2:*"], account="999999999999"),
            "does not allow mediapackagev2.amazonaws.com HarvestObject and GetObject",
        ),
        (_endpoint_policy(["mediapackagev2:HarvestObject", "mediapackagev2:GetObject"]), ""),
    ],
    ids=["harvest-only", "get-only", "other-account", "both"],
)
def test_the_endpoint_policy_must_allow_both_harvester_actions_for_this_account(
    clock: FakeClock, policy: dict[str, Any], refused: str
) -> None:
    emulator, client = v2(clock, HEALTHY)
    key = f"{GROUP}/{CHANNEL}/{ENDPOINT}"
    emulator.surroundings.endpoints[key] = replace(emulator.surroundings.endpoints[key], policy=policy)
    with emulator:
        if not refused:
            assert client.create_harvest_job(**job_request())["Status"] == "QUEUED"
            return
        error = error_of(lambda: client.create_harvest_job(**job_request()))
        assert error.response["Error"]["Code"] == "ValidationException"
        assert refused in error.response["Error"]["Message"]
        assert emulator.jobs() == []


def test_a_bucket_write_is_judged_with_its_conditions_over_tls(clock: FakeClock) -> None:
    """enforce_ssl's Deny of requests without TLS does not stop MediaPackage (it writes over TLS); a SourceAccount
    condition naming another account does."""
    emulator, client = v2(clock, HEALTHY)
    allow = {
        "Effect": "Allow",
        "Principal": {"Service": "mediapackagev2.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::clips-bucket/clips/one/*",
        "Condition": {"StringEquals": {"aws:SourceAccount": "999999999999"}},
    }
    deny_plain_http = {
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "s3:*",
        "Resource": "arn:aws:s3:::clips-bucket/*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    emulator.surroundings.buckets["clips-bucket"] = {"Statement": [allow, deny_plain_http]}
    with emulator:
        client.create_harvest_job(**job_request())
        clock.advance(35)
        assert client.get_harvest_job(**job_key())["Status"] == "FAILED"
        emulator.surroundings.buckets["clips-bucket"] = {
            "Statement": [
                {**allow, "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}},
                deny_plain_http,
            ]
        }
        client.create_harvest_job(**job_request("clip-2"))
        clock.advance(35)
        assert client.get_harvest_job(**job_key("clip-2"))["Status"] == "COMPLETED"


@pytest.mark.parametrize(
    ("endpoint", "code", "message"),
    [
        (EndpointScript(exists=False), "NotFoundException", "Origin endpoint sports-hls not found"),
        (EndpointScript(startover_window_seconds=0), "UnprocessableEntityException", "Startover is not enabled"),
        (EndpointScript(startover_window_seconds=600), "UnprocessableEntityException", "startover window (600 s)"),
    ],
    ids=["not-found", "no-startover", "outside-startover"],
)
def test_v1_refuses_a_create_the_endpoint_cannot_serve(
    clock: FakeClock, endpoint: EndpointScript, code: str, message: str
) -> None:
    with MediaPackageV1Emulator(clock, Scenario(origin_endpoints={"sports-hls": endpoint})) as emulator:
        client = client_for(emulator)
        error = error_of(lambda: client.create_harvest_job(**v1_job()))
        assert error.response["Error"]["Code"] == code
        assert message in error.response["Error"]["Message"]
        described = error_of(lambda: client.describe_origin_endpoint(Id="sports-hls")) if not endpoint.exists else None
        assert described is None or described.response["Error"]["Code"] == "NotFoundException"


def test_the_window_is_judged_at_the_emulators_now(clock: FakeClock) -> None:
    """A start that was inside the startover window an hour ago is outside it now."""
    emulator, client = v2(clock, replace(HEALTHY, startover_window_seconds=1800))
    start = NOW - timedelta(minutes=20)
    request = job_request(ScheduleConfiguration={"StartTime": start, "EndTime": start + timedelta(minutes=10)})
    with emulator:
        clock.advance(3600)
        assert error_of(lambda: client.create_harvest_job(**request)).response["Error"]["Code"] == "ValidationException"
