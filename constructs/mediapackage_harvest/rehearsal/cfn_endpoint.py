"""CloudFormation's side of a custom-resource response: a local HTTPS server playing the pre-signed ResponseURL.

CloudFormation hands a custom resource an S3 pre-signed URL and waits for one JSON body PUT to it. This server
plays that URL on 127.0.0.1 with a certificate from a throwaway trustme CA, so the handler's unmodified HTTPS PUT
(certificate checks on) reaches it once the process trusts ``ca_file`` (``SSL_CERT_FILE=<ca_file>``). It checks
the URL's signature like S3 would and records every accepted body in arrival order. A subclass can answer some PUTs
otherwise (:meth:`CloudFormationEndpoint.failure_for`), as this repository's fault tests do.

Each URL is minted once, in the shape of a SigV4 pre-signed query (``X-Amz-Date`` the time it was minted on
:attr:`CloudFormationEndpoint.now`, ``X-Amz-Expires``, a signature over both), and a PUT after ``X-Amz-Date +
X-Amz-Expires`` is refused as S3 refuses it: 403 ``AccessDenied`` "Request has expired". CloudFormation documents
no validity for either URL; the ones here are what real URLs carry (:data:`RESPONSE_URL_EXPIRES_SECONDS` for a
ResponseURL, counted from the request; :data:`HANDLE_URL_EXPIRES_SECONDS` for a wait condition handle's, counted
from the handle's creation), said as the rehearsal's assumptions (:data:`RESPONSE_URL_ASSUMED`,
:data:`HANDLE_URL_ASSUMED`).

    with CloudFormationEndpoint() as endpoint:
        os.environ["SSL_CERT_FILE"] = str(endpoint.ca_file)
        event["ResponseURL"] = endpoint.response_url(request_id)
        ...
        assert endpoint.responses_for(request_id)[0]["Status"] == "SUCCESS"
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socket import socket
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit
from xml.sax.saxutils import escape

import trustme

from mediapackage_harvest.rehearsal.local_server import HOST, LocalServer

PATH_PREFIX = "/cloudformation-custom-resource-response/"
_SIGNING_KEY = b"rehearsal-only"  # not a secret: it only makes each URL's signature distinct and checkable
_ACCESS_KEY = "AKIAREHEARSAL0000000"
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
# What real pre-signed URLs carry (CloudFormation documents neither): a ResponseURL's X-Amz-Expires, counted from the
# request, and a wait condition handle's (24 hours less a second), counted from the handle's creation.
RESPONSE_URL_EXPIRES_SECONDS = 7200
HANDLE_URL_EXPIRES_SECONDS = 86399
RESPONSE_URL_ASSUMED = (
    f"rehearsal: a custom resource's ResponseURL is valid for {RESPONSE_URL_EXPIRES_SECONDS} s from the request "
    "(X-Amz-Expires as observed; CloudFormation documents no validity): a later PUT is refused, 403 AccessDenied"
)
HANDLE_URL_ASSUMED = (
    f"rehearsal: a wait condition handle's URL is valid for {HANDLE_URL_EXPIRES_SECONDS} s from the handle's creation "
    "(X-Amz-Expires as observed; CloudFormation documents no validity): a later signal is refused, 403 AccessDenied"
)


@dataclass(frozen=True)
class ReceivedResponse:
    """One PUT the endpoint accepted, for the request it answers."""

    request_id: str
    body: dict[str, Any]


@dataclass(frozen=True)
class RefusedPut:
    """One PUT the endpoint refused on its own account (not a planned :class:`Failure`): for the URL ``url_id``
    (a request id, or a handle's id), at ``at`` on :attr:`CloudFormationEndpoint.now`, with S3's error code."""

    url_id: str
    at: float
    code: str


@dataclass(frozen=True)
class _Minted:
    """A URL's signed query: when it was minted (``X-Amz-Date``, whole seconds) and for how long it is valid."""

    date: int
    expires: int

    @property
    def amz_date(self) -> str:
        return datetime.fromtimestamp(self.date, UTC).strftime(_AMZ_DATE)


@dataclass(frozen=True)
class Failure:
    """How one PUT is refused: an HTTP status, or ``None`` to drop the connection without answering."""

    status: int | None


class CloudFormationEndpoint(LocalServer):
    """The local stand-in for CloudFormation's pre-signed response URLs; see the module docstring."""

    scheme = "https"

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._received: list[ReceivedResponse] = []
        self._minted: dict[str, _Minted] = {}
        self.refusals: list[RefusedPut] = []
        """The PUTs refused for a bad signature or an expired URL, in arrival order."""
        self._dir: Path | None = None
        self.ca_file = Path()
        self.now: Callable[[], float] = time.time
        """The clock a URL is minted and its expiry judged on (the rehearsal sets its virtual clock's)."""

    # Lifecycle ---------------------------------------------------------------------------------------------
    def _bind(self) -> ThreadingHTTPServer:
        """Issue the certificate, write the CA's PEM to ``ca_file``; a TLS server on a free port."""
        ca = trustme.CA()
        self._dir = Path(tempfile.mkdtemp(prefix="cfn-endpoint-"))
        self.ca_file = self._dir / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(HOST, "localhost").configure_cert(context)
        return _TlsServer((HOST, 0), _Handler, context, self)

    def stop(self) -> None:
        """Stop serving and delete the certificate files."""
        super().stop()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    # What a test or the rehearsal uses ---------------------------------------------------------------------
    def response_url(self, request_id: str) -> str:
        """A URL shaped like CloudFormation's pre-signed S3 ResponseURL, unique to ``request_id``, valid for
        :data:`RESPONSE_URL_EXPIRES_SECONDS` from its first minting (asking again gives the same URL)."""
        return self._url(request_id, RESPONSE_URL_EXPIRES_SECONDS)

    def handle_url(self, handle_id: str) -> str:
        """A wait condition handle's pre-signed URL (its Ref), valid for :data:`HANDLE_URL_EXPIRES_SECONDS` from
        its first minting, which is the handle's creation."""
        return self._url(handle_id, HANDLE_URL_EXPIRES_SECONDS)

    def signature(self, url_id: str) -> str:
        """The ``X-Amz-Signature`` in the URL minted for ``url_id`` (a ResponseURL when none was minted yet): what
        a log-leak test searches for."""
        return _sign(url_id, self._mint(url_id, RESPONSE_URL_EXPIRES_SECONDS))

    def _url(self, url_id: str, expires: int) -> str:
        minted = self._mint(url_id, expires)
        scope = f"{_ACCESS_KEY}/{minted.amz_date[:8]}/us-east-1/s3/aws4_request"
        query = "&".join(
            [
                "X-Amz-Algorithm=AWS4-HMAC-SHA256",
                f"X-Amz-Credential={quote(scope, safe='')}",
                f"X-Amz-Date={minted.amz_date}",
                f"X-Amz-Expires={minted.expires}",
                "X-Amz-SignedHeaders=host",
                f"X-Amz-Signature={_sign(url_id, minted)}",
            ]
        )
        return f"{self.url}{PATH_PREFIX}{quote(url_id, safe='')}?{query}"

    def _mint(self, url_id: str, expires: int) -> _Minted:
        with self._lock:
            minted = self._minted.get(url_id)
            if minted is None:
                minted = self._minted[url_id] = _Minted(int(self.now()), expires)
            return minted

    def responses_for(self, request_id: str) -> list[dict[str, Any]]:
        """The bodies accepted for ``request_id``, oldest first (CloudFormation acts on the first)."""
        with self._lock:
            return [r.body for r in self._received if r.request_id == request_id]

    def reset(self) -> None:
        """Forget everything received."""
        with self._lock:
            self._received.clear()

    def failure_for(self, request_id: str) -> Failure | None:
        """How to refuse this well-signed PUT for ``request_id``; None (always, here) to accept it."""
        return None

    # Called by the request handler -------------------------------------------------------------------------
    def _record(self, request_id: str, body: dict[str, Any]) -> None:
        with self._lock:
            self._received.append(ReceivedResponse(request_id, body))

    def _refuse(self, url_id: str, at: float, code: str) -> None:
        with self._lock:
            self.refusals.append(RefusedPut(url_id, at, code))


def _sign(url_id: str, minted: _Minted) -> str:
    """The signature covers the URL's id, date and validity: an altered ``X-Amz-Expires`` does not match."""
    text = f"{url_id}\n{minted.amz_date}\n{minted.expires}"
    return hmac.new(_SIGNING_KEY, text.encode(), hashlib.sha256).hexdigest()


def _expired_body(minted: _Minted, now: float) -> bytes:
    """S3's answer to a pre-signed URL used after ``X-Amz-Date + X-Amz-Expires``."""

    def iso(at: float) -> str:
        return datetime.fromtimestamp(int(at), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    fields = {
        "Code": "AccessDenied",
        "Message": "Request has expired",
        "X-Amz-Expires": str(minted.expires),
        "Expires": iso(minted.date + minted.expires),
        "ServerTime": iso(now),
        "RequestId": "REHEARSAL0000000",
        "HostId": "rehearsal",
    }
    inner = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in fields.items())
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>{inner}</Error>'.encode()


class _TlsServer(ThreadingHTTPServer):
    """Each connection's TLS handshake runs in that connection's own thread, so one stalled client blocks none."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        context: ssl.SSLContext,
        endpoint: CloudFormationEndpoint,
    ) -> None:
        super().__init__(address, handler)
        self.context = context
        self.endpoint = endpoint

    def finish_request(self, request: Any, client_address: Any) -> None:
        assert isinstance(request, socket)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a client that does not trust the CA: it sees the handshake fail, as it would against S3
        with tls:  # the TLS socket owns the connection now: shutdown_request's close of `request` would not close it
            _Handler(tls, client_address, self)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: the default prints a traceback to stderr."""


class _Handler(BaseHTTPRequestHandler):
    server: _TlsServer

    def do_PUT(self) -> None:
        endpoint = self.server.endpoint
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if not parts.path.startswith(PATH_PREFIX):
            self._answer(404, "NoSuchKey")
            return
        request_id = parts.path.removeprefix(PATH_PREFIX)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        now = endpoint.now()
        minted = _signed(query)
        if minted is None or not hmac.compare_digest(query.get("X-Amz-Signature", ""), _sign(request_id, minted)):
            endpoint._refuse(request_id, now, "SignatureDoesNotMatch")
            self._answer(403, "SignatureDoesNotMatch")
            return
        if now > minted.date + minted.expires:
            endpoint._refuse(request_id, now, "AccessDenied")
            self._send(403, _expired_body(minted, now))
            return
        failure = endpoint.failure_for(request_id)
        if failure is not None:
            if failure.status is None:
                self.close_connection = True
                return
            self._answer(failure.status, "InternalError")
            return
        try:
            body = json.loads(raw)
        except ValueError:
            self._answer(400, "MalformedJSON")
            return
        endpoint._record(request_id, body if isinstance(body, dict) else {"_not_an_object": body})
        self._answer(200, "")

    def _answer(self, status: int, code: str) -> None:
        self._send(status, f"<Error><Code>{code}</Code></Error>".encode() if code else b"")

    def _send(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        if payload:
            self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the default writes each request line, pre-signed query string included, to stderr."""


def _signed(query: dict[str, str]) -> _Minted | None:
    """The date and validity a URL's query claims (its signature says whether they are the ones minted)."""
    try:
        date = datetime.strptime(query.get("X-Amz-Date", ""), _AMZ_DATE).replace(tzinfo=UTC)
        return _Minted(int(date.timestamp()), int(query.get("X-Amz-Expires", "")))
    except ValueError:
        return None
