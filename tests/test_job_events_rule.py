"""The stack's one job-event rule matches only the harvest jobs of the origin endpoints the stack harvests: v2 by a
``resources`` prefix per endpoint, v1 by ``detail.harvest_job.origin_endpoint_id``, both flavours in one ``$or``;
past EventBridge's 2048-character pattern limit it matches wider and synth warns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aws_cdk.aws_mediapackagev2_alpha as alpha
from aws_cdk import App, CfnParameter, Duration, Stack
from aws_cdk.assertions import Annotations, Match, Template

from mediapackage_harvest import HarvestJob, MediaPackageV1HarvestJob
from tests.endpoints import origin_endpoint
from tests.template_values import flat

START = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
RECENT = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)  # within a day's startover window
ARN_PREFIX = "arn:${AWS::Partition}:mediapackagev2:${AWS::Region}:${AWS::AccountId}:"
V2 = {"source": ["aws.mediapackagev2"], "detail-type": ["MediaPackageV2 HarvestJob Notification"]}
V1 = {"source": ["aws.mediapackage"], "detail-type": ["MediaPackage HarvestJob Notification"]}


def jobs_of(group: str, channel: str, endpoint: str) -> dict[str, str]:
    return {"prefix": f"{ARN_PREFIX}channelGroup/{group}/channel/{channel}/originEndpoint/{endpoint}/harvestJob/"}


def v2_job(stack: Stack, id: str, names: tuple[str, str, str] | None = None, **overrides: Any) -> HarvestJob:
    props: dict[str, Any] = {
        "hls_manifests": ["index"],
        "start_time": START,
        "end_time": START + timedelta(minutes=30),
        "destination_bucket": "harvest-bucket",
        "destination_path": f"clips/{id}/",
        **overrides,
    }
    if names is not None:
        props.update(zip(("channel_group_name", "channel_name", "origin_endpoint_name"), names, strict=True))
    return HarvestJob(stack, id, **props)


def v1_job(stack: Stack, id: str, endpoint_id: str) -> MediaPackageV1HarvestJob:
    return MediaPackageV1HarvestJob(
        stack,
        id,
        origin_endpoint_id=endpoint_id,
        start_time=START,
        end_time=START + timedelta(minutes=30),
        destination_bucket="harvest-bucket",
        manifest_key=f"clips/{id}/index.m3u8",
        timeout=Duration.minutes(10),
    )


def pattern_of(stack: Stack) -> Any:
    rules = Template.from_stack(stack).find_resources("AWS::Events::Rule")
    (rule,) = rules.values()
    return flat(rule["Properties"]["EventPattern"])


def test_a_v2_stack_matches_the_jobs_of_its_endpoints_in_the_same_pattern_whatever_the_order() -> None:
    endpoints = [("live", "main", "hls"), ("live", "main", "llhls"), ("news", "desk", "hls"), ("live", "main", "hls")]

    def pattern(order: list[tuple[str, str, str]]) -> Any:
        stack = Stack(App(), "Clips")
        for index, names in enumerate(order):
            v2_job(stack, f"Clip{index}", names)
        return pattern_of(stack)

    assert pattern(endpoints) == {
        **V2,
        "resources": [jobs_of("live", "main", "hls"), jobs_of("live", "main", "llhls"), jobs_of("news", "desk", "hls")],
    }
    assert pattern(list(reversed(endpoints))) == pattern(endpoints)


def test_a_v1_stack_matches_the_jobs_of_its_endpoint_ids() -> None:
    stack = Stack(App(), "Legacy")
    v1_job(stack, "Sports", "sports-hls")
    v1_job(stack, "News", "news-dash")
    v1_job(stack, "SportsAgain", "sports-hls")
    assert pattern_of(stack) == {**V1, "detail": {"harvest_job": {"origin_endpoint_id": ["news-dash", "sports-hls"]}}}


def test_a_stack_of_both_flavours_has_one_rule_with_either_flavours_pattern() -> None:
    stack = Stack(App(), "Both")
    v2_job(stack, "Modern", ("live", "main", "hls"))
    v1_job(stack, "Legacy", "sports-hls")
    assert pattern_of(stack) == {
        "$or": [
            {**V2, "resources": [jobs_of("live", "main", "hls")]},
            {**V1, "detail": {"harvest_job": {"origin_endpoint_id": ["sports-hls"]}}},
        ]
    }


def test_an_endpoint_given_as_a_construct_is_matched_by_its_names() -> None:
    stack = Stack(App(), "Constructs")
    l1 = origin_endpoint(stack, container_type="CMAF")
    group = alpha.ChannelGroup(stack, "Group", channel_group_name="sports")
    channel = alpha.Channel(
        stack, "Channel", channel_group=group, channel_name="arena", input=alpha.InputConfiguration.cmaf()
    )
    l2 = alpha.OriginEndpoint(
        stack,
        "L2Endpoint",
        channel=channel,
        origin_endpoint_name="cmaf",
        segment=alpha.Segment.cmaf(),
        manifests=[alpha.Manifest.hls(manifest_name="index")],
        startover_window=Duration.days(1),
    )
    for id, construct in (("FromL1", l1), ("FromL2", l2)):
        v2_job(stack, id, origin_endpoint=construct, start_time=RECENT, end_time=RECENT + timedelta(minutes=30))

    assert pattern_of(stack)["resources"] == [jobs_of("live", "main", "hls"), jobs_of("sports", "arena", "cmaf")]


def test_names_given_as_parameters_are_matched_as_deployed() -> None:
    stack = Stack(App(), "Parameters")
    endpoint = CfnParameter(stack, "EndpointName", default="hls")
    v2_job(stack, "Clip", ("live", "main", endpoint.value_as_string))
    assert pattern_of(stack)["resources"] == [jobs_of("live", "main", "${EndpointName}")]


def test_past_eventbridges_2048_characters_the_rule_matches_the_channel_groups_and_synth_warns() -> None:
    stack = Stack(App(), "Many")
    for index in range(12):
        v2_job(stack, f"Clip{index}", (f"group-{index % 2}", "main", f"endpoint-{index:02d}-{'x' * 150}"))
    assert pattern_of(stack) == {
        **V2,
        "resources": [{"prefix": f"{ARN_PREFIX}channelGroup/group-{g}/"} for g in (0, 1)],
    }
    Annotations.from_stack(stack).has_warning(
        "/Many/MediaPackageHarvestProvider/JobEvents",
        Match.string_like_regexp("over EventBridge's 2048: it matches the harvest jobs of the stack's channel groups"),
    )


def test_with_too_many_channel_groups_too_the_rule_matches_every_job_of_the_flavour() -> None:
    stack = Stack(App(), "Groups")
    for index in range(12):
        v2_job(stack, f"Clip{index}", (f"group-{index:02d}-{'x' * 150}", "main", "hls"))
    assert pattern_of(stack) == V2
    Annotations.from_stack(stack).has_warning(
        "/Groups/MediaPackageHarvestProvider/JobEvents", Match.string_like_regexp("flavours \\(every job\\)")
    )


def test_a_few_endpoints_fit_and_synth_says_nothing() -> None:
    stack = Stack(App(), "Few")
    for index in range(3):
        v2_job(stack, f"Clip{index}", ("live", "main", f"endpoint-{index}"))
    assert len(pattern_of(stack)["resources"]) == 3
    Annotations.from_stack(stack).has_no_warning("*", Match.string_like_regexp("EventBridge's 2048"))
