"""The rehearsal's CloudFormation plays wait conditions as CloudFormation does: a handle's Ref is a pre-signed URL
on the local HTTPS endpoint, the condition waits for its signals (real HTTPS PUTs) up to its Timeout, its Data
attribute is the signals' JSON, a FAILURE or a timeout rolls the stack back, and Delete calls nothing. The endpoint
refuses a URL past its ``X-Amz-Date + X-Amz-Expires`` as S3 does.

The function here is a small stand-in that answers its own request and signals the handle later over HTTPS: these
tests are about the driver. The harvest handler's long-wait mode is rehearsed end to end in test_lifecycle.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import urllib.error
import urllib.request
import warnings
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from mediapackage_harvest.rehearsal.cfn_endpoint import (
    HANDLE_URL_EXPIRES_SECONDS,
    RESPONSE_URL_EXPIRES_SECONDS,
    CloudFormationEndpoint,
)
from mediapackage_harvest.rehearsal.cloudformation import CloudFormation, LambdaFunction
from mediapackage_harvest.rehearsal.template import Environment, Template
from mediapackage_harvest.rehearsal.timeline import Timeline
from mediapackage_harvest.rehearsal.virtual_clock import VirtualClock

START = 1_800_000_000.0
TIMEOUT = 7200


def template(signal: dict[str, Any] | None, after: float) -> Template:
    """A function, a handle, a custom resource handed the handle's URL, and a condition waiting on the handle."""
    props = {"ServiceToken": {"Fn::GetAtt": ["Fn", "Arn"]}, "SignalUrl": {"Ref": "Handle"}, "After": after}
    if signal is not None:
        props["Signal"] = signal
    body = {
        "Resources": {
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Timeout": 60}},
            "Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"},
            "Job": {"Type": "Custom::Job", "Properties": props},
            "Done": {
                "Type": "AWS::CloudFormation::WaitCondition",
                "DependsOn": "Job",
                "Properties": {"Handle": {"Ref": "Handle"}, "Timeout": str(TIMEOUT), "Count": 1},
            },
        },
        "Outputs": {"Signalled": {"Value": {"Fn::GetAtt": ["Done", "Data"]}}},
    }
    return Template(body, Environment(stack_name="LongWait"))


class Driver:
    """CloudFormation on a virtual clock, with a function that answers at once and signals ``After`` s later."""

    def __init__(self, endpoint: CloudFormationEndpoint) -> None:
        self.clock = VirtualClock(START)
        endpoint.now = self.clock.time
        self.timeline = Timeline(START)
        self.tls = ssl.create_default_context(cafile=str(endpoint.ca_file))
        self.events: list[dict[str, Any]] = []
        function = LambdaFunction(self.clock, self.handle, "fn", "arn:aws:lambda:::function:fn", 60, self.timeline)
        self.cloudformation = CloudFormation(self.clock, endpoint, {"Fn": function}, self.timeline)

    def put(self, url: str, body: dict[str, Any]) -> None:
        request = urllib.request.Request(url, data=json.dumps(body).encode(), method="PUT")
        with urllib.request.urlopen(request, context=self.tls) as answer:
            assert answer.status == 200

    def handle(self, event: dict[str, Any], context: Any) -> None:
        self.events.append(event)
        props = event["ResourceProperties"]
        self.put(event["ResponseURL"], {"Status": "SUCCESS", "PhysicalResourceId": "job-1", **_ids(event)})
        if event["RequestType"] == "Create" and "Signal" in props:
            self.clock.call_later(float(props["After"]), lambda: self.put(props["SignalUrl"], props["Signal"]))


def _ids(event: dict[str, Any]) -> dict[str, str]:
    return {key: event[key] for key in ("StackId", "RequestId", "LogicalResourceId")}


@pytest.fixture
def driver() -> Iterator[Driver]:
    with CloudFormationEndpoint() as endpoint:
        yield Driver(endpoint)


def test_a_success_signal_completes_the_stack_after_the_wait_with_its_data(driver: Driver) -> None:
    signal = {"Status": "SUCCESS", "UniqueId": "job-1", "Data": "COMPLETED", "Reason": "done"}
    result = driver.cloudformation.create(template(signal, after=5400))

    assert result.status == "CREATE_COMPLETE"
    assert driver.clock.time() - START == pytest.approx(5400)  # past CloudFormation's one hour for a custom resource
    assert json.loads(result.outputs["Signalled"]) == {"job-1": "COMPLETED"}
    assert [(r.logical_id, r.request_type) for r in result.requests] == [
        ("Handle", "Create"),
        ("Job", "Create"),
        ("Done", "Create"),
    ]
    signal_url = driver.events[0]["ResourceProperties"]["SignalUrl"]
    assert signal_url.startswith("https://127.0.0.1:") and "X-Amz-Signature=" in signal_url


def test_a_failure_signal_rolls_back_with_its_reason(driver: Driver) -> None:
    signal = {"Status": "FAILURE", "UniqueId": "job-1", "Data": "", "Reason": "Manifest index is not available"}
    result = driver.cloudformation.create(template(signal, after=4000))

    assert result.status == "ROLLBACK_COMPLETE"
    done = next(r for r in result.requests if r.logical_id == "Done")
    assert done.response is not None and "Manifest index is not available" in done.response["Reason"]
    deleted = [r.logical_id for r in result.requests if r.request_type == "Delete"]
    assert deleted == ["Done", "Job", "Handle"]  # reverse order; only the custom resource calls the function
    assert [e["RequestType"] for e in driver.events] == ["Create", "Delete"]


def test_no_signal_times_the_condition_out_and_rolls_back(driver: Driver) -> None:
    result = driver.cloudformation.create(template(None, after=0))

    assert result.status == "ROLLBACK_COMPLETE"
    done = next(r for r in result.requests if r.logical_id == "Done")
    assert done.timed_out and done.answered_at is None
    assert driver.clock.time() - START >= TIMEOUT
    assert [e["RequestType"] for e in driver.events] == ["Create", "Delete"]


def test_delete_removes_the_condition_first_and_calls_only_the_custom_resource(driver: Driver) -> None:
    signal = {"Status": "SUCCESS", "UniqueId": "job-1", "Data": "COMPLETED", "Reason": "done"}
    assert driver.cloudformation.create(template(signal, after=60)).status == "CREATE_COMPLETE"

    result = driver.cloudformation.delete()

    assert result.status == "DELETE_COMPLETE"
    assert [r.logical_id for r in result.requests] == ["Done", "Job", "Handle"]
    assert [e["RequestType"] for e in driver.events] == ["Create", "Delete"]


# The URLs' validity ------------------------------------------------------------------------------------------------


def put(endpoint: CloudFormationEndpoint, url: str, body: dict[str, Any]) -> tuple[int, str]:
    """One real HTTPS PUT: the status and the body of the answer."""
    tls = ssl.create_default_context(cafile=str(endpoint.ca_file))
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="PUT")
    try:
        with urllib.request.urlopen(request, context=tls) as answer:
            return int(answer.status), answer.read().decode()
    except urllib.error.HTTPError as refused:
        return int(refused.code), refused.read().decode()


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


SIGNAL = {"Status": "SUCCESS", "UniqueId": "job-1", "Data": "COMPLETED", "Reason": "done"}


def test_each_url_is_signed_with_its_minting_time_and_validity_and_stays_the_same() -> None:
    with CloudFormationEndpoint() as endpoint:
        endpoint.now = lambda: START + 0.75
        response, handle = endpoint.response_url("request-1"), endpoint.handle_url("handle-1")
        endpoint.now = lambda: START + 3600

        minted = datetime.fromtimestamp(START, UTC).strftime("%Y%m%dT%H%M%SZ")
        assert query_of(response)["X-Amz-Date"] == minted and query_of(handle)["X-Amz-Date"] == minted
        assert query_of(response)["X-Amz-Expires"] == str(RESPONSE_URL_EXPIRES_SECONDS) == "7200"
        assert query_of(handle)["X-Amz-Expires"] == str(HANDLE_URL_EXPIRES_SECONDS) == "86399"
        assert query_of(response)["X-Amz-Credential"].split("/")[1] == minted[:8]
        assert endpoint.response_url("request-1") == response  # minted once: the same URL when asked again
        assert query_of(response)["X-Amz-Signature"] == endpoint.signature("request-1")


def test_an_expired_url_is_refused_as_s3_refuses_it_and_a_fresh_one_is_accepted() -> None:
    with CloudFormationEndpoint() as endpoint:
        endpoint.now = lambda: START
        expiring, last_second = endpoint.handle_url("handle-1"), endpoint.handle_url("handle-2")
        endpoint.now = lambda: START + HANDLE_URL_EXPIRES_SECONDS
        assert put(endpoint, last_second, SIGNAL) == (200, "")  # valid up to X-Amz-Date + X-Amz-Expires

        endpoint.now = lambda: START + HANDLE_URL_EXPIRES_SECONDS + 1
        status, body = put(endpoint, expiring, SIGNAL)
        fresh = endpoint.handle_url("handle-3")

        assert status == 403
        error = {child.tag: child.text for child in ElementTree.fromstring(body)}
        assert error["Code"] == "AccessDenied" and error["Message"] == "Request has expired"
        assert error["X-Amz-Expires"] == "86399"
        assert error["Expires"] == datetime.fromtimestamp(START + 86399, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert error["ServerTime"] == datetime.fromtimestamp(START + 86400, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert endpoint.responses_for("handle-1") == []
        assert [(r.url_id, r.code) for r in endpoint.refusals] == [("handle-1", "AccessDenied")]
        assert put(endpoint, fresh, SIGNAL) == (200, "")
        assert endpoint.responses_for("handle-3") == [SIGNAL]


def test_a_url_whose_validity_was_altered_is_refused_for_its_signature() -> None:
    with CloudFormationEndpoint() as endpoint:
        endpoint.now = lambda: START
        url = endpoint.response_url("request-1")
        endpoint.now = lambda: START + 7201
        stretched = url.replace("X-Amz-Expires=7200", "X-Amz-Expires=604800")

        status, body = put(endpoint, stretched, SIGNAL)

        assert status == 403 and "<Code>SignatureDoesNotMatch</Code>" in body
        assert put(endpoint, url, SIGNAL)[0] == 403  # and as minted, it has expired
        assert [r.code for r in endpoint.refusals] == ["SignatureDoesNotMatch", "AccessDenied"]


def test_the_endpoint_closes_each_connection_it_answered() -> None:
    """A TLS connection is closed by the endpoint once answered, not left to the garbage collector (which warns)."""
    with CloudFormationEndpoint() as endpoint, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        url = endpoint.response_url("request-1")
        for _ in range(3):
            assert put(endpoint, url, SIGNAL) == (200, "")
        deadline = time.monotonic() + 10
        while any("process_request_thread" in t.name for t in threading.enumerate()) and time.monotonic() < deadline:
            time.sleep(0.01)  # each connection's thread ends after its answer is sent
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
