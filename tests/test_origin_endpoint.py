"""``HarvestJob(origin_endpoint=...)`` at synth: the harvester in the endpoint's one policy, the endpoint's manifests
and startover window checked, and the clock warnings every job gets (v2 and v1)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import aws_cdk.aws_mediapackagev2_alpha as alpha
import pytest
from aws_cdk import App, CfnParameter, Duration, Fn, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_mediapackagev2 as mp
from aws_cdk.assertions import Annotations, Match, Template

from mediapackage_harvest import (
    RESOURCE_TYPE,
    HarvestJob,
    InvalidHarvestJob,
    MediaPackageV1HarvestJob,
    harvester_origin_endpoint_policy_statement,
)
from tests.template_values import as_list, flat

POLICY_TYPE = "AWS::MediaPackageV2::OriginEndpointPolicy"
HOUR = timedelta(hours=1)
# A window that ended an hour ago, whole minutes: inside a one-day startover window on any day.
RECENT_END = datetime.now(UTC).replace(second=0, microsecond=0) - HOUR
RECENT_START = RECENT_END - timedelta(minutes=30)
HARVESTER = {
    "Sid": "AllowMediaPackageHarvester",
    "Effect": "Allow",
    "Principal": {"Service": "mediapackagev2.amazonaws.com"},
    "Action": ["mediapackagev2:HarvestObject", "mediapackagev2:GetObject"],
    "Resource": "arn:${AWS::Partition}:mediapackagev2:${AWS::Region}:${AWS::AccountId}:"
    "channelGroup/live/channel/main/originEndpoint/hls",
    "Condition": {"StringEquals": {"AWS:SourceAccount": "${AWS::AccountId}"}},
}
CDN_READ = {"Effect": "Allow", "Principal": "*", "Action": "mediapackagev2:GetObject", "Resource": "*"}


def endpoint(stack: Stack, id: str = "Endpoint", **overrides: Any) -> mp.CfnOriginEndpoint:
    """An HLS (TS) origin endpoint live/main/hls with manifests 'index' (HLS), 'dash' (DASH), one day of startover."""
    props: dict[str, Any] = {
        "channel_group_name": "live",
        "channel_name": "main",
        "origin_endpoint_name": "hls",
        "container_type": "CMAF",
        "hls_manifests": [mp.CfnOriginEndpoint.HlsManifestConfigurationProperty(manifest_name="index")],
        "dash_manifests": [mp.CfnOriginEndpoint.DashManifestConfigurationProperty(manifest_name="dash")],
        "startover_window_seconds": 86400,
    }
    return mp.CfnOriginEndpoint(stack, id, **(props | overrides))


def job(stack: Stack, id: str, origin_endpoint: Any, **overrides: Any) -> HarvestJob:
    props: dict[str, Any] = {
        "origin_endpoint": origin_endpoint,
        "hls_manifests": ["index"],
        "start_time": RECENT_START,
        "end_time": RECENT_END,
        "destination_bucket": "clips-bucket",
        "destination_path": f"clips/{id}",
    }
    return HarvestJob(stack, id, **(props | overrides))


def user_policy(stack: Stack, policy: Any, id: str = "EndpointPolicy") -> mp.CfnOriginEndpointPolicy:
    return mp.CfnOriginEndpointPolicy(
        stack, id, channel_group_name="live", channel_name="main", origin_endpoint_name="hls", policy=policy
    )


def the_policy(template: Template) -> tuple[str, list[dict[str, Any]]]:
    """The one endpoint policy's logical id and its statements, flattened for reading."""
    policies = template.find_resources(POLICY_TYPE)
    assert len(policies) == 1, f"expected one endpoint policy, got {list(policies)}"
    ((logical_id, policy),) = policies.items()
    return logical_id, [flat(s) for s in as_list(policy["Properties"]["Policy"]["Statement"])]


def jobs_depend_on(template: Template, logical_id: str) -> list[bool]:
    return [logical_id in job.get("DependsOn", []) for job in template.find_resources(RESOURCE_TYPE).values()]


def normalized(statement: dict[str, Any]) -> str:
    return json.dumps({k: sorted(v) if isinstance(v, list) else v for k, v in statement.items()}, sort_keys=True)


def has_harvester(statements: list[dict[str, Any]]) -> int:
    return [normalized(s) for s in statements].count(normalized(HARVESTER))


# The policy ----------------------------------------------------------------------------------------------------


def test_without_a_declared_policy_the_endpoint_gets_one_with_the_harvester() -> None:
    stack = Stack(App(), "Clips")
    job(stack, "Clip", endpoint(stack))
    template = Template.from_stack(stack)
    logical_id, statements = the_policy(template)
    assert has_harvester(statements) == 1 and len(statements) == 1
    template.has_resource(
        POLICY_TYPE,
        {
            "Properties": {"ChannelGroupName": "live", "ChannelName": "main", "OriginEndpointName": "hls"},
            "DependsOn": [Match.string_like_regexp("^Endpoint")],
        },
    )
    assert jobs_depend_on(template, logical_id) == [True]
    template.has_resource_properties(
        RESOURCE_TYPE, {"ChannelGroupName": "live", "ChannelName": "main", "OriginEndpointName": "hls"}
    )


@pytest.mark.parametrize("declared", ["before the job", "after the job"])
@pytest.mark.parametrize("form", ["dict", "JSON string", "PolicyDocument", "to_json()"])
def test_a_declared_policy_gets_the_harvester_and_keeps_its_statements(declared: str, form: str) -> None:
    stack = Stack(App(), "Clips")
    cfn_endpoint = endpoint(stack)
    document: Any = {
        "dict": {"Version": "2012-10-17", "Statement": [CDN_READ]},
        "JSON string": json.dumps({"Version": "2012-10-17", "Statement": CDN_READ}),
        "PolicyDocument": iam.PolicyDocument(statements=[iam.PolicyStatement.from_json(CDN_READ)]),
        "to_json()": iam.PolicyDocument(statements=[iam.PolicyStatement.from_json(CDN_READ)]).to_json(),
    }[form]
    if declared == "before the job":
        user_policy(stack, document)
    job(stack, "Clip", cfn_endpoint)
    if declared == "after the job":
        user_policy(stack, document)
    template = Template.from_stack(stack)
    logical_id, statements = the_policy(template)
    assert logical_id == "EndpointPolicy"
    assert has_harvester(statements) == 1
    assert [normalized(s) for s in statements if s.get("Sid") is None] == [normalized(CDN_READ)]
    assert jobs_depend_on(template, logical_id) == [True]


def test_a_policy_that_already_grants_the_harvester_is_not_given_a_second_statement() -> None:
    """The hand-written setup this library documented before: the statement is there once, not twice."""
    stack = Stack(App(), "Clips")
    cfn_endpoint = endpoint(stack)
    statement = harvester_origin_endpoint_policy_statement("live", "main", "hls")
    user_policy(stack, iam.PolicyDocument(statements=[statement]).to_json())
    job(stack, "Clip", cfn_endpoint)
    _, statements = the_policy(Template.from_stack(stack))
    assert has_harvester(statements) == 1 and len(statements) == 1


def test_two_jobs_on_one_endpoint_share_one_policy_and_one_statement() -> None:
    stack = Stack(App(), "Clips")
    cfn_endpoint = endpoint(stack)
    job(stack, "First", cfn_endpoint)
    job(stack, "Second", cfn_endpoint, hls_manifests=[], dash_manifests=["dash"])
    user_policy(stack, {"Version": "2012-10-17", "Statement": [CDN_READ]})
    template = Template.from_stack(stack)
    logical_id, statements = the_policy(template)
    assert has_harvester(statements) == 1 and len(statements) == 2
    assert jobs_depend_on(template, logical_id) == [True, True]


def test_a_policy_for_another_endpoint_is_left_alone() -> None:
    stack = Stack(App(), "Clips")
    other = mp.CfnOriginEndpointPolicy(
        stack,
        "OtherPolicy",
        channel_group_name="live",
        channel_name="main",
        origin_endpoint_name="dash",
        policy={"Version": "2012-10-17", "Statement": [CDN_READ]},
    )
    job(stack, "Clip", endpoint(stack))
    template = Template.from_stack(stack)
    policies = template.find_resources(POLICY_TYPE)
    assert len(policies) == 2
    assert policies[stack.resolve(other.logical_id)]["Properties"]["Policy"]["Statement"] == [CDN_READ]
    ours = next(p for lid, p in policies.items() if lid != "OtherPolicy")
    assert ours["Properties"]["OriginEndpointName"] == "hls"


def test_two_declared_policies_for_one_endpoint_are_an_error() -> None:
    stack = Stack(App(), "Clips")
    job(stack, "Clip", endpoint(stack))
    user_policy(stack, {"Version": "2012-10-17", "Statement": [CDN_READ]}, "One")
    user_policy(stack, {"Version": "2012-10-17", "Statement": [CDN_READ]}, "Two")
    Annotations.from_stack(stack).has_error(
        "/Clips/Endpoint", Match.string_like_regexp("2 CfnOriginEndpointPolicy .*Clips/One, Clips/Two.*keep one")
    )


def test_a_declared_policy_that_is_an_intrinsic_function_is_an_error_not_overwritten() -> None:
    stack = Stack(App(), "Clips")
    job(stack, "Clip", endpoint(stack))
    user_policy(stack, Fn.import_value("SharedEndpointPolicy"))
    Annotations.from_stack(stack).has_error(
        "/Clips/EndpointPolicy", Match.string_like_regexp("not a policy document HarvestJob can add to")
    )
    (policy,) = Template.from_stack(stack).find_resources(POLICY_TYPE).values()
    assert policy["Properties"]["Policy"] == {"Fn::ImportValue": "SharedEndpointPolicy"}


@pytest.mark.parametrize(
    ("denied", "refused"),
    [
        ({"Action": "mediapackagev2:GetObject", "Resource": "*"}, "GetObject"),
        (  # a Deny on the endpoint's own ARN, written with the stack's pseudo parameters
            {
                "Action": "mediapackagev2:*",
                "Resource": Fn.sub(
                    "arn:${AWS::Partition}:mediapackagev2:${AWS::Region}:${AWS::AccountId}:channelGroup/live/*"
                ),
            },
            "HarvestObject or GetObject",
        ),
    ],
    ids=["get-object", "everything-on-the-endpoint"],
)
def test_a_declared_policy_that_denies_the_harvester_is_an_error(denied: dict[str, Any], refused: str) -> None:
    stack = Stack(App(), "Clips")
    job(stack, "Clip", endpoint(stack))
    deny = {"Effect": "Deny", "Principal": {"Service": "mediapackagev2.amazonaws.com"}, **denied}
    user_policy(stack, {"Version": "2012-10-17", "Statement": [CDN_READ, deny]})
    Annotations.from_stack(stack).has_error(
        "/Clips/EndpointPolicy",
        Match.string_like_regexp(f"does not let mediapackagev2.amazonaws.com {refused} the endpoint"),
    )


def test_a_declared_policy_with_an_unrelated_deny_is_fine() -> None:
    stack = Stack(App(), "Clips")
    job(stack, "Clip", endpoint(stack))
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "mediapackagev2:GetObject",
        "Resource": "*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    user_policy(stack, {"Version": "2012-10-17", "Statement": [CDN_READ, deny]})
    Annotations.from_stack(stack).has_no_error("*", Match.any_value())


def alpha_endpoint(stack: Stack, **overrides: Any) -> alpha.OriginEndpoint:
    group = alpha.ChannelGroup(stack, "Group", channel_group_name="live")
    channel = alpha.Channel(
        stack, "Channel", channel_group=group, channel_name="main", input=alpha.InputConfiguration.cmaf()
    )
    props: dict[str, Any] = {
        "channel": channel,
        "origin_endpoint_name": "hls",
        "segment": alpha.Segment.cmaf(),
        "manifests": [alpha.Manifest.hls(manifest_name="index")],
        "startover_window": Duration.days(1),
    }
    return alpha.OriginEndpoint(stack, "Endpoint", **(props | overrides))


def test_the_alpha_l2_endpoint_gets_the_harvester_through_its_own_policy() -> None:
    stack = Stack(App(), "Clips")
    l2 = alpha_endpoint(stack)
    l2.add_to_resource_policy(iam.PolicyStatement.from_json(CDN_READ))
    job(stack, "First", l2)
    job(stack, "Second", l2)
    template = Template.from_stack(stack)
    logical_id, statements = the_policy(template)
    harvester = [s for s in statements if s.get("Sid") == "AllowMediaPackageHarvester"]
    assert len(harvester) == 1 and len(statements) == 2
    assert harvester[0]["Resource"].endswith(":channelGroup/live/channel/main/originEndpoint/hls")
    assert jobs_depend_on(template, logical_id) == [True, True]
    template.has_resource_properties(RESOURCE_TYPE, {"OriginEndpointName": "hls", "ChannelName": "main"})


def test_the_alpha_l2_endpoint_is_checked_like_the_l1() -> None:
    stack = Stack(App(), "Clips")
    with pytest.raises(InvalidHarvestJob, match=r"hls_manifests\[0\] .*'indx'.*HLS 'index'"):
        job(stack, "Clip", alpha_endpoint(stack), hls_manifests=["indx"])


def test_an_alpha_l2_without_startover_is_refused_in_the_l2s_own_terms() -> None:
    stack = Stack(App(), "Clips")
    l2 = alpha_endpoint(stack, startover_window=None)
    with pytest.raises(InvalidHarvestJob) as raised:
        job(stack, "Clip", l2)
    message = str(raised.value)
    assert "origin_endpoint (OriginEndpoint.startover_window) 'Clips/Endpoint' declares no startover_window" in message
    assert message.endswith("set startover_window=Duration.days(1) (up to 14 days)")  # the window began 90 min ago
    assert "StartoverWindowSeconds" not in message


def test_an_alpha_l2_window_too_short_names_startover_window_and_a_value_that_reaches() -> None:
    stack = Stack(App(), "Clips")
    l2 = alpha_endpoint(stack, startover_window=Duration.hours(1))
    with pytest.raises(InvalidHarvestJob) as raised:
        job(stack, "Clip", l2)
    message = str(raised.value)
    assert "origin endpoint 'Clips/Endpoint' (startover_window=Duration.hours(1)) reaches back" in message
    assert message.endswith("harvest a later window, or set startover_window=Duration.days(1) (up to 14 days)")


def test_an_imported_alpha_endpoint_warns_that_its_policy_is_the_users() -> None:
    stack = Stack(App(), "Clips")
    imported = alpha.OriginEndpoint.from_origin_endpoint_attributes(
        stack, "Imported", channel_group_name="live", channel_name="main", origin_endpoint_name="hls"
    )
    job(stack, "Clip", imported, hls_manifests=["anything"])  # nothing declared to check against
    template = Template.from_stack(stack)
    template.resource_count_is(POLICY_TYPE, 0)
    template.has_resource_properties(RESOURCE_TYPE, {"OriginEndpointName": "hls"})
    Annotations.from_stack(stack).has_warning(
        "/Clips/Clip", Match.string_like_regexp("imported.*harvester_origin_endpoint_policy_statement")
    )


# Synth-time checks against what the endpoint declares -------------------------------------------------------------


def test_a_misspelt_manifest_names_the_prop_and_lists_the_endpoints_manifests() -> None:
    stack = Stack(App(), "Clips")
    with pytest.raises(InvalidHarvestJob) as raised:
        job(stack, "Clip", endpoint(stack), hls_manifests=["index", "indx"])
    message = str(raised.value)
    assert "hls_manifests[1]" in message and "hls_manifests[0]" not in message
    assert "'indx'" in message and "HLS 'index'; DASH 'dash'; Low-Latency HLS none" in message
    assert stack.node.try_find_child("Clip") is None


def test_a_manifest_of_another_kind_is_refused() -> None:
    """'dash' exists, but as a DASH manifest: harvesting it as HLS would be refused."""
    stack = Stack(App(), "Clips")
    with pytest.raises(InvalidHarvestJob, match=r"hls_manifests\[0\] .*'dash'.* as a HLS manifest"):
        job(stack, "Clip", endpoint(stack), hls_manifests=["dash"])


def test_a_start_older_than_the_startover_window_names_start_time() -> None:
    stack = Stack(App(), "Clips")
    start = RECENT_END - timedelta(hours=30)
    with pytest.raises(InvalidHarvestJob, match=r"start_time \(ScheduleConfiguration.StartTime\) is .*older than the"):
        job(stack, "Clip", endpoint(stack), start_time=start, end_time=start + HOUR)


def test_a_manifest_filtered_on_time_is_refused_naming_it() -> None:
    stack = Stack(App(), "Clips")
    delayed = mp.CfnOriginEndpoint.FilterConfigurationProperty(time_delay_seconds=30)
    manifests = [
        mp.CfnOriginEndpoint.HlsManifestConfigurationProperty(manifest_name="index", filter_configuration=delayed)
    ]
    with pytest.raises(
        InvalidHarvestJob, match=r"hls_manifests\[0\] .*'index', whose filter configuration .* sets a start"
    ):
        job(stack, "Clip", endpoint(stack, hls_manifests=manifests))


def test_a_window_longer_than_the_startover_window_is_refused_naming_both_times() -> None:
    stack = Stack(App(), "Clips")
    with pytest.raises(
        InvalidHarvestJob, match=r"start_time / end_time \(ScheduleConfiguration\) spans 0:30:00, longer than"
    ):
        job(stack, "Clip", endpoint(stack, startover_window_seconds=600))


def test_an_endpoint_without_startover_is_refused_naming_it() -> None:
    stack = Stack(App(), "Clips")
    with pytest.raises(InvalidHarvestJob) as raised:
        job(stack, "Clip", endpoint(stack, "Bare", startover_window_seconds=None))
    assert (
        "origin_endpoint (OriginEndpoint.startover_window_seconds) 'Clips/Bare' declares no startover_window_seconds"
        in str(raised.value)
    )
    assert str(raised.value).endswith("set startover_window_seconds=86400 (up to 14 days)")


def test_origin_endpoint_and_names_together_are_an_error_naming_both() -> None:
    stack = Stack(App(), "Clips")
    with pytest.raises(InvalidHarvestJob) as raised:
        job(stack, "Clip", endpoint(stack), channel_name="main")
    assert str(raised.value) == (
        "HarvestJob 'Clips/Clip': origin_endpoint + channel_group_name / channel_name / origin_endpoint_name "
        "(OriginEndpoint+Names) give either origin_endpoint or the three names, not both: origin_endpoint replaces "
        "them (got origin_endpoint and channel_name)"
    )


def test_something_else_as_origin_endpoint_is_refused() -> None:
    stack = Stack(App(), "Clips")
    with pytest.raises(
        InvalidHarvestJob, match=r"^[^;]*origin_endpoint \(OriginEndpoint\) must be .*CfnOriginEndpoint.*str$"
    ):
        job(stack, "Clip", "live/main/hls")


def test_tokens_skip_the_checks() -> None:
    """Names, manifests and the startover window known only at deploy time: nothing to check at synth."""
    stack = Stack(App(), "Clips")
    group = CfnParameter(stack, "Group").value_as_string
    manifest = CfnParameter(stack, "Manifest").value_as_string
    window = CfnParameter(stack, "Startover", type="Number").value_as_number
    tokens = endpoint(
        stack,
        channel_group_name=group,
        hls_manifests=[mp.CfnOriginEndpoint.HlsManifestConfigurationProperty(manifest_name=manifest)],
        startover_window_seconds=window,
    )
    long_ago = RECENT_END - timedelta(days=30)
    cfn_endpoint = endpoint(stack, "Plain")
    job(stack, "Clip", tokens, hls_manifests=["not-declared"], start_time=long_ago, end_time=long_ago + HOUR)
    job(stack, "TokenManifest", cfn_endpoint, hls_manifests=[manifest], dash_manifests=["dash"])
    template = Template.from_stack(stack)
    template.has_resource_properties(RESOURCE_TYPE, {"ChannelGroupName": {"Ref": "Group"}})
    template.resource_count_is(POLICY_TYPE, 2)
    tokens_policy = template.find_resources(POLICY_TYPE, {"Properties": {"ChannelGroupName": {"Ref": "Group"}}})
    assert len(tokens_policy) == 1
    assert jobs_depend_on(template, next(iter(tokens_policy))) == [True, False]


# Clock warnings --------------------------------------------------------------------------------------------------


NEW_ENDPOINT = "mediapackage-harvest:endpointCreatedByDeploy"


def warnings(stack: Stack) -> list[str]:
    """The stack's warnings, less the one every job on an endpoint of its own stack gets (tested on its own)."""
    found = Annotations.from_stack(stack).find_warning("*", Match.any_value())
    return [str(m.entry.data) for m in found if NEW_ENDPOINT not in str(m.entry.data)]


def test_a_v2_start_in_the_future_warns_naming_start_time_and_nothing_of_real_time_harvests() -> None:
    stack = Stack(App(), "Clips")
    start = RECENT_END + timedelta(days=365)  # a mistyped year, say
    job(stack, "Clip", endpoint(stack), start_time=start, end_time=start + 3 * HOUR)  # and the default timeout
    (warning,) = warnings(stack)
    assert warning.startswith(f"start_time {start.isoformat()} is in the future: MediaPackage harvests only a window")
    assert "Check the date; if it is right, deploy after it." in warning
    assert "timeout" not in warning and "end_time" not in warning


def test_a_real_time_harvest_ending_beyond_the_timeout_warns_with_a_timeout_that_would_do() -> None:
    stack = Stack(App(), "Clips")
    end = RECENT_END + timedelta(hours=3)  # two hours from now, with the default one-hour timeout
    job(stack, "Clip", endpoint(stack), end_time=end)
    (warning,) = warnings(stack)
    assert warning.startswith(f"end_time {end.isoformat()} is more than timeout (1 hour) ahead: a real-time harvest")
    # The 3 h 30 min window from any deploy after its start, and packaging: the same advice on every synth.
    assert "set timeout=Duration.hours(4) (up to 12 hours), or wait_for_completion=False." in warning


def test_a_real_time_harvest_longer_than_any_timeout_says_when_to_deploy() -> None:
    stack = Stack(App(), "Clips")
    start = RECENT_END - timedelta(minutes=30)
    wide = endpoint(stack, startover_window_seconds=2 * 86400)
    job(stack, "Clip", wide, start_time=start, end_time=start + 20 * HOUR)
    (warning,) = warnings(stack)
    assert "set timeout=Duration.hours(12) and deploy less than 11 h 45 min before end_time" in warning


def test_a_real_time_harvest_within_the_timeout_or_not_waited_for_does_not_warn() -> None:
    stack = Stack(App(), "Clips")
    cfn_endpoint = endpoint(stack)
    soon = RECENT_END + timedelta(hours=1, minutes=30)  # at most 30 minutes from now
    job(stack, "Soon", cfn_endpoint, end_time=soon)
    job(stack, "NotWaited", cfn_endpoint, end_time=RECENT_END + timedelta(hours=5), wait_for_completion=False)
    job(stack, "Past", cfn_endpoint)
    assert warnings(stack) == []


@pytest.mark.parametrize("kind", ["L1", "alpha L2"])
def test_a_window_from_an_endpoint_of_the_same_stack_warns_that_its_deploy_has_nothing_to_harvest(kind: str) -> None:
    stack = Stack(App(), "Clips")
    declared = endpoint(stack) if kind == "L1" else alpha_endpoint(stack)
    job(stack, "Clip", declared)
    (found,) = Annotations.from_stack(stack).find_warning("/Clips/Clip", Match.string_like_regexp(NEW_ENDPOINT))
    assert str(found.entry.data).startswith(
        f"start_time {RECENT_START.isoformat()} is before origin endpoint 'Clips/Endpoint' can exist: this stack "
        "declares it, and a deploy that creates it (and its channel) has nothing to harvest"
    )  # the prop's time only: the cloud assembly is the same on every synth


def test_an_endpoint_of_another_stack_or_named_gets_no_new_endpoint_warning() -> None:
    app = App()
    live, clips = Stack(app, "Live"), Stack(app, "Clips")
    job(clips, "Clip", endpoint(live))
    job(clips, "Named", None, channel_group_name="live", channel_name="main", origin_endpoint_name="hls")
    assert Annotations.from_stack(clips).find_warning("*", Match.string_like_regexp(NEW_ENDPOINT)) == []


def test_a_v1_window_that_has_not_ended_warns_naming_end_time() -> None:
    stack = Stack(App(), "Clips")
    end = RECENT_END + timedelta(hours=2)
    common: dict[str, Any] = {"origin_endpoint_id": "news", "destination_bucket": "clips-bucket"}
    MediaPackageV1HarvestJob(
        stack, "Ahead", **common, start_time=end - HOUR, end_time=end, manifest_key="clips/a/index.m3u8"
    )
    MediaPackageV1HarvestJob(
        stack, "Done", **common, start_time=RECENT_START, end_time=RECENT_END, manifest_key="clips/b/index.m3u8"
    )
    Annotations.from_stack(stack).has_warning(
        "/Clips/Ahead", Match.string_like_regexp(re.escape(f"end_time {end.isoformat()} has not passed yet"))
    )
    Annotations.from_stack(stack).has_no_warning("/Clips/Done", Match.any_value())


def test_jobs_named_by_their_endpoint_names_get_the_clock_warnings_too() -> None:
    stack = Stack(App(), "Clips")
    start = RECENT_END + timedelta(days=1)
    HarvestJob(
        stack,
        "Named",
        channel_group_name="live",
        channel_name="main",
        origin_endpoint_name="hls",
        hls_manifests=["index"],
        start_time=start,
        end_time=start + HOUR,
        destination_bucket="clips-bucket",
        destination_path="clips",
    )
    (found,) = warnings(stack)
    assert found.startswith(f"start_time {start.isoformat()} is in the future"), found
    Template.from_stack(stack).resource_count_is(POLICY_TYPE, 0)  # a named endpoint's policy is the user's


def test_a_job_in_another_stack_puts_the_harvester_in_the_endpoints_stack() -> None:
    app = App()
    live = Stack(app, "Live")
    clips = Stack(app, "Clips")
    cfn_endpoint = endpoint(live)
    job(clips, "Clip", cfn_endpoint)
    live_template = Template.from_stack(live)
    _, statements = the_policy(live_template)
    assert has_harvester(statements) == 1
    Template.from_stack(clips).resource_count_is(POLICY_TYPE, 0)
    assert live in clips.dependencies  # the job is created only once the endpoint's policy exists
