"""Services that hang: an attempt gets no answer within botocore's read timeout. It waits out that timeout on the
handler clock and fails with botocore's own ``ReadTimeoutError``, which botocore retries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ReadTimeoutError

from mediapackage_harvest.rehearsal.lambda_runtime import handler_module
from mediapackage_harvest.rehearsal.virtual_clock import VirtualClock


@dataclass(frozen=True)
class Hang:
    """``operation`` (e.g. "mediapackagev2.GetHarvestJob") gives no answer while virtual time is in [start, end)
    (seconds since the rehearsal began)."""

    operation: str
    start: float
    end: float


def hang_calls(client: Any, hangs: Sequence[Hang], clock: VirtualClock, origin: float) -> None:
    """Make ``client``'s attempts of the hung operations wait out botocore's read timeout on the handler clock,
    then fail with ``ReadTimeoutError`` (botocore retries it, as it would retry a silent service)."""
    service_id = client.meta.service_model.service_id.hyphenize()
    service_name = client.meta.service_model.service_name
    read_timeout = float(client.meta.config.read_timeout)
    for hang in hangs:
        service, _, operation = hang.operation.partition(".")
        if service != service_name:
            continue

        def before_send(request: Any, hang: Hang = hang, **kwargs: Any) -> None:
            if hang.start <= clock.time() - origin < hang.end:
                handler_module("clock").current.sleep(read_timeout)  # Lambda's clock: ends at timeout
                raise ReadTimeoutError(endpoint_url=request.url)

        client.meta.events.register(f"before-send.{service_id}.{operation}", before_send)
