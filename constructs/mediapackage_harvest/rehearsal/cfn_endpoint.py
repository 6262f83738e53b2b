"""CloudFormation's side of a custom-resource response: a local HTTPS server playing the pre-signed ResponseURL.

CloudFormation hands a custom resource an S3 pre-signed URL and waits for one JSON body PUT to it. This server
plays that URL on 127.0.0.1 with a certificate from a throwaway trustme CA, so the handler's unmodified HTTPS PUT
(certificate checks on) reaches it once the process trusts ``ca_file`` (``SSL_CERT_FILE=<ca_file>``). It checks
the URL's signature like S3 would and records every accepted body in arrival order. A subclass can answer some PUTs
otherwise (:meth:`CloudFormationEndpoint.failure_for`), as this repository's fault tests do.

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
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socket import socket
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import trustme

from mediapackage_harvest.rehearsal.local_server import HOST, LocalServer

PATH_PREFIX = "/cloudformation-custom-resource-response/"
_SIGNING_KEY = b"rehearsal-only"  # not a secret: it only makes each URL's signature distinct and checkable
_ACCESS_KEY = "AKIAREHEARSAL0000000"


@dataclass(frozen=True)
class ReceivedResponse:
    """One PUT the endpoint accepted, for the request it answers."""

    request_id: str
    body: dict[str, Any]


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
        self._dir: Path | None = None
        self.ca_file = Path()

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
        """A URL shaped like CloudFormation's pre-signed S3 URL, unique to ``request_id``."""
        query = "&".join(
            [
                "X-Amz-Algorithm=AWS4-HMAC-SHA256",
                f"X-Amz-Credential={quote(f'{_ACCESS_KEY}/20260101/us-east-1/s3/aws4_request', safe='')}",
                "X-Amz-Date=20260101T000000Z",
                "X-Amz-Expires=7200",
                "X-Amz-SignedHeaders=host",
                f"X-Amz-Signature={self.signature(request_id)}",
            ]
        )
        return f"{self.url}{PATH_PREFIX}{quote(request_id, safe='')}?{query}"

    @staticmethod
    def signature(request_id: str) -> str:
        """The ``X-Amz-Signature`` in ``response_url(request_id)``: what a log-leak test searches for."""
        return hmac.new(_SIGNING_KEY, request_id.encode(), hashlib.sha256).hexdigest()

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
        signature = parse_qs(parts.query).get("X-Amz-Signature", [""])[0]
        if not hmac.compare_digest(signature, endpoint.signature(request_id)):
            self._answer(403, "SignatureDoesNotMatch")
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
        payload = f"<Error><Code>{code}</Code></Error>".encode() if code else b""
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the default writes each request line, pre-signed query string included, to stderr."""
