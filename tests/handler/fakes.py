"""Test doubles for the handler: a fake clock, a Lambda context, sample events, MediaPackage v2 responses, and
a Harness that runs ``index.handler`` the way Lambda would, against a Stubber, moto and the response endpoint.

Every AWS call still goes through botocore (the Stubber checks parameters against the model; moto serves
EventBridge over HTTP), and every CloudFormation response is a real HTTPS PUT to the local endpoint.
"""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.stub import Stubber

import index
from tests.reliability.faults.responses import FlakyEndpoint

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

EVENTS_DIR = Path(__file__).parent / "events"
START = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:harvest-handler"
RULE_PREFIX = "hj-0123456789"
ACCOUNT_ARN = "arn:aws:mediapackagev2:us-east-1:123456789012"
WINDOW = (datetime(2025, 12, 31, 22, 0, tzinfo=UTC), datetime(2025, 12, 31, 22, 30, tzinfo=UTC))
# Checks of the first invocation's inline watch: at 2, 4, 6 and 8 s (then the job's events or a poll answer).
INLINE_CHECKS = 4


# Time ------------------------------------------------------------------------------------------------------
@dataclass
class FakeTimer:
    due: float
    callback: Callable[[], None]
    cancelled: bool = False
    fired: bool = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """``handler_clock.Clock`` whose sleep moves time at once, running the timers that come due."""

    def __init__(self, start: float = START) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self.timers: list[FakeTimer] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)
        for timer in self.timers:
            if not (timer.cancelled or timer.fired) and timer.due <= self.now:
                timer.fired = True
                timer.callback()

    def call_later(self, seconds: float, callback: Callable[[], None]) -> FakeTimer:
        timer = FakeTimer(self.now + max(seconds, 0.0), callback)
        self.timers.append(timer)
        return timer

    def elapsed(self) -> float:
        return self.now - START


@dataclass
class LambdaContext:
    """What Lambda passes the handler; the remaining time runs on the fake clock."""

    clock: FakeClock
    timeout: float = 180.0
    function_name: str = "harvest-handler"
    invoked_function_arn: str = FUNCTION_ARN
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.clock.time()

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.started + self.timeout - self.clock.time()) * 1000))


# Events ----------------------------------------------------------------------------------------------------
def load_event(name: str, endpoint: FlakyEndpoint, **changes: Any) -> dict[str, Any]:
    """``events/<name>.json`` with top-level ``changes`` and a ResponseURL of the local endpoint."""
    event: dict[str, Any] = json.loads((EVENTS_DIR / f"{name}.json").read_text())
    event.update(changes)
    event["ResponseURL"] = endpoint.response_url(event["RequestId"])
    return event


def with_properties(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of ``event`` whose ResourceProperties carry ``changes`` (None removes a property)."""
    changed = copy.deepcopy(event)
    props = changed["ResourceProperties"]
    for key, value in changes.items():
        if value is None:
            props.pop(key, None)
        else:
            props[key] = value
    return changed


def digest(event: dict[str, Any]) -> str:
    """The contract: sha256 of StackId, LogicalResourceId and RequestId, one per line."""
    key = "\n".join((event["StackId"], event["LogicalResourceId"], event["RequestId"]))
    return hashlib.sha256(key.encode()).hexdigest()


def derived_name(event: dict[str, Any]) -> str:
    return f"{event['LogicalResourceId'][:48]}-{digest(event)[:12]}"


def job_arn(name: str, channel_group: str = "live", channel: str = "main", endpoint: str = "hls") -> str:
    return f"{ACCOUNT_ARN}:channelGroup/{channel_group}/channel/{channel}/originEndpoint/{endpoint}/harvestJob/{name}"


# MediaPackage v2 shapes ------------------------------------------------------------------------------------
def create_params(event: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    """CreateHarvestJob's parameters for the sample properties, written out by hand."""
    props = event["ResourceProperties"]
    params: dict[str, Any] = {
        "ChannelGroupName": props["ChannelGroupName"],
        "ChannelName": props["ChannelName"],
        "OriginEndpointName": props["OriginEndpointName"],
        "HarvestJobName": name or derived_name(event),
        "HarvestedManifests": props["HarvestedManifests"],
        "ScheduleConfiguration": {"StartTime": WINDOW[0], "EndTime": WINDOW[1]},
        "Destination": props["Destination"],
        "ClientToken": digest(event),
    }
    if props.get("Description"):
        params["Description"] = props["Description"]
    if props.get("Tags"):
        params["Tags"] = props["Tags"]
    return params


def job(
    name: str,
    status: str = "IN_PROGRESS",
    *,
    tags: dict[str, str] | None = None,
    error: str | None = None,
    etag: str = "etag-1",
    destination_path: str = "clips/2025-12-31",
) -> dict[str, Any]:
    """A CreateHarvestJob / GetHarvestJob response for the sample properties."""
    response: dict[str, Any] = {
        "ChannelGroupName": "live",
        "ChannelName": "main",
        "OriginEndpointName": "hls",
        "Destination": {"S3Destination": {"BucketName": "harvest-clips", "DestinationPath": destination_path}},
        "HarvestJobName": name,
        "HarvestedManifests": {"HlsManifests": [{"ManifestName": "index"}]},
        "ScheduleConfiguration": {"StartTime": WINDOW[0], "EndTime": WINDOW[1]},
        "Arn": job_arn(name),
        "CreatedAt": datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC),
        "ModifiedAt": datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC),
        "Status": status,
        "ETag": etag,
        "Tags": tags if tags is not None else {"team": "media"},
    }
    if error:
        response["ErrorMessage"] = error
    return response


def key(name: str) -> dict[str, str]:
    """GetHarvestJob / CancelHarvestJob parameters for a job of the sample endpoint."""
    return {"ChannelGroupName": "live", "ChannelName": "main", "OriginEndpointName": "hls", "HarvestJobName": name}


# The harness -----------------------------------------------------------------------------------------------
@dataclass
class Harness:
    """Runs ``index.handler`` as Lambda would and shows what CloudFormation and EventBridge saw."""

    clock: FakeClock
    endpoint: FlakyEndpoint
    mediapackage: Stubber
    events: EventBridgeClient
    retrying: set[str] = field(default_factory=set)  # RequestIds whose create is retried (quota): preflight done

    def event(self, name: str, **changes: Any) -> dict[str, Any]:
        return load_event(name, self.endpoint, **changes)

    def invoke(self, event: dict[str, Any], *, timeout: float = 180.0) -> LambdaContext:
        context = LambdaContext(self.clock, timeout)
        index.handler(copy.deepcopy(event), context)
        return context

    def responses(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        return self.endpoint.responses_for(event["RequestId"])

    def response(self, event: dict[str, Any]) -> dict[str, Any]:
        """The one response CloudFormation received for ``event``."""
        responses = self.responses(event)
        assert len(responses) == 1, responses
        return responses[0]

    def expect_preflight(self, event: dict[str, Any]) -> None:
        """The preflight's GetOriginEndpoint and GetOriginEndpointPolicy for ``event``'s endpoint (healthy: the
        manifest, a one-day startover window, the harvester grant)."""
        props = event["ResourceProperties"]
        names = {k: props[k] for k in ("ChannelGroupName", "ChannelName", "OriginEndpointName")}
        arn = job_arn("x", names["ChannelGroupName"], names["ChannelName"], names["OriginEndpointName"])
        arn = arn.removesuffix("/harvestJob/x")
        endpoint = {
            **names,
            "Arn": arn,
            "ContainerType": "TS",
            "Segment": {},
            "CreatedAt": datetime(2025, 12, 1, tzinfo=UTC),
            "ModifiedAt": datetime(2025, 12, 1, tzinfo=UTC),
            "StartoverWindowSeconds": 86400,
            **{
                kind: [{**m, "Url": "https://origin.example/index.m3u8"} for m in manifests]
                for kind, manifests in props["HarvestedManifests"].items()
            },
        }
        grant = {  # what harvester_origin_endpoint_policy_statement grants
            "Effect": "Allow",
            "Principal": {"Service": "mediapackagev2.amazonaws.com"},
            "Action": ["mediapackagev2:HarvestObject", "mediapackagev2:GetObject"],
            "Resource": arn,
            "Condition": {"StringEquals": {"AWS:SourceAccount": arn.split(":")[4]}},
        }
        self.mediapackage.add_response("get_origin_endpoint", endpoint, names)
        policy = {**names, "Policy": json.dumps({"Statement": [grant]})}
        self.mediapackage.add_response("get_origin_endpoint_policy", policy, names)

    def expect_create(self, event: dict[str, Any], status: str = "QUEUED", **job_fields: Any) -> str:
        """The preflight (each delivery reads; a create retried after a quota refusal does not), then
        CreateHarvestJob with the exact parameters for ``event``; the job's (derived) name."""
        if event["RequestId"] in self.retrying:
            self.retrying.discard(event["RequestId"])
        else:
            self.expect_preflight(event)
        name = derived_name(event)
        self.mediapackage.add_response("create_harvest_job", job(name, status, **job_fields), create_params(event))
        return name

    def expect_quota_exceeded(self, event: dict[str, Any], times: int = 1) -> None:
        if event["RequestId"] not in self.retrying:
            self.retrying.add(event["RequestId"])
            self.expect_preflight(event)
        for _ in range(times):
            self.mediapackage.add_client_error(
                "create_harvest_job",
                service_error_code="ServiceQuotaExceededException",
                service_message="Too many harvest jobs in progress",
                http_status_code=402,
                expected_params=create_params(event),
            )

    def expect_get(self, name: str, status: str = "IN_PROGRESS", **job_fields: Any) -> None:
        self.mediapackage.add_response("get_harvest_job", job(name, status, **job_fields), key(name))

    def expect_gets(self, name: str, count: int, status: str = "IN_PROGRESS") -> None:
        for _ in range(count):
            self.expect_get(name, status)

    def rules(self) -> list[str]:
        return [rule["Name"] for rule in self.events.list_rules(NamePrefix=RULE_PREFIX)["Rules"]]

    def poll_input(self) -> str:
        """The Input of the one polling rule's one target: what EventBridge will invoke the function with."""
        (rule,) = self.rules()
        (target,) = self.events.list_targets_by_rule(Rule=rule)["Targets"]
        assert target["Arn"] == FUNCTION_ARN
        return target["Input"]

    def fire_poll(self, after: float = 300.0) -> dict[str, Any]:
        """Let a poll period pass and invoke the function with the rule's Input, as EventBridge does."""
        self.clock.advance(after)
        poll_event: dict[str, Any] = json.loads(self.poll_input())
        self.invoke(poll_event)
        return poll_event
