"""botocore's standard retries, as the handler builds its clients: throttling is retried with botocore's own
backoff; with the rehearsal's hook on a client, the backoff waits on the handler clock (so the rehearsal's virtual
time, and this test's fake time, see it)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from harvest_handler import aws_clients
from harvest_handler import clock as handler_clock
from mediapackage_harvest.rehearsal.lambda_runtime import pace_retries_on_clock
from tests.handler.fakes import FakeClock, key


class _Throttling(BaseHTTPRequestHandler):
    """GetHarvestJob that answers ThrottlingException to the first ``throttles`` calls."""

    throttles = 2
    calls = 0

    def do_GET(self) -> None:
        type(self).calls += 1
        if type(self).calls <= self.throttles:
            self._reply(429, {"message": "Rate exceeded"}, {"x-amzn-ErrorType": "ThrottlingException"})
            return
        name = self.path.rsplit("/", 1)[-1]
        self._reply(
            200,
            {
                "ChannelGroupName": "live",
                "ChannelName": "main",
                "OriginEndpointName": "hls",
                "Destination": {"S3Destination": {"BucketName": "harvest-clips", "DestinationPath": "clips/"}},
                "HarvestJobName": name,
                "HarvestedManifests": {"HlsManifests": [{"ManifestName": "index"}]},
                "ScheduleConfiguration": {"StartTime": 1767218400, "EndTime": 1767220200},
                "Arn": f"arn:aws:mediapackagev2:us-east-1:123456789012:channelGroup/live/channel/main/"
                f"originEndpoint/hls/harvestJob/{name}",
                "CreatedAt": 1767225601,
                "ModifiedAt": 1767225630,
                "Status": "COMPLETED",
            },
            {},
        )

    def _reply(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def throttling_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Throttling]]:
    _Throttling.calls, _Throttling.throttles = 0, 2
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Throttling)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_MEDIAPACKAGEV2", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    yield _Throttling
    server.shutdown()
    server.server_close()


def paced_client() -> Any:
    """A production client with the rehearsal's hook: retry backoff waits on the handler clock."""
    client = aws_clients.build_client("mediapackagev2")
    pace_retries_on_clock(client, lambda seconds: handler_clock.current.sleep(seconds))
    return client


def test_production_clients_use_botocores_documented_standard_retries(
    clock: FakeClock, throttling_endpoint: type[_Throttling]
) -> None:
    throttling_endpoint.throttles = 1
    client = aws_clients.build_client("mediapackagev2")

    response = client.get_harvest_job(**key("clip"))

    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 9}
    assert response["ResponseMetadata"]["RetryAttempts"] == 1
    assert clock.sleeps == []  # botocore waits its own backoff; nothing of the rehearsal's is hooked in


def test_throttling_is_retried_with_backoff_on_the_handler_clock(
    clock: FakeClock, throttling_endpoint: type[_Throttling]
) -> None:
    client = paced_client()
    began = time.monotonic()

    response = client.get_harvest_job(**key("clip"))

    assert response["Status"] == "COMPLETED"
    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    assert throttling_endpoint.calls == 3
    assert len(clock.sleeps) == 2 and all(0 <= delay <= 20 for delay in clock.sleeps)
    assert time.monotonic() - began < 2  # no real backoff sleeping


def test_a_request_is_retried_eight_times_at_most(clock: FakeClock, throttling_endpoint: type[_Throttling]) -> None:
    throttling_endpoint.throttles = 100
    client = paced_client()

    with pytest.raises(client.exceptions.ThrottlingException):
        client.get_harvest_job(**key("clip"))

    assert throttling_endpoint.calls == 9  # botocore's max_attempts counts retries
    assert len(clock.sleeps) == 8
