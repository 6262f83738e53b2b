"""The one base of the rehearsal's local servers (``local_server.py``): what a subclass gets by writing
``dispatch`` alone, and the lifecycle every server (emulators, CloudFormation endpoint) relies on."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping

import pytest

from mediapackage_harvest.rehearsal.local_server import LocalServer, Response


class Echo(LocalServer):
    """Answers every request with what it was sent, as the module docstring's example does."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str, str]] = []

    def dispatch(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Response:
        self.seen.append((method, target, headers.get("x-case", "")))
        return Response(201, {"Content-Type": "text/plain", "X-Echo": method}, body)


def test_a_subclass_that_writes_dispatch_serves_every_method_on_a_free_local_port() -> None:
    with Echo() as echo:
        assert echo.url.startswith("http://127.0.0.1:")
        put = urllib.request.Request(f"{echo.url}/a?b=1", data=b"hi", method="PUT", headers={"X-Case": "Upper"})
        with urllib.request.urlopen(put) as answer:
            assert (answer.status, answer.read(), answer.headers["X-Echo"]) == (201, b"hi", "PUT")
        with urllib.request.urlopen(f"{echo.url}/c") as answer:
            assert answer.read() == b""
        assert echo.seen == [("PUT", "/a?b=1", "Upper"), ("GET", "/c", "")]  # header names arrive lower-case


def test_start_is_idempotent_and_stop_frees_the_port() -> None:
    echo = Echo()
    with pytest.raises(RuntimeError, match="Echo is not running"):
        _ = echo.url
    assert echo.start() is echo
    url = echo.url
    assert echo.start().url == url  # already running: the same server
    echo.stop()
    echo.stop()  # stopping a stopped server does nothing
    with pytest.raises(RuntimeError):
        _ = echo.url
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=5)
