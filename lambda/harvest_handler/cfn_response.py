"""Answering CloudFormation: a response body within its limits, PUT to the pre-signed ResponseURL until it lands.

CloudFormation rejects a body over 4096 bytes and keeps 256 characters of Reason (``model.fit_reason``). The S3
URL behind the ResponseURL now and then answers 5xx or drops the connection; crhelper 2.0.12 counts any HTTP answer
(5xx included) as delivered and retries connection errors with ``time.sleep``. Here both are retried with backoff
on the handler clock until the Lambda's time is nearly out. A 4xx is final: the URL has expired, was altered or
its handle deleted, and no later attempt can land (:data:`Delivery.REFUSED`). The URL is a bearer credential: it
is never logged. The wait condition's signal (long-wait mode) goes the same way.
"""

from __future__ import annotations

import http.client
import json
import ssl
from collections.abc import Mapping
from enum import Enum
from urllib.parse import urlsplit, urlunsplit

from harvest_handler import clock as handler_clock
from harvest_handler.logs import logger
from harvest_handler.model import fit_reason
from mediapackage_harvest.contract import spec

MAX_BODY_BYTES = spec.RESPONSE_BODY_MAX_BYTES
SOCKET_TIMEOUT_SECONDS = 10.0
MAX_RETRY_DELAY_SECONDS = 8.0
ANSWER_TRY_SECONDS = float(spec.ANSWER_TRY_SECONDS)  # one invocation's PUT attempts; then the next poll tries
TRANSIENT_4XX = frozenset({408, 429})  # the two 4xx answers a later attempt may get past


class Delivery(Enum):
    """How a PUT ended: landed (2xx), refused for good (4xx), or not delivered yet (5xx, network, out of time)."""

    LANDED = "landed"
    REFUSED = "refused"
    UNDELIVERED = "undelivered"


def response_body(
    *,
    status: str,
    reason: str,
    physical_id: str,
    stack_id: str,
    request_id: str,
    logical_id: str,
    data: Mapping[str, str],
    no_echo: bool = False,
) -> bytes:
    """The JSON body CloudFormation expects, at most 4096 bytes.

    Only Data can push a body over the limit (names are bounded by the spec); rather than let CloudFormation
    reject the response and wait out its timeout, an oversized one becomes FAILED without Data.
    """
    body: dict[str, object] = {
        "Status": status,
        "Reason": fit_reason(reason),
        "PhysicalResourceId": physical_id,
        "StackId": stack_id,
        "RequestId": request_id,
        "LogicalResourceId": logical_id,
        "NoEcho": no_echo,
        "Data": dict(data),
    }
    encoded = json.dumps(body).encode()
    if len(encoded) <= MAX_BODY_BYTES:
        return encoded
    body["Status"], body["Data"] = "FAILED", {}
    body["Reason"] = fit_reason(f"{reason} (the response would be {len(encoded)} bytes, over CloudFormation's 4096)")
    return json.dumps(body).encode()


def put_response(url: str, body: bytes, *, give_up_at: float) -> Delivery:
    """PUT ``body`` to ``url``; retry 5xx and connection errors with backoff until ``give_up_at`` (clock time).

    A 4xx other than 408 and 429 is final: an expired or altered URL will not heal.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            status = _put_once(url, body)
        except (OSError, http.client.HTTPException) as error:
            problem = _describe(error)
        else:
            if 200 <= status < 300:
                logger.info("CloudFormation response delivered", extra={"attempt": attempt, "http_status": status})
                return Delivery.LANDED
            if status < 500 and status not in TRANSIENT_4XX:
                logger.error(
                    "CloudFormation refused the PUT for good (its URL expired, was altered, or its handle is gone); "
                    "not retrying",
                    extra={"http_status": status},
                )
                return Delivery.REFUSED
            problem = f"HTTP {status}"
        delay = min(2.0 ** (attempt - 1), MAX_RETRY_DELAY_SECONDS)
        if handler_clock.current.time() + delay > give_up_at:
            logger.error("CloudFormation response not delivered; out of time", extra={"attempts": attempt})
            return Delivery.UNDELIVERED
        logger.warning(
            "CloudFormation response PUT failed; retrying",
            extra={"attempt": attempt, "problem": problem, "retry_in_seconds": delay},
        )
        handler_clock.current.sleep(delay)


def _put_once(url: str, body: bytes) -> int:
    """One PUT; the HTTP status. ``ssl.create_default_context`` honours SSL_CERT_FILE (the rehearsal's CA)."""
    parts = urlsplit(url)
    target = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    connection = http.client.HTTPSConnection(
        parts.netloc, context=ssl.create_default_context(), timeout=SOCKET_TIMEOUT_SECONDS
    )
    try:
        # The pre-signed URL signs an empty Content-Type: send exactly that.
        connection.request("PUT", target, body=body, headers={"Content-Type": "", "Content-Length": str(len(body))})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def _describe(error: BaseException) -> str:
    """The error's kind and OS reason, never its full text (some exceptions quote the URL)."""
    reason = error.strerror if isinstance(error, OSError) and error.strerror else ""
    return f"{type(error).__name__}: {reason}" if reason else type(error).__name__
