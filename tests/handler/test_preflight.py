"""The preflight before CreateHarvestJob: ``index.handler`` against the MediaPackage emulators (botocore's real
serializer and parser), each cause answered FAILED over HTTPS with the problem and its fix, and no create."""

from __future__ import annotations

import copy
import logging
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import boto3
import pytest

import index
from harvest_handler import aws_clients
from mediapackage_harvest.contract import spec
from mediapackage_harvest.rehearsal.emulator import MediaPackageV1Emulator, MediaPackageV2Emulator
from mediapackage_harvest.rehearsal.scenario import EndpointScript, Fault, JobScript, Scenario
from tests.handler.fakes import RULE_PREFIX, FakeClock, LambdaContext, load_event, with_properties
from tests.reliability.faults.responses import FlakyEndpoint

ENDPOINT = "live/main/hls"  # the sample event's endpoint
HEALTHY = EndpointScript(startover_window_seconds=86400, hls_manifests=("index",))
CREDENTIALS: dict[str, Any] = {"region_name": "us-east-1", "aws_access_key_id": "t", "aws_secret_access_key": "t"}
V1_PROPS: dict[str, Any] = {
    "OriginEndpointId": "sports-hls",
    "StartTime": "2025-12-31T22:00:00Z",
    "EndTime": "2025-12-31T22:30:00Z",
    "S3Destination": {
        "BucketName": "harvest-clips",
        "ManifestKey": "clips/index.m3u8",
        "RoleArn": "arn:aws:iam::123456789012:role/harvest-writer",
    },
    "Timeout": "600",
}


QUICK_JOB = JobScript(queued_seconds=1, in_progress_seconds=3)


@dataclass
class Deploy:
    """Runs the handler as Lambda would, with MediaPackage served by an emulator scripted per test."""

    clock: FakeClock
    endpoint: FlakyEndpoint
    moto_url: str

    def create(
        self,
        scenario: Scenario,
        event: dict[str, Any],
        *,
        v1: bool = False,
        policy: dict[str, Any] | None = None,
        slow_read: tuple[str, float] | None = None,
    ) -> tuple[dict[str, Any], Any]:
        """Deliver ``event``; CloudFormation's one response and the emulator that served it. ``policy`` replaces
        the policy of the scenario's endpoint; ``slow_read`` (operation, seconds) makes that call take so long on
        the handler's clock. The job ends within the inline watch, so this one invocation answers."""
        emulator_type = MediaPackageV1Emulator if v1 else MediaPackageV2Emulator
        scenario = replace(scenario, default_job=QUICK_JOB)
        with emulator_type(self.clock, scenario) as emulator:
            if policy is not None:
                known = emulator.surroundings.endpoints[ENDPOINT]
                emulator.surroundings.endpoints[ENDPOINT] = replace(known, policy=policy)
            service = "mediapackage" if v1 else "mediapackagev2"
            clients = {
                service: boto3.client(service, endpoint_url=emulator.url, **CREDENTIALS),  # type: ignore[call-overload]
                "events": boto3.client("events", endpoint_url=self.moto_url, **CREDENTIALS),
            }
            if slow_read is not None:
                operation, seconds = slow_read
                clients[service].meta.events.register(
                    f"before-send.{service}.{operation}", lambda **_: self.clock.advance(seconds)
                )
            aws_clients.use(clients.__getitem__)
            index.handler(copy.deepcopy(event), LambdaContext(self.clock))
        (response,) = self.endpoint.responses_for(event["RequestId"])
        return response, emulator


@pytest.fixture
def deploy(
    clock: FakeClock, endpoint: FlakyEndpoint, moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Deploy]:
    endpoint.reset()
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")).close()
    monkeypatch.setenv("SSL_CERT_FILE", str(endpoint.ca_file))
    monkeypatch.setenv(spec.POLL_RULE_PREFIX_ENV, RULE_PREFIX)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    yield Deploy(clock, endpoint, moto_url)
    aws_clients.use(None)


def creates(emulator: Any) -> int:
    return sum(call.operation == "CreateHarvestJob" for call in emulator.calls)


def v2_event(deploy: Deploy, **changes: Any) -> dict[str, Any]:
    return with_properties(load_event("create", deploy.endpoint), **changes)


def v1_event(deploy: Deploy) -> dict[str, Any]:
    event = load_event("create", deploy.endpoint, ResourceType=spec.V1_RESOURCE_TYPE)
    event["ResourceProperties"] = {"ServiceToken": event["ServiceToken"], **V1_PROPS}
    return event


CAUSES = {
    "endpoint-not-found": (
        replace(HEALTHY, exists=False),
        {},
        ["origin endpoint live/main/hls not found", "check the channel group, channel and origin endpoint names"],
    ),
    "no-startover-window": (
        replace(HEALTHY, startover_window_seconds=0),
        {},
        ["has no startover window", "give the endpoint StartoverWindowSeconds"],
    ),
    "start-outside-startover": (
        replace(HEALTHY, startover_window_seconds=3600),  # the sample window began 2 h before the deploy
        {},
        ["StartTime 2025-12-31T22:00:00Z is outside the startover window", "(3600 s", "harvest a later window"],
    ),
    "start-in-future": (
        HEALTHY,
        {"ScheduleConfiguration": {"StartTime": "2026-01-01T00:10:00Z", "EndTime": "2026-01-01T00:40:00Z"}},
        ["StartTime 2026-01-01T00:10:00Z is in the future", "deploy after 2026-01-01T00:10:00Z"],
    ),
    "manifest-missing": (
        replace(HEALTHY, hls_manifests=("main",), dash_manifests=("dash",)),
        {},
        ["has no HLS manifest 'index' (hls_manifests[0])", "it has: HLS main; DASH dash; Low-Latency HLS none"],
    ),
    "no-harvester-grant": (
        replace(HEALTHY, harvester_grant=False),
        {},
        [
            "has no policy, so no harvester grant",
            "pass origin_endpoint= to HarvestJob",
            "add harvester_origin_endpoint_policy_statement() to it",
        ],
    ),
}


@pytest.mark.parametrize("cause", sorted(CAUSES))
def test_each_preflight_cause_fails_the_create_with_its_fix_and_creates_nothing(deploy: Deploy, cause: str) -> None:
    endpoint, props, expected = CAUSES[cause]
    response, emulator = deploy.create(Scenario(origin_endpoints={ENDPOINT: endpoint}), v2_event(deploy, **props))
    assert response["Status"] == "FAILED"
    assert response["Reason"].startswith("Harvest job ClipHarvestJob5E2C9B1A-")
    for text in expected:
        assert text in response["Reason"]
    assert len(response["Reason"]) <= 256
    assert response["PhysicalResourceId"].startswith("failed-create:")
    assert creates(emulator) == 0


def test_a_policy_without_the_harvester_grant_is_named(deploy: Deploy) -> None:
    """A policy that exists but grants someone else: the Reason says the policy lacks the action."""
    scenario = Scenario(origin_endpoints={ENDPOINT: HEALTHY})
    policy = {"Statement": [_statement("s3.amazonaws.com")]}
    response, emulator = deploy.create(scenario, v2_event(deploy), policy=policy)
    assert response["Status"] == "FAILED"
    assert (
        "'s policy does not allow mediapackagev2.amazonaws.com HarvestObject or GetObject: pass origin_endpoint="
        in response["Reason"]
    )
    assert creates(emulator) == 0


def test_a_healthy_endpoint_is_read_then_the_job_is_created(deploy: Deploy) -> None:
    response, emulator = deploy.create(Scenario(origin_endpoints={ENDPOINT: HEALTHY}), v2_event(deploy))
    assert response["Status"] == "SUCCESS"
    assert [c.operation for c in emulator.calls[:3]] == [
        "GetOriginEndpoint",
        "GetOriginEndpointPolicy",
        "CreateHarvestJob",
    ]


def test_a_preflight_that_outlasts_the_deadline_creates_no_job(deploy: Deploy) -> None:
    """Reads retried past the request's deadline (Timeout 60 s: 30 s): no job is created only to be cancelled."""
    event = with_properties(v2_event(deploy), Timeout="60")
    scenario = Scenario(origin_endpoints={ENDPOINT: HEALTHY})
    response, emulator = deploy.create(scenario, event, slow_read=("GetOriginEndpointPolicy", 40.0))
    assert response["Status"] == "FAILED"
    assert "could not be created within timeout=Duration.minutes(1)" in response["Reason"]
    assert creates(emulator) == 0


@pytest.mark.parametrize("read", ["GetOriginEndpoint", "GetOriginEndpointPolicy"])
def test_a_denied_preflight_read_is_logged_and_the_job_is_created_anyway(
    deploy: Deploy, read: str, caplog: pytest.LogCaptureFixture
) -> None:
    scenario = Scenario(
        origin_endpoints={ENDPOINT: HEALTHY}, faults=(Fault(read, "AccessDeniedException", message="not allowed"),)
    )
    with caplog.at_level(logging.WARNING):
        response, emulator = deploy.create(scenario, v2_event(deploy))
    assert response["Status"] == "SUCCESS"
    assert creates(emulator) == 1
    warned = [r for r in caplog.records if r.levelno == logging.WARNING and "Preflight read failed" in r.getMessage()]
    assert warned and "AccessDeniedException: not allowed" in str(warned[0].__dict__.get("problem"))


def test_a_denied_read_leaves_the_refusal_to_mediapackage(deploy: Deploy) -> None:
    """The policy cannot be read and lacks the grant: the service refuses the create, and the Reason says so."""
    scenario = Scenario(
        origin_endpoints={ENDPOINT: replace(HEALTHY, harvester_grant=False)},
        faults=(Fault("GetOriginEndpointPolicy", "AccessDeniedException"),),
    )
    response, emulator = deploy.create(scenario, v2_event(deploy))
    assert response["Status"] == "FAILED"
    assert (
        "CreateHarvestJob failed: ValidationException: MediaPackage cannot read origin endpoint" in response["Reason"]
    )
    assert [(c.operation, c.error_code) for c in emulator.calls if c.operation == "CreateHarvestJob"] == [
        ("CreateHarvestJob", "ValidationException")
    ]


@pytest.mark.parametrize(
    ("described", "props", "expected"),
    [
        (EndpointScript(exists=False), {}, "origin endpoint sports-hls not found: check origin_endpoint_id"),
        (EndpointScript(startover_window_seconds=0), {}, "origin endpoint sports-hls has no startover window"),
        (EndpointScript(startover_window_seconds=3600), {}, "is outside the startover window of origin endpoint"),
        (EndpointScript(), {"EndTime": "2026-01-01T00:10:00Z"}, "EndTime 2026-01-01T00:10:00Z has not passed"),
    ],
    ids=["not-found", "no-startover", "outside-startover", "window-not-ended"],
)
def test_v1_preflight_causes_fail_the_create_and_create_nothing(
    deploy: Deploy, described: EndpointScript, props: dict[str, str], expected: str
) -> None:
    event = v1_event(deploy)
    event["ResourceProperties"].update(props)
    response, emulator = deploy.create(Scenario(origin_endpoints={"sports-hls": described}), event, v1=True)
    assert response["Status"] == "FAILED"
    assert expected in response["Reason"]
    assert creates(emulator) == 0


def test_v1_reads_the_endpoint_then_creates(deploy: Deploy) -> None:
    response, emulator = deploy.create(
        Scenario(origin_endpoints={"sports-hls": EndpointScript()}), v1_event(deploy), v1=True
    )
    assert response["Status"] == "SUCCESS"
    assert [c.operation for c in emulator.calls[:2]] == ["DescribeOriginEndpoint", "CreateHarvestJob"]


def _statement(service: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": {"Service": service}, "Action": "mediapackagev2:*", "Resource": "*"}
