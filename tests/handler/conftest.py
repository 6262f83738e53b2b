"""Fixtures for the handler tests: the handler's modules importable, its clock, clients and response CA set per
test through its own seams (``harvest_handler.clock.use``, ``harvest_handler.aws_clients.use``, ``SSL_CERT_FILE``)."""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
for path in (REPO / "lambda", REPO):  # `index` and `harvest_handler`; `tests.handler.fakes` for the tests
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import boto3  # noqa: E402
from botocore.stub import Stubber  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

from harvest_handler import aws_clients  # noqa: E402
from harvest_handler import clock as handler_clock  # noqa: E402
from mediapackage_harvest.contract import spec  # noqa: E402
from tests.handler.fakes import RULE_PREFIX, FakeClock, Harness  # noqa: E402
from tests.reliability.faults.responses import FlakyEndpoint  # noqa: E402

CREDENTIALS = {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture(scope="session")
def endpoint() -> Iterator[FlakyEndpoint]:
    with FlakyEndpoint() as running:
        yield running


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    fake = FakeClock()
    handler_clock.use(fake)
    yield fake
    handler_clock.use(handler_clock.SystemClock())


@pytest.fixture
def harness(
    clock: FakeClock, endpoint: FlakyEndpoint, moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Harness]:
    """The handler wired to a Stubber (MediaPackage v2), moto (EventBridge) and the response endpoint."""
    endpoint.reset()
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")).close()
    monkeypatch.setenv("SSL_CERT_FILE", str(endpoint.ca_file))
    monkeypatch.setenv(spec.POLL_RULE_PREFIX_ENV, RULE_PREFIX)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    mediapackage = boto3.client("mediapackagev2", **CREDENTIALS)  # type: ignore[call-overload]
    events = boto3.client("events", endpoint_url=moto_url, **CREDENTIALS)  # type: ignore[call-overload]
    clients = {"mediapackagev2": mediapackage, "events": events}
    aws_clients.use(clients.__getitem__)
    with Stubber(mediapackage) as stubber:
        yield Harness(clock, endpoint, stubber, events)
        stubber.assert_no_pending_responses()
    aws_clients.use(None)
