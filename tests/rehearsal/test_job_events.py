"""MediaPackage's harvest-job events, rehearsed end to end: the emulator publishes them on each status change, the
rehearsal's event bus delivers them through the stack's one rule to the unmodified handler, which answers the
request waiting on the job at once, and changes nothing for any other event.

What a user would notice is asserted: when CloudFormation hears back and what it hears, that an event nobody waits
for (a stranger job, a duplicate, an early or a malformed event) makes no call that modifies anything and sends no
answer, and that polling still answers when every event is lost.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any, cast

import boto3
from aws_cdk import App, Stack
from moto.events.models import EventPattern

from mediapackage_harvest import HarvestJob
from mediapackage_harvest.rehearsal.cloudformation import Request, StackResult
from mediapackage_harvest.rehearsal.harness import Rehearsal, default_start
from mediapackage_harvest.rehearsal.lambda_runtime import handler_module
from mediapackage_harvest.rehearsal.scenario import EventDelivery, JobScript, Scenario
from tests.rehearsal.stacks import Synthesized
from tests.reliability.faults import FaultRehearsal
from tests.reliability.helpers import JOB_PROPS, REHEARSAL_START
from tests.v1.v1_stacks import AFTER, END, START, mixed_stack, rehearsal_template, v1_stack

LONG_JOB = JobScript(queued_seconds=5, in_progress_seconds=115)  # ends after the hand-over (8 s), before a poll
FAILURE = "Manifest index is not available on origin endpoint hls"
V1_FAILURE = "Harvest job failed: the origin endpoint has no content for the requested window"
MODIFYING_EVENTBRIDGE_CALLS = {"PutRule", "PutTargets", "RemoveTargets", "DeleteRule"}
V2_DETAIL_TYPE = "MediaPackageV2 HarvestJob Notification"


def create_of(result: StackResult) -> Request:
    (request,) = [r for r in result.requests if r.request_type == "Create"]
    return request


def ended_at(job: dict[str, Any]) -> float:
    return float(job["ModifiedAt"].timestamp())


def triggers(rehearsal: Rehearsal) -> list[str]:
    """How each Lambda invocation was triggered, in order."""
    return [entry.detail for entry in rehearsal.timeline.where("lambda", "invoked")]


def answered_by(rehearsal: Rehearsal, request: Request) -> str:
    """The trigger of the invocation that answered ``request``: the last one invoked before CloudFormation heard."""
    entries = rehearsal.timeline.entries
    heard = next(
        i
        for i, e in enumerate(entries)
        if e.source == "cloudformation"
        and e.resource == request.logical_id
        and e.what.startswith("Create ")
        and e.what != "Create sent"
    )
    return [e.detail for e in entries[:heard] if (e.source, e.what) == ("lambda", "invoked")][-1]


def v2_event(arn: object, **overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": V2_DETAIL_TYPE,
        "source": "aws.mediapackagev2",
        "account": "123456789012",
        "time": "2026-01-15T10:40:00Z",
        "region": "us-east-1",
        "resources": [arn],
        "detail": {"Status": "COMPLETED"},
    }
    event.update(overrides)
    return event


def stranger_arn(name: str = "someone-elses-job") -> str:
    return (
        "arn:aws:mediapackagev2:us-east-1:123456789012:channelGroup/live/channel/main/originEndpoint/hls"
        f"/harvestJob/{name}"
    )


def responses(rehearsal: Rehearsal) -> int:
    requests = rehearsal.cloudformation.requests if rehearsal.cloudformation else []
    return sum(len(rehearsal.endpoint.responses_for(r.request_id)) for r in requests)


# Terminal events answer at once ----------------------------------------------------------------------------------


def test_a_completed_job_is_answered_by_its_event_the_moment_it_ends(stacks: Synthesized) -> None:
    template = stacks.template("One")
    with Rehearsal(Scenario(default_job=LONG_JOB), start=default_start(template)) as rehearsal:
        result = rehearsal.deploy(template)
        create = create_of(result)
        (job,) = rehearsal.emulator.jobs()

        assert result.status == "CREATE_COMPLETE"
        assert create.response is not None and create.response["PhysicalResourceId"] == job["Arn"]
        assert create.answered_at == ended_at(job)  # no delay on the virtual clock
        assert answered_by(rehearsal, create) == "EventBridge event"
        assert rehearsal.figures().eventbridge_polls == 0
        delivered = rehearsal.timeline.where("eventbridge", "event delivered")
        assert [e.detail.split(" by rule ")[0] for e in delivered] == [
            f"{V2_DETAIL_TYPE} ({status})" for status in ("QUEUED", "IN_PROGRESS", "COMPLETED")
        ]
        assert rehearsal.destroy().status == "DELETE_COMPLETE"
        assert rehearsal.eventbridge_rules() == [] and rehearsal.event_bus.stack_rules == set()


def test_a_failed_job_fails_the_create_with_the_service_message_when_it_ends(stacks: Synthesized) -> None:
    template = stacks.template("One")
    script = JobScript(queued_seconds=5, in_progress_seconds=60, outcome="FAILED", error_message=FAILURE)
    with Rehearsal(Scenario(default_job=script), start=default_start(template)) as rehearsal:
        result = rehearsal.deploy(template)
        create = create_of(result)
        (job,) = rehearsal.emulator.jobs()

        assert result.status == "ROLLBACK_COMPLETE"
        assert create.response is not None and create.response["Status"] == "FAILED"
        assert create.response["Reason"].endswith(FAILURE)
        assert create.answered_at == ended_at(job)
        assert answered_by(rehearsal, create) == "EventBridge event"


def test_a_late_event_is_still_answered_and_only_once(stacks: Synthesized) -> None:
    template = stacks.template("One")
    scenario = Scenario(default_job=LONG_JOB, events=EventDelivery(delay_seconds=4.0))
    with Rehearsal(scenario, start=default_start(template)) as rehearsal:
        create = create_of(rehearsal.deploy(template))
        (job,) = rehearsal.emulator.jobs()
        assert create.answered_at == ended_at(job) + 4.0
        assert len(rehearsal.endpoint.responses_for(create.request_id)) == 1


def test_the_v1_notification_answers_a_v1_job_when_it_ends() -> None:
    template = rehearsal_template(v1_stack())
    scenario = Scenario(default_job=JobScript(queued_seconds=5, in_progress_seconds=60))
    with Rehearsal(scenario, start=AFTER) as rehearsal:
        result = rehearsal.deploy(template)
        create = create_of(result)
        (job,) = rehearsal.emulator_v1.jobs()

        assert result.status == "CREATE_COMPLETE"
        assert create.response is not None and create.response["Data"]["Status"] == "SUCCEEDED"
        assert answered_by(rehearsal, create) == "EventBridge event"
        delivered = rehearsal.timeline.where("eventbridge", "event delivered")
        assert [e.detail.split(" by rule ")[0] for e in delivered] == [
            "MediaPackage HarvestJob Notification (SUCCEEDED)"
        ]
        created = job["CreatedAt"]
        assert create.answered_at is not None and create.answered_at - create.sent_at == 65.0, created


def test_a_failed_v1_job_fails_the_create_with_its_notifications_message() -> None:
    template = rehearsal_template(v1_stack())
    scenario = Scenario(
        default_job=JobScript(queued_seconds=5, in_progress_seconds=60, outcome="FAILED", error_message=V1_FAILURE)
    )
    with Rehearsal(scenario, start=AFTER) as rehearsal:
        result = rehearsal.deploy(template)
        create = create_of(result)
        assert result.status == "ROLLBACK_COMPLETE"
        assert create.response is not None and "FAILED" in create.response["Reason"]
        assert answered_by(rehearsal, create) == "EventBridge event"
        assert create.answered_at is not None and create.answered_at - create.sent_at == 65.0
        # DescribeHarvestJob says no reason; the notification's message is the Reason's end.
        assert create.response["Reason"].endswith(V1_FAILURE)


def test_a_failed_v1_job_seen_by_a_poll_points_to_its_notification() -> None:
    template = rehearsal_template(v1_stack())
    scenario = Scenario(
        default_job=JobScript(queued_seconds=5, in_progress_seconds=60, outcome="FAILED", error_message=V1_FAILURE),
        events=EventDelivery(loss=1.0),
    )
    with Rehearsal(scenario, start=AFTER) as rehearsal:
        create = create_of(rehearsal.deploy(template))
        assert create.response is not None and V1_FAILURE not in create.response["Reason"]
        assert "'MediaPackage HarvestJob Notification' event" in create.response["Reason"]


# Events that change nothing ----------------------------------------------------------------------------------------


def test_an_event_for_a_job_nobody_waits_on_changes_nothing(stacks: Synthesized) -> None:
    template = stacks.template("One")
    with FaultRehearsal(Scenario(default_job=LONG_JOB), start=default_start(template)) as rehearsal:
        rehearsal.clock.call_later(30.0, lambda: rehearsal.event_bus.publish(v2_event(stranger_arn())))
        result = rehearsal.deploy(template)
        (job,) = rehearsal.emulator.jobs()

        stranger = [c for c in rehearsal.eventbridge.calls if c.rule.endswith(_digest_of(rehearsal, stranger_arn()))]
        assert [c.operation for c in stranger] == ["ListTargetsByRule"]  # who waits on it? nobody
        assert not any(c.job_name == "someone-elses-job" for c in rehearsal.emulator.calls)
        assert result.status == "CREATE_COMPLETE"
        assert create_of(result).answered_at == ended_at(job)
        assert responses(rehearsal) == 1


def test_a_duplicate_event_changes_nothing(stacks: Synthesized) -> None:
    template = stacks.template("One")
    scenario = Scenario(default_job=LONG_JOB, events=EventDelivery(duplicate_after_seconds=2.0))
    with FaultRehearsal(scenario, start=default_start(template)) as rehearsal:
        create = create_of(rehearsal.deploy(template))
        gets_when_answered = _gets(rehearsal)
        marked = len(rehearsal.eventbridge.calls)
        rehearsal.advance(10.0)  # the copy of the COMPLETED event arrives 2 s after the first

        assert "EventBridge event, delivered again" in triggers(rehearsal)
        assert len(rehearsal.endpoint.responses_for(create.request_id)) == 1
        assert _gets(rehearsal) == gets_when_answered  # the rule is gone: the job is not even read again
        later = {c.operation for c in rehearsal.eventbridge.calls[marked:]}
        assert later == {"ListTargetsByRule"}


def test_events_before_the_hand_over_change_nothing_and_the_job_is_answered_once(stacks: Synthesized) -> None:
    """QUEUED at creation and IN_PROGRESS 5 s later reach the handler while it still watches inline (no rule yet)."""
    template = stacks.template("One")
    with FaultRehearsal(Scenario(default_job=LONG_JOB), start=default_start(template)) as rehearsal:
        create = create_of(rehearsal.deploy(template))
        handed_over = next(c.at for c in rehearsal.eventbridge.calls if c.operation == "PutRule")
        early = [c for c in rehearsal.eventbridge.calls if c.at < handed_over]
        assert [c.operation for c in early] == ["ListTargetsByRule", "ListTargetsByRule"]
        assert triggers(rehearsal)[:3] == ["CloudFormation Create", "EventBridge event", "EventBridge event"]
        assert len(rehearsal.endpoint.responses_for(create.request_id)) == 1


def test_an_event_for_a_job_the_service_does_not_know_changes_nothing(stacks: Synthesized) -> None:
    """A rule waits on a job ARN MediaPackage has never heard of: the re-read says so, and nothing is touched."""
    template = stacks.template("One")
    with FaultRehearsal(Scenario(default_job=LONG_JOB), start=default_start(template)) as rehearsal:
        rehearsal.deploy(template)
        (function,) = rehearsal.functions.values()
        arn = stranger_arn("not-created-yet")
        rule = _rule_name(rehearsal, arn)
        rule_arn = rehearsal.events.put_rule(Name=rule, ScheduleExpression="rate(5 minutes)")["RuleArn"]
        poll: dict[str, object] = {
            "RequestType": "Create",
            "ResponseURL": rehearsal.endpoint.response_url("nobody"),
            "StackId": "s",
        }
        poll.update(
            {"RequestId": "nobody", "LogicalResourceId": "Ghost", "CrHelperPoll": True, "CrHelperRule": rule_arn}
        )
        target = {"Id": "1", "Arn": function.arn, "Input": json.dumps(poll)}
        rehearsal.events.put_targets(Rule=rule, Targets=[target])
        marked, calls = len(rehearsal.eventbridge.calls), len(rehearsal.emulator.calls)

        rehearsal.event_bus.publish(v2_event(arn))
        rehearsal.advance(1.0)

        assert [c.operation for c in rehearsal.eventbridge.calls[marked:]] == ["ListTargetsByRule"]
        assert [(c.operation, c.error_code) for c in rehearsal.emulator.calls[calls:]] == [
            ("GetHarvestJob", "ResourceNotFoundException")
        ]
        assert rehearsal.endpoint.responses_for("nobody") == []
        assert rehearsal.events.list_targets_by_rule(Rule=rule)["Targets"] == [target]
        rehearsal.events.remove_targets(Rule=rule, Ids=["1"])
        rehearsal.events.delete_rule(Name=rule)


def test_malformed_events_change_nothing_and_raise_nothing(stacks: Synthesized) -> None:
    template = stacks.template("One")
    with FaultRehearsal(Scenario(default_job=LONG_JOB), start=default_start(template)) as rehearsal:
        rehearsal.deploy(template)
        (function,) = rehearsal.functions.values()
        marked, calls = len(rehearsal.eventbridge.calls), len(rehearsal.emulator.calls)
        malformed: list[dict[str, Any]] = [
            v2_event(stranger_arn(), resources=None),
            v2_event(stranger_arn(), resources="not a list"),
            v2_event(stranger_arn(), resources=[]),
            v2_event(42),
            v2_event("arn:aws:s3:::a-bucket/harvestJob/x"),
            v2_event(stranger_arn(), source="aws.mediapackage"),  # v1's source with v2's detail-type
            v2_event(stranger_arn(), **{"detail-type": "Something Else"}),
            {"source": None, "detail-type": None},
            {"source": "aws.mediapackage", "detail-type": "MediaPackage HarvestJob Notification", "detail": "x"},
            {"source": "aws.mediapackage", "detail-type": "MediaPackage HarvestJob Notification",
             "detail": {"harvest_job": {"arn": ["no"]}}},
        ]  # fmt: skip
        for event in malformed:
            function.invoke(event, "EventBridge event", "malformed")
        rehearsal.advance(1.0)  # a handler exception would surface here

        assert rehearsal.eventbridge.calls[marked:] == []
        assert rehearsal.emulator.calls[calls:] == []
        assert responses(rehearsal) == 1  # the Create's own answer only


# Other stacks' jobs ---------------------------------------------------------------------------------------------

ELSEWHERE = JobScript(queued_seconds=5, in_progress_seconds=20)  # ends before this stack's jobs do


def spy_on_events(rehearsal: Rehearsal) -> list[dict[str, Any]]:
    """Every event the emulators put on the bus (matched or not), in order."""
    published: list[dict[str, Any]] = []
    publish = rehearsal.event_bus.publish

    def record(event: dict[str, Any]) -> None:
        published.append(event)
        publish(event)

    for emulator in (rehearsal.emulator, rehearsal.emulator_v1):
        emulator.publish_events(record, rehearsal.event_bus.wake_at)
    return published


def elsewhere(rehearsal: Rehearsal, v1: bool, create: Callable[[Any], object]) -> None:
    """Another team's job, created straight through the emulator's API (botocore) 10 s into the deploy, by a caller
    that is not the stack's function."""
    session = boto3.Session(  # its own keys: not the function's, which the rehearsal puts in the environment
        aws_access_key_id="AKIAOTHERTEAM0000000", aws_secret_access_key="other-team", region_name="us-east-1"
    )
    client: Any = (
        session.client("mediapackage", endpoint_url=rehearsal.emulator_v1.url)
        if v1
        else session.client("mediapackagev2", endpoint_url=rehearsal.emulator.url)
    )

    def run() -> None:
        create(client)

    rehearsal.clock.call_later(10.0, run)


def matches(pattern: EventPattern, event: dict[str, Any]) -> bool:
    return bool(pattern.matches_event(cast(Any, event)))


def create_v2_elsewhere(client: Any) -> object:
    return client.create_harvest_job(
        ChannelGroupName="live",
        ChannelName="main",
        OriginEndpointName="other-teams-hls",
        HarvestJobName="other-teams-clip",
        HarvestedManifests={"HlsManifests": [{"ManifestName": "index"}]},
        ScheduleConfiguration={"StartTime": START, "EndTime": END},
        Destination={"S3Destination": {"BucketName": "other-teams-bucket", "DestinationPath": "clips/"}},
    )


def create_v1_elsewhere(client: Any) -> object:
    return client.create_harvest_job(
        Id="other-teams-v1-clip",
        OriginEndpointId="weather-hls",
        StartTime=START.isoformat(),
        EndTime=END.isoformat(),
        S3Destination={
            "BucketName": "other-teams-bucket",
            "ManifestKey": "clips/index.m3u8",
            "RoleArn": "arn:aws:iam::123456789012:role/other-team",
        },
    )


def stack_pattern(rehearsal: Rehearsal) -> EventPattern:
    (name,) = rehearsal.event_bus.stack_rules
    return EventPattern.load(rehearsal.events.describe_rule(Name=name)["EventPattern"])


def test_a_job_of_another_endpoint_never_invokes_this_stacks_function(stacks: Synthesized) -> None:
    """Another team's job on another endpoint ends while this stack's job runs: its events reach the bus and match
    what every MediaPackage v2 harvest-job event matches, but not the stack's rule, so the function is never invoked
    for them; this stack's own job is still answered by its event the moment it ends."""
    template = stacks.template("One")
    scenario = Scenario(default_job=LONG_JOB, jobs={"other-teams-clip": ELSEWHERE})
    with Rehearsal(scenario, start=default_start(template)) as rehearsal:
        published = spy_on_events(rehearsal)
        elsewhere(rehearsal, False, create_v2_elsewhere)
        result = rehearsal.deploy(template)
        create = create_of(result)
        jobs = {job["HarvestJobName"]: job for job in rehearsal.emulator.jobs()}
        other = jobs.pop("other-teams-clip")
        (own,) = jobs.values()

        assert result.status == "CREATE_COMPLETE"
        assert other["Status"] == "COMPLETED" and ended_at(other) < ended_at(own)
        others = [e for e in published if e["resources"] == [other["Arn"]]]
        every_harvest_job = EventPattern.load(json.dumps({"source": ["aws.mediapackagev2"]}))
        assert len(others) == 3 and all(matches(every_harvest_job, e) for e in others)  # the old rule's reach
        assert not any(matches(stack_pattern(rehearsal), e) for e in others)
        delivered = rehearsal.timeline.where("eventbridge", "event delivered")
        assert {e.resource for e in delivered} == {own["HarvestJobName"]}
        assert "other-teams-clip" not in {e.resource for e in rehearsal.timeline.where("lambda", "invoked")}
        assert answered_by(rehearsal, create) == "EventBridge event"
        assert create.answered_at is not None and 0 <= create.answered_at - ended_at(own) <= 1.0


def test_with_both_flavours_each_jobs_own_events_answer_and_other_teams_do_not() -> None:
    """One rule, one ``$or`` pattern (moto's matcher, as EventBridge's, takes ``$or`` and ``prefix`` on the
    ``resources`` list): the stack's v1 and v2 jobs are answered by their events, other endpoints' jobs of either
    flavour invoke nothing."""
    template = rehearsal_template(mixed_stack())
    scenario = Scenario(default_job=LONG_JOB, jobs={"other-teams-clip": ELSEWHERE, "other-teams-v1-clip": ELSEWHERE})
    with Rehearsal(scenario, start=AFTER + timedelta(minutes=1)) as rehearsal:
        published = spy_on_events(rehearsal)
        elsewhere(rehearsal, False, create_v2_elsewhere)
        elsewhere(rehearsal, True, create_v1_elsewhere)
        result = rehearsal.deploy(template)

        assert result.status == "CREATE_COMPLETE"
        creates = [r for r in result.requests if r.request_type == "Create"]
        assert len(creates) == 3 and all(answered_by(rehearsal, r) == "EventBridge event" for r in creates)
        others = [e for e in published if str(e["resources"][0]).split("/")[-1].startswith("other-teams-")]
        assert {str(e["source"]) for e in others} == {"aws.mediapackage", "aws.mediapackagev2"}
        assert not any(matches(stack_pattern(rehearsal), e) for e in others)
        invoked = {e.resource for e in rehearsal.timeline.where("lambda", "invoked")}
        assert not {"other-teams-clip", "other-teams-v1-clip"} & invoked
        assert rehearsal.destroy().status == "DELETE_COMPLETE"


# Every event lost ------------------------------------------------------------------------------------------------


def test_when_every_event_is_lost_a_poll_answers_within_five_minutes(stacks: Synthesized) -> None:
    template = stacks.template("One")
    scenario = Scenario(default_job=LONG_JOB, events=EventDelivery(loss=1.0))
    with Rehearsal(scenario, start=default_start(template)) as rehearsal:
        result = rehearsal.deploy(template)
        create = create_of(result)
        (job,) = rehearsal.emulator.jobs()

        assert result.status == "CREATE_COMPLETE"
        assert answered_by(rehearsal, create) == "EventBridge poll"
        assert create.answered_at is not None and 0 < create.answered_at - ended_at(job) <= 300
        assert rehearsal.event_bus.delivered == 0 and rehearsal.event_bus.lost == 3
        assert len(rehearsal.timeline.where("eventbridge", "event lost")) == 3


def test_half_the_events_lost_is_the_seeded_same_on_every_run(stacks: Synthesized) -> None:
    def lost(seed: int) -> list[str]:
        template = stacks.template("One")
        scenario = Scenario(default_job=LONG_JOB, events=EventDelivery(loss=0.5))
        with Rehearsal(scenario, start=default_start(template), seed=seed) as rehearsal:
            assert rehearsal.deploy(template).status == "CREATE_COMPLETE"
            return [e.detail for e in rehearsal.timeline.where("eventbridge", "event lost")]

    assert lost(3) == lost(3)


# Helpers -----------------------------------------------------------------------------------------------------------


def _rule_name(rehearsal: Rehearsal, job_arn: str) -> str:
    (function_id,) = rehearsal.functions
    assert rehearsal.cloudformation is not None and rehearsal.cloudformation.template is not None
    prefix = rehearsal.cloudformation.template.function_environment(function_id)["HARVEST_POLL_RULE_PREFIX"]
    return str(handler_module("rules").job_rule_name(job_arn, prefix))


def _digest_of(rehearsal: Rehearsal, job_arn: str) -> str:
    return _rule_name(rehearsal, job_arn).rsplit("-", 1)[-1]


def _gets(rehearsal: Rehearsal) -> int:
    return sum(call.operation == "GetHarvestJob" for call in rehearsal.emulator.calls)


def test_a_poll_watching_up_to_the_deadline_stays_silent_once_the_event_answered() -> None:
    """Timeout 10 minutes: the poll at 308 s watches inline up to the deadline (570 s), since the next poll would
    come after it; the job ends at 400 s and its event answers; the watcher then finds the rule gone and says
    nothing, so CloudFormation hears exactly one answer."""
    stack = Stack(App(), "DeadlineWatch")
    HarvestJob(stack, "Clip", **JOB_PROPS)  # timeout 10 minutes
    template = rehearsal_template(stack)
    scenario = Scenario(default_job=JobScript(queued_seconds=5, in_progress_seconds=395))
    with Rehearsal(scenario, start=REHEARSAL_START) as rehearsal:
        result = rehearsal.deploy(template)
        rehearsal.settle()
        create = create_of(result)
        (job,) = rehearsal.emulator.jobs()

        assert result.status == "CREATE_COMPLETE"
        assert create.answered_at == ended_at(job)
        assert answered_by(rehearsal, create) == "EventBridge event"
        assert len(rehearsal.endpoint.responses_for(create.request_id)) == 1
        assert triggers(rehearsal).count("EventBridge poll") == 1  # the watcher, which read the job after 400 s
        watcher_reads = [
            c.at - rehearsal.timeline.origin for c in rehearsal.emulator.calls if c.operation == "GetHarvestJob"
        ]
        assert max(watcher_reads) > ended_at(job) - rehearsal.timeline.origin
