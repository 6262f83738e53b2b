"""Where the handler gets its AWS clients: built on first use, once per process, by one replaceable factory.

No client is built at import: each costs tens of milliseconds of cold start, and a Delete of a failed create
needs none. Tests and the deploy rehearsal hand in their own clients (a botocore Stubber, moto, the emulator)
with :func:`use`; :func:`reset` drops the cached ones so the next call rebuilds them (new endpoints, new
environment).

Throttling and InternalServer errors are retried by botocore's standard retry mode, configured the documented
way (``Config(retries=...)``). The deploy rehearsal paces those retries on its virtual clock by hooking the
clients its own factory builds; production clients are plain.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_mediapackagev2 import Mediapackagev2Client

ClientFactory = Callable[[str], Any]

RETRY_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8}, connect_timeout=5, read_timeout=20)


def build_client(service_name: str) -> Any:
    """A boto3 client for the function's own region, with botocore's standard retries."""
    return boto3.client(service_name, region_name=os.environ.get("AWS_REGION"), config=RETRY_CONFIG)  # type: ignore[call-overload]


_factory: ClientFactory = build_client
_clients: dict[str, Any] = {}
_lock = threading.Lock()


def client(service_name: str) -> Any:
    """The cached client for ``service_name``, built by the current factory on first use."""
    with _lock:
        if service_name not in _clients:
            _clients[service_name] = _factory(service_name)
        return _clients[service_name]


def mediapackagev2() -> Mediapackagev2Client:
    return cast("Mediapackagev2Client", client("mediapackagev2"))


def events() -> EventBridgeClient:
    return cast("EventBridgeClient", client("events"))


def use(factory: ClientFactory | None) -> None:
    """Build clients with ``factory`` from now on (None: boto3 again); cached clients are dropped."""
    global _factory
    with _lock:
        _factory = factory or build_client
        _clients.clear()


def reset() -> None:
    """Drop cached clients; the next call builds new ones with the current factory."""
    with _lock:
        _clients.clear()
