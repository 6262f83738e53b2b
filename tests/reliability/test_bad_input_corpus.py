"""Bad input, twice: every rule of every field in spec.py (plus wrong types, naive datetimes, oversized tags and
names that would overflow EventBridge's Input or CloudFormation's response) is refused at synth time naming the
Python prop, and the same properties, as CloudFormation would send them (strings), are refused by the deployed
handler with FAILED naming the field, before it makes a single MediaPackage call.

The raw properties are the construct's own rendering of the bad props (``render_properties``), except where a
Python type cannot reach CloudFormation as it is: there the case says what CloudFormation would send instead.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from aws_cdk import App, Duration, Stack

from mediapackage_harvest import HarvestJob, InvalidHarvestJob
from mediapackage_harvest.contract import spec
from mediapackage_harvest.harvest_job import render_properties
from mediapackage_harvest.rehearsal.template import Environment, Template
from tests.rehearsal.stacks import START
from tests.reliability.faults import FaultRehearsal
from tests.reliability.helpers import (
    JOB_PROPS,
    REASON_MAX,
    REHEARSAL_START,
    Stacks,
    answers,
    handler_logs,
    leaked_secrets,
)

LONG = "x" * (spec.NAME_MAX + 1)
LONGEST = "n" * spec.NAME_MAX
DASH = "dash-" + "d" * 60
MANIFESTS = "HarvestedManifests"
SCHEDULE = "ScheduleConfiguration"
BUCKET, PATH = "Destination.S3Destination.BucketName", "Destination.S3Destination.DestinationPath"
NAMES = "ChannelGroupName+ChannelName+OriginEndpointName+HarvestJobName"
NAMES_PROP = "channel_group_name + channel_name + origin_endpoint_name + harvest_job_name"
Raw = Callable[[dict[str, Any]], None]


def _tags(count: int, key_length: int, value_length: int) -> dict[str, str]:
    """Tags each as large as allowed: together far past EventBridge's 8192-character Input."""
    return {f"{i:03d}".ljust(key_length, "k"): "v" * value_length for i in range(count)}


def _set(path: str, value: object) -> Raw:
    """CloudFormation sends ``value`` at ``path`` (dots separate keys, [n] indexes a list)."""

    def edit(properties: dict[str, Any]) -> None:
        *parents, last = path.replace("[", ".[").split(".")
        node: Any = properties
        for part in parents:
            node = node[int(part[1:-1])] if part.startswith("[") else node[part]
        if last.startswith("["):
            node[int(last[1:-1])] = value
        else:
            node[last] = value

    return edit


@dataclass(frozen=True)
class Bad:
    """One invalid property set: the props, the Python prop the synth error names, the property path the
    handler's FAILED names, and what CloudFormation sends instead where a Python value cannot travel as it is."""

    id: str
    props: dict[str, Any]
    prop: str
    field: str
    raw: Raw | None = None


CORPUS = [
    # Names: pattern, length, empty, for each name.
    Bad("channel-group-pattern", {"channel_group_name": "live stream"}, "channel_group_name", "ChannelGroupName"),
    Bad("channel-group-too-long", {"channel_group_name": LONG}, "channel_group_name", "ChannelGroupName"),
    Bad("channel-group-empty", {"channel_group_name": ""}, "channel_group_name", "ChannelGroupName"),
    Bad("channel-pattern", {"channel_name": "main/1"}, "channel_name", "ChannelName"),
    Bad("channel-too-long", {"channel_name": LONG}, "channel_name", "ChannelName"),
    Bad("channel-empty", {"channel_name": ""}, "channel_name", "ChannelName"),
    Bad("endpoint-pattern", {"origin_endpoint_name": "hls.v2"}, "origin_endpoint_name", "OriginEndpointName"),
    Bad("endpoint-too-long", {"origin_endpoint_name": LONG}, "origin_endpoint_name", "OriginEndpointName"),
    Bad("endpoint-empty", {"origin_endpoint_name": ""}, "origin_endpoint_name", "OriginEndpointName"),
    Bad("job-name-pattern", {"harvest_job_name": "my job"}, "harvest_job_name", "HarvestJobName"),
    Bad("job-name-too-long", {"harvest_job_name": LONG}, "harvest_job_name", "HarvestJobName"),
    Bad("job-name-empty", {"harvest_job_name": ""}, "harvest_job_name", "HarvestJobName"),
    Bad("channel-a-number", {"channel_name": 7}, "channel_name", "ChannelName", _set("ChannelName", ["7"])),
    # Manifests.
    Bad("hls-pattern", {"hls_manifests": ["index", "bad name"]}, "hls_manifests[1]", f"{MANIFESTS}.HlsManifests[1]"),
    Bad("dash-too-long", {"dash_manifests": [LONG]}, "dash_manifests[0]", f"{MANIFESTS}.DashManifests[0]"),
    Bad("ll-hls-pattern", {"low_latency_hls_manifests": ["a*"]}, "low_latency_hls_manifests[0]",
        f"{MANIFESTS}.LowLatencyHlsManifests[0]"),
    Bad("manifest-repeated", {"hls_manifests": ["index", "index"]}, "hls_manifests[1]", f"{MANIFESTS}.HlsManifests[1]"),
    Bad("manifest-missing", {"hls_manifests": [None]}, "hls_manifests[0]", f"{MANIFESTS}.HlsManifests[0]"),
    Bad("manifests-none", {"hls_manifests": None}, "hls_manifests / dash_manifests", MANIFESTS),
    Bad("manifests-empty-lists", {"hls_manifests": [], "dash_manifests": [], "low_latency_hls_manifests": []},
        "hls_manifests / dash_manifests", MANIFESTS),
    Bad("manifests-a-string", {"hls_manifests": "index"}, "hls_manifests", f"{MANIFESTS}.HlsManifests",
        _set(f"{MANIFESTS}.HlsManifests", "index")),
    Bad("manifest-a-number", {"dash_manifests": [7]}, "dash_manifests[0]", f"{MANIFESTS}.DashManifests[0]",
        _set(f"{MANIFESTS}.DashManifests[0].ManifestName", {"Name": "7"})),
    # Schedule.
    Bad("start-naive", {"start_time": datetime(2026, 1, 15, 10, 0)}, "start_time", f"{SCHEDULE}.StartTime"),
    Bad("end-naive", {"end_time": datetime(2026, 1, 15, 10, 30)}, "end_time", f"{SCHEDULE}.EndTime"),
    Bad("start-a-date", {"start_time": date(2026, 1, 15)}, "start_time", f"{SCHEDULE}.StartTime"),
    Bad("start-a-string", {"start_time": "yesterday"}, "start_time", f"{SCHEDULE}.StartTime"),
    Bad("end-equals-start", {"end_time": START}, "end_time", f"{SCHEDULE}.EndTime"),
    Bad("end-before-start", {"end_time": START - timedelta(seconds=1)}, "end_time", f"{SCHEDULE}.EndTime"),
    Bad("window-over-24-hours", {"end_time": START + timedelta(hours=24, seconds=1)}, "start_time / end_time",
        SCHEDULE),
    # Destination.
    Bad("bucket-uppercase", {"destination_bucket": "Harvest-Bucket"}, "destination_bucket", BUCKET),
    Bad("bucket-too-short", {"destination_bucket": "ab"}, "destination_bucket", BUCKET),
    Bad("bucket-too-long", {"destination_bucket": "b" * 64}, "destination_bucket", BUCKET),
    Bad("bucket-double-dot", {"destination_bucket": "a..b"}, "destination_bucket", BUCKET),
    Bad("bucket-a-number", {"destination_bucket": 42}, "destination_bucket", BUCKET, _set(BUCKET, "42")),
    Bad("path-whitespace", {"destination_path": "my clips/"}, "destination_path", PATH),
    Bad("path-too-long", {"destination_path": "p" * 1025}, "destination_path", PATH),
    Bad("path-empty", {"destination_path": ""}, "destination_path", PATH),
    # Description and tags.
    Bad("description-too-long", {"description": "d" * 1025}, "description", "Description"),
    Bad("tags-too-many", {"tags": {f"k{i}": "v" for i in range(51)}}, "tags", "Tags"),
    Bad("tags-past-the-poll-input", {"tags": _tags(51, 128, 256)}, "tags", "Tags"),
    Bad("tag-reserved-key", {"tags": {"aws:team": "media"}}, "tags['aws:team']", "Tags['aws:team']"),
    Bad("tag-key-too-long", {"tags": {"k" * 129: "v"}}, "tags[", "Tags['kkkk"),
    Bad("tag-value-too-long", {"tags": {"team": "v" * 257}}, "tags['team']", "Tags['team']"),
    Bad("tag-key-characters", {"tags": {"team*": "media"}}, "tags['team*']", "Tags['team*']"),
    Bad("tag-value-characters", {"tags": {"team": "a|b"}}, "tags['team']", "Tags['team']"),
    Bad("tag-value-a-number", {"tags": {"team": 7}}, "tags['team']", "Tags['team']", _set("Tags.team", ["7"])),
    Bad("tags-a-list", {"tags": ["team"]}, "tags", "Tags"),
    # Lifecycle options.
    Bad("wait-not-a-boolean", {"wait_for_completion": "yes"}, "wait_for_completion", "WaitForCompletion"),
    Bad("timeout-under-a-minute", {"timeout": Duration.seconds(59)}, "timeout", "Timeout"),
    Bad("timeout-over-twelve-hours", {"timeout": Duration.hours(13)}, "timeout", "Timeout"),
    Bad("timeout-fractional", {"timeout": Duration.millis(90_500)}, "timeout", "Timeout", _set("Timeout", "90.5")),
    Bad("timeout-not-a-duration", {"timeout": 600}, "timeout", "Timeout", _set("Timeout", "ten minutes")),
    # Names that would push the job ARN, twice in the response, past CloudFormation's 4096 bytes.
    Bad("names-past-the-response-derived", {"channel_group_name": LONGEST, "channel_name": LONGEST,
        "origin_endpoint_name": LONGEST}, NAMES_PROP, NAMES),
    Bad("names-past-the-response-given", {"channel_group_name": LONGEST, "channel_name": LONGEST,
        "origin_endpoint_name": "e" * 200, "harvest_job_name": "j" * 100}, NAMES_PROP, NAMES),
]  # fmt: skip


def raw_properties(case: Bad) -> dict[str, Any]:
    """The custom resource's properties as the construct renders the bad props, with CloudFormation's version
    of what cannot travel as it is."""
    props = {**JOB_PROPS, **case.props}
    properties, _ = render_properties(
        channel_group_name=props["channel_group_name"],
        channel_name=props["channel_name"],
        origin_endpoint_name=props["origin_endpoint_name"],
        start_time=props["start_time"],
        end_time=props["end_time"],
        destination_bucket=props["destination_bucket"],
        destination_path=props["destination_path"],
        manifests=(props.get("hls_manifests"), props.get("dash_manifests"), props.get("low_latency_hls_manifests")),
        description=props.get("description"),
        harvest_job_name=props.get("harvest_job_name"),
        tags=props.get("tags"),
        wait_for_completion=props.get("wait_for_completion", True),
        timeout=props["timeout"],
    )
    properties = copy.deepcopy(properties)
    if case.raw:
        case.raw(properties)
    sent: dict[str, Any] = _without_nulls(properties)
    return sent


def _without_nulls(value: Any) -> Any:
    """CloudFormation sends no property whose value is null."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


@dataclass
class Deployed:
    """The corpus deployed once as one stack of bad resources, and what came back."""

    logical_ids: dict[str, str]  # case id -> logical id
    reasons: dict[str, str]  # logical id -> the Create's Reason
    statuses: dict[str, str]  # logical id -> the Create's Status
    answers_per_request: list[int]
    mediapackage_calls: int
    stack_status: str
    leaked: list[str]


@pytest.fixture(scope="module")
def deployed(stacks: Stacks) -> Iterator[Deployed]:
    """Every case as one resource of one stack, all created at once through the rehearsal."""
    body = copy.deepcopy(stacks.bodies["FaultMatrix"])
    resources = body["Resources"]
    (clip,) = [rid for rid, r in resources.items() if r["Type"] == spec.RESOURCE_TYPE]
    token = resources.pop(clip)["Properties"]
    body.pop("Outputs", None)
    logical_ids = {}
    for index, case in enumerate(CORPUS):
        logical_ids[case.id] = f"Bad{index:02d}"
        lifecycle = {"ServiceToken": token["ServiceToken"], "ServiceTimeout": token["ServiceTimeout"]}
        properties = {**lifecycle, **raw_properties(case)}
        resources[logical_ids[case.id]] = {"Type": spec.RESOURCE_TYPE, "Properties": properties}
    template = Template(body, Environment(stack_name="BadInput"))
    with handler_logs("DEBUG") as logs, FaultRehearsal(start=REHEARSAL_START) as rehearsal:
        result = rehearsal.deploy(template)
        rehearsal.settle(600)
        creates = [r for r in result.requests if r.request_type == "Create"]
        yield Deployed(
            logical_ids=logical_ids,
            reasons={r.logical_id: str((r.response or {}).get("Reason")) for r in creates},
            statuses={r.logical_id: str((r.response or {}).get("Status")) for r in creates},
            answers_per_request=[len(bodies) for bodies in answers(rehearsal).values()],
            mediapackage_calls=len(rehearsal.emulator.calls) + len(rehearsal.emulator_v1.calls),
            stack_status=result.status,
            leaked=leaked_secrets(logs.lines, rehearsal),
        )


def test_the_corpus_is_large() -> None:
    assert len(CORPUS) >= 40
    assert len({case.id for case in CORPUS}) == len(CORPUS)


@pytest.fixture(scope="module")
def app() -> App:
    return App()


@pytest.mark.parametrize("case", CORPUS, ids=[case.id for case in CORPUS])
def test_refused_at_synth_naming_the_prop(case: Bad, app: App) -> None:
    stack = Stack(app, f"Synth-{case.id}")
    with pytest.raises(InvalidHarvestJob) as raised:
        HarvestJob(stack, "Clip", **{**JOB_PROPS, **case.props})
    assert f"{case.prop}" in str(raised.value)
    assert stack.node.children == []  # nothing joined the tree


@pytest.mark.parametrize("case", CORPUS, ids=[case.id for case in CORPUS])
def test_refused_by_the_handler_naming_the_field(case: Bad, deployed: Deployed) -> None:
    logical_id = deployed.logical_ids[case.id]
    reason = deployed.reasons[logical_id]
    assert deployed.statuses[logical_id] == "FAILED"
    assert reason.startswith("Invalid properties (")
    assert case.field in reason
    assert len(reason) <= REASON_MAX


def test_no_mediapackage_call_and_one_answer_each(deployed: Deployed) -> None:
    assert deployed.mediapackage_calls == 0
    assert deployed.answers_per_request == [1] * len(deployed.answers_per_request)
    assert len(deployed.answers_per_request) == 2 * len(CORPUS)  # every Create, then its rollback's Delete
    assert deployed.stack_status == "ROLLBACK_COMPLETE"
    assert deployed.leaked == []


def test_each_raw_set_breaks_its_own_field() -> None:
    """Each raw set breaks its case's field, and the valid baseline breaks nothing: a case cannot pass because
    its properties were invalid for some other reason."""
    baseline = raw_properties(Bad("valid", {}, "", ""))
    assert spec.validate(baseline) == []
    for case in CORPUS:
        fields = [v.field for v in spec.validate(raw_properties(case))]
        assert any(field.startswith(case.field) or case.field.startswith(field) for field in fields), case.id


def test_tags_past_the_poll_input_would_overflow_eventbridge() -> None:
    """The oversized-tags case really is past EventBridge's 8192-character Input, not merely large."""
    tags = next(case for case in CORPUS if case.id == "tags-past-the-poll-input").props["tags"]
    assert len(str(tags)) > 8192
