"""Create: the job is created once, watched inline then by EventBridge, and CloudFormation hears the outcome."""

from __future__ import annotations

import hashlib
import json
import random
import re
import string

import pytest

from mediapackage_harvest.contract.spec import POLL_RULE_PREFIX_ENV as RULE_PREFIX_ENV
from tests.handler.fakes import (
    INLINE_CHECKS,
    RULE_PREFIX,
    Harness,
    create_params,
    derived_name,
    job,
    job_arn,
    key,
    with_properties,
)


def attributes(name: str, status: str = "COMPLETED", etag: str = "etag-1") -> dict[str, str]:
    return {
        "Arn": job_arn(name),
        "ETag": etag,
        "Status": status,
        "HarvestJobName": name,
        "CreatedAt": "2026-01-01T00:00:01+00:00",
        "ModifiedAt": "2026-01-01T00:00:30+00:00",
    }


def test_a_job_that_completes_inline_is_answered_by_the_first_invocation(harness: Harness) -> None:
    event = harness.event("create")
    name = harness.expect_create(event)
    harness.expect_gets(name, 2)  # at 2 and 4 s
    harness.expect_get(name, "COMPLETED")  # at 6 s

    harness.invoke(event)

    response = harness.response(event)
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] == job_arn(name)
    assert response["Data"] == attributes(name)
    assert response["Reason"] == ""
    assert harness.clock.elapsed() == 6
    assert harness.rules() == []


def test_a_job_ending_just_after_6_s_is_answered_within_2_s(harness: Harness) -> None:
    event = harness.event("create")
    name = harness.expect_create(event)
    harness.expect_gets(name, INLINE_CHECKS - 1)  # up to 6 s
    harness.expect_get(name, "COMPLETED")  # the last inline check, at 8 s

    harness.invoke(event)

    assert harness.response(event)["Status"] == "SUCCESS"
    assert harness.clock.elapsed() == 8
    assert max(harness.clock.sleeps) <= 2


def test_a_long_job_is_handed_to_eventbridge_and_answered_from_a_poll(harness: Harness) -> None:
    event = harness.event("create", LogicalResourceId="Clip" + "X" * 196)  # 200 characters
    name = harness.expect_create(event)
    harness.expect_gets(name, INLINE_CHECKS)

    harness.invoke(event)

    assert harness.responses(event) == []
    (rule,) = harness.rules()
    assert len(rule) <= 64 and rule.startswith(f"{RULE_PREFIX}-") and re.fullmatch(r"[.\-_A-Za-z0-9]+", rule)
    # Named after the job, so the job's events find the request waiting on it.
    assert rule == f"{RULE_PREFIX}-{hashlib.sha256(job_arn(name).encode()).hexdigest()[:16]}"
    assert harness.events.describe_rule(Name=rule)["ScheduleExpression"] == "rate(5 minutes)"
    poll_input = json.loads(harness.poll_input())
    assert "ResourceProperties" not in poll_input and "OldResourceProperties" not in poll_input
    assert "CrHelperPermission" not in poll_input  # no per-rule Lambda permission (no Lambda client at all)
    assert poll_input["CrHelperData"]["job"] == job_arn(name)
    assert len(name) == 61

    harness.expect_get(name, "COMPLETED")
    harness.fire_poll()

    response = harness.response(event)
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] == job_arn(name)
    assert response["Data"] == attributes(name)
    assert harness.clock.elapsed() == 308
    assert harness.rules() == []


def test_a_failed_job_fails_the_request_with_the_service_message_last(harness: Harness) -> None:
    event = harness.event("create")
    name = harness.expect_create(event)
    harness.expect_get(name)
    harness.expect_get(name, "FAILED", error="No segments found in the harvest window")

    harness.invoke(event)

    response = harness.response(event)
    assert response["Status"] == "FAILED"
    assert response["Reason"] == f"Harvest job {name} FAILED: No segments found in the harvest window"
    assert response["PhysicalResourceId"] == job_arn(name)  # so the rollback's Delete finds the job
    assert response["Data"] == {}


def test_at_the_deadline_the_job_is_cancelled_and_the_request_fails(harness: Harness) -> None:
    event = with_properties(harness.event("create"), Timeout="60", ServiceTimeout="60")
    name = harness.expect_create(event)
    harness.expect_gets(name, 11)  # 2 ... 26 s, and at the deadline: 60 - 30 = 30 s
    harness.mediapackage.add_response("cancel_harvest_job", {}, key(name))

    harness.invoke(event)

    response = harness.response(event)
    assert response["Status"] == "FAILED"
    assert "did not finish within timeout=Duration.minutes(1), cancelled" in response["Reason"]
    assert response["PhysicalResourceId"] == job_arn(name)
    assert harness.clock.elapsed() == 30
    assert harness.rules() == []


def test_a_poll_close_to_the_deadline_watches_inline_up_to_it(harness: Harness) -> None:
    event = with_properties(harness.event("create"), Timeout="350", ServiceTimeout="350")  # deadline at 320 s
    name = harness.expect_create(event)
    harness.expect_gets(name, INLINE_CHECKS)  # to 8 s; the poll at 308 s is still before the deadline
    harness.invoke(event)
    assert len(harness.rules()) == 1

    harness.expect_gets(name, 7)  # 308, 310, 312, 314, 316, 318 and 320 s
    harness.mediapackage.add_response("cancel_harvest_job", {}, key(name))
    harness.fire_poll()

    response = harness.response(event)
    assert response["Status"] == "FAILED"
    assert "timeout=Duration.seconds(350)" in response["Reason"]
    assert harness.clock.elapsed() == 320
    assert harness.rules() == []


def test_without_waiting_the_request_is_answered_right_after_the_create(harness: Harness) -> None:
    event = with_properties(harness.event("create"), WaitForCompletion="false")
    name = harness.expect_create(event)

    harness.invoke(event)

    response = harness.response(event)
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] == job_arn(name)
    assert response["Data"] == attributes(name, status="QUEUED")
    assert harness.clock.elapsed() == 0


def test_a_redelivered_create_sends_the_same_token_and_name(harness: Harness) -> None:
    event = with_properties(harness.event("create"), WaitForCompletion="false")
    first = harness.expect_create(event)
    second = harness.expect_create(event)  # the service answers a repeated ClientToken with the same job

    harness.invoke(event)
    harness.invoke(event)

    assert first == second
    responses = harness.responses(event)
    assert [r["PhysicalResourceId"] for r in responses] == [job_arn(first)] * 2


def test_invalid_properties_fail_naming_the_field_without_calling_mediapackage(harness: Harness) -> None:
    event = with_properties(
        harness.event("create"),
        HarvestedManifests=None,
        Destination={"S3Destination": {"BucketName": "Not_A_Bucket", "DestinationPath": "clips/"}},
    )

    harness.invoke(event)

    response = harness.response(event)
    assert response["Status"] == "FAILED"
    assert response["Reason"].startswith(
        "Invalid properties (HarvestedManifests, Destination.S3Destination.BucketName): HarvestedManifests is required"
    )
    assert len(response["Reason"]) <= 256
    assert response["PhysicalResourceId"] == f"failed-create:{event['LogicalResourceId']}:{event['RequestId']}"


def test_quota_exceeded_is_retried_until_the_create_succeeds(harness: Harness) -> None:
    event = harness.event("create")
    harness.expect_quota_exceeded(event)
    name = harness.expect_create(event)  # at 2 s
    harness.expect_get(name, "COMPLETED")  # at 4 s

    harness.invoke(event)

    assert harness.response(event)["Status"] == "SUCCESS"
    assert harness.clock.elapsed() == 4


def test_quota_exceeded_beyond_the_inline_watch_is_retried_by_the_polls(harness: Harness) -> None:
    event = harness.event("create")
    harness.expect_quota_exceeded(event, times=INLINE_CHECKS + 1)  # at 0 s and every inline check
    harness.invoke(event)
    assert "EventPattern" not in harness.events.describe_rule(Name=harness.rules()[0])  # polls alone
    state = json.loads(harness.poll_input())["CrHelperData"]
    assert "job" not in state and state["pending"]
    assert "ServiceQuotaExceededException" in state["problem"]

    name = harness.expect_create(event)
    harness.fire_poll()  # 308 s: created, still queued
    assert harness.responses(event) == []
    assert json.loads(harness.poll_input())["CrHelperData"]["job"] == job_arn(name)

    harness.expect_get(name, "COMPLETED")
    harness.fire_poll()  # 608 s

    response = harness.response(event)
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", job_arn(name))
    assert harness.rules() == []


def test_a_create_refused_for_the_quota_waits_on_its_channel_groups_job_events_then_on_its_jobs(
    harness: Harness,
) -> None:
    """A ClipSet's clip takes a slot that frees within seconds: its waiting request's rule also fires on the ended-job
    events of the channel group (the quota's scope), and once its job exists, on that job's events alone."""
    event = with_properties(harness.event("create"), RetryWhenSlotFrees="true")
    harness.expect_quota_exceeded(event, times=INLINE_CHECKS + 1)
    harness.invoke(event)
    (rule,) = harness.rules()
    group = "arn:aws:mediapackagev2:us-east-1:123456789012:channelGroup/live/"
    source = {"source": ["aws.mediapackagev2"], "detail-type": ["MediaPackageV2 HarvestJob Notification"]}
    assert json.loads(harness.events.describe_rule(Name=rule)["EventPattern"]) == {
        **source,
        "resources": [{"prefix": group}],
        "detail": {"harvestJob": {"status": ["CANCELLED", "COMPLETED", "FAILED"]}},  # a job ended: a slot freed
    }
    assert harness.events.describe_rule(Name=rule)["ScheduleExpression"] == "rate(5 minutes)"  # the fallback

    name = harness.expect_create(event)
    harness.fire_poll(after=1.0)  # a job of the group ended: EventBridge runs the rule's Input at once

    assert json.loads(harness.events.describe_rule(Name=rule)["EventPattern"]) == {
        **source,
        "resources": [job_arn(name)],
    }
    harness.expect_get(name, "COMPLETED")
    harness.fire_poll(after=1.0)  # the job's own end
    assert harness.response(event)["Status"] == "SUCCESS"
    assert harness.rules() == []


def test_the_poll_input_stays_within_8192_characters_with_the_largest_tags(harness: Harness) -> None:
    tags = {f"{index:02d}" + "k" * 126: "v" * 256 for index in range(50)}
    event = with_properties(harness.event("create"), Tags=tags, Description="d" * 1024)
    name = derived_name(event)
    harness.expect_preflight(event)
    harness.mediapackage.add_response("create_harvest_job", job(name, "QUEUED", tags=tags), create_params(event))
    harness.expect_gets(name, INLINE_CHECKS)

    harness.invoke(event)

    text = harness.poll_input()
    assert len(text) <= 8192
    assert "ResourceProperties" not in json.loads(text)
    harness.expect_get(name, "COMPLETED")
    harness.fire_poll()
    assert harness.response(event)["Status"] == "SUCCESS"


def test_a_quota_retry_state_too_large_for_eventbridge_fails_clearly(harness: Harness) -> None:
    alphabet = string.ascii_letters + string.digits
    chooser = random.Random(7)
    tags = {"".join(chooser.choices(alphabet, k=128)): "".join(chooser.choices(alphabet, k=256)) for _ in range(50)}
    event = with_properties(harness.event("create"), Tags=tags)
    harness.expect_quota_exceeded(event, times=INLINE_CHECKS + 1)

    harness.invoke(event)

    response = harness.response(event)
    assert response["Status"] == "FAILED"
    assert response["Reason"].endswith("over EventBridge's 8192")
    assert response["PhysicalResourceId"].startswith("failed-create:")
    assert harness.rules() == []


def test_without_a_rule_prefix_the_request_fails_before_any_job_is_created(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A function that could never poll or watch answers FAILED at once (crhelper's init_failure), creating nothing."""
    monkeypatch.delenv(RULE_PREFIX_ENV)
    event = harness.event("create")

    harness.invoke(event)  # the Stubber expects no MediaPackage call at all

    response = harness.response(event)
    assert response["Status"] == "FAILED"
    assert f"Environment variable {RULE_PREFIX_ENV} must hold a rule-name prefix" in response["Reason"]
    assert response["PhysicalResourceId"].startswith("failed-create:")
    assert harness.rules() == []
