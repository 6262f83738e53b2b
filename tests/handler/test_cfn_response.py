"""Answering CloudFormation (``harvest_handler.cfn_response``): retries of the response PUT, the body's limits, the
logs (never the ResponseURL)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from harvest_handler.cfn_response import MAX_BODY_BYTES, response_body
from harvest_handler.logs import logger
from harvest_handler.model import fit_reason
from tests.handler.fakes import INLINE_CHECKS, Harness, job_arn, with_properties


def quick_create(harness: Harness) -> dict[str, object]:
    """A Create answered right after CreateHarvestJob (WaitForCompletion false)."""
    event = with_properties(harness.event("create"), WaitForCompletion="false")
    harness.expect_create(event)
    return event


def test_a_response_put_answered_500_is_retried_until_it_lands(harness: Harness) -> None:
    event = quick_create(harness)
    harness.endpoint.fail_next(str(event["RequestId"]), times=2, status=500)

    harness.invoke(event)

    assert harness.endpoint.attempts_for(str(event["RequestId"])) == 3
    assert harness.response(event)["Status"] == "SUCCESS"  # exactly one recorded
    assert harness.clock.sleeps == [1.0, 2.0]  # backoff on the handler clock


def test_a_dropped_connection_is_retried(harness: Harness) -> None:
    event = quick_create(harness)
    harness.endpoint.fail_next(str(event["RequestId"]), times=1, status=None)

    harness.invoke(event)

    assert harness.endpoint.attempts_for(str(event["RequestId"])) == 2
    assert harness.response(event)["Status"] == "SUCCESS"


def test_a_rejected_response_is_not_retried(harness: Harness) -> None:
    event = quick_create(harness)
    harness.endpoint.fail_next(str(event["RequestId"]), times=1, status=403)

    harness.invoke(event)

    assert harness.endpoint.attempts_for(str(event["RequestId"])) == 1
    assert harness.responses(event) == []


def test_response_retries_stop_before_the_lambda_times_out(harness: Harness) -> None:
    event = quick_create(harness)
    harness.endpoint.fail_next(str(event["RequestId"]), times=100, status=503)

    harness.invoke(event, timeout=10)

    assert harness.endpoint.attempts_for(str(event["RequestId"])) == 4  # after 0, 1, 3 and 7 s; 15 s is too late
    assert harness.clock.elapsed() < 9.5


def test_a_long_reason_keeps_the_job_name_and_the_end_of_the_service_message(harness: Harness) -> None:
    event = harness.event("create")
    name = harness.expect_create(event)
    message = "Harvest failed: " + "segment missing; " * 30 + "END OF CAUSE"
    harness.expect_get(name, "FAILED", error=message)

    harness.invoke(event)

    reason = harness.response(event)["Reason"]
    assert len(reason) == 256
    assert reason.startswith(f"Harvest job {name} FAILED: Harvest failed: segment missing;")
    assert reason.endswith("segment missing; END OF CAUSE")


def test_a_service_error_on_create_fails_with_its_message_and_a_placeholder_id(harness: Harness) -> None:
    event = harness.event("create")
    harness.expect_preflight(event)
    harness.mediapackage.add_client_error(
        "create_harvest_job",
        service_error_code="ResourceNotFoundException",
        service_message="Origin endpoint hls not found",
        http_status_code=404,
    )

    harness.invoke(event)

    response = harness.response(event)
    assert response["Status"] == "FAILED"
    assert response["Reason"].endswith("Origin endpoint hls not found")
    assert response["PhysicalResourceId"].startswith("failed-create:")


def test_the_body_never_exceeds_4096_bytes() -> None:
    body = response_body(
        status="SUCCESS",
        reason="",
        physical_id="id",
        stack_id="stack",
        request_id="request",
        logical_id="Job",
        data={"Huge": "x" * 5000},
    )
    assert len(body) <= MAX_BODY_BYTES
    assert b'"Status": "FAILED"' in body and b'"Data": {}' in body
    assert fit_reason("x" * 300 + "cause").endswith("cause") and len(fit_reason("x" * 300)) == 256


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[io.StringIO]:
    """Everything at DEBUG: the root logger (caplog) and the Powertools logger's own JSON lines."""
    caplog.set_level(logging.DEBUG)
    own = logging.getLogger(logger.service)
    previous = own.level
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    own.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield stream
    own.removeHandler(handler)
    logger.setLevel(previous)


def test_the_response_url_never_reaches_a_log_even_at_debug(
    harness: Harness, debug_logs: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    event = harness.event("create")
    name = harness.expect_create(event)
    harness.expect_gets(name, INLINE_CHECKS)
    harness.invoke(event)  # hands over: the URL travels in the EventBridge target Input
    harness.endpoint.fail_next(str(event["RequestId"]), times=1, status=500)
    harness.expect_get(name, "FAILED", error="boom")
    harness.fire_poll()
    assert harness.response(event)["Status"] == "FAILED"

    secret = harness.endpoint.signature(str(event["RequestId"]))
    lines = debug_logs.getvalue()
    assert f'"job_name":"{name}"' in lines and f'"request_id":"{event["RequestId"]}"' in lines  # keys appended
    captured = [lines, caplog.text, *(repr(vars(record)) for record in caplog.records)]
    assert not [text for text in captured if secret in text or "X-Amz-Signature" in text]


def test_failed_responses_carry_the_job_arn_for_the_rollback(harness: Harness) -> None:
    event = with_properties(harness.event("create"), Timeout="60", ServiceTimeout="60")
    name = harness.expect_create(event)
    harness.expect_gets(name, 10)
    harness.expect_get(name, "CANCELLED")  # cancelled by someone else at the deadline's check

    harness.invoke(event)

    response = harness.response(event)
    assert response["Status"] == "FAILED"
    assert response["PhysicalResourceId"] == job_arn(name)
    assert response["Reason"].endswith("CANCELLED: the service gave no error message")
