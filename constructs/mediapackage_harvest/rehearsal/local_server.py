"""One base for the rehearsal's local servers: a threaded HTTP server on 127.0.0.1 at a free port.

The MediaPackage emulators and the HTTPS CloudFormation endpoint (and any other stand-in the rehearsal needs)
share the same life: bind a free port, serve on a daemon thread, stop on exit, tell clients the URL. A server
that answers every request through one method only writes :meth:`LocalServer.dispatch`::

    class Echo(LocalServer):
        def dispatch(self, method, target, headers, body):
            return Response(200, {"Content-Type": "text/plain"}, body)

    with Echo() as echo:
        urllib.request.urlopen(echo.url, data=b"hi").read()  # b"hi"

A server that needs its own socket handling (TLS, a hand-written request handler) overrides :meth:`_bind`.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Response:
    """An HTTP answer, kept apart from the socket so what builds it can be tested without a server."""

    status: int
    headers: dict[str, str]
    body: bytes = b""


Dispatch = Callable[[str, str, Mapping[str, str], bytes], Response]


def dispatching_handler(dispatch: Dispatch) -> type[BaseHTTPRequestHandler]:
    """A request handler that hands every request (any method) to ``dispatch`` and writes its :class:`Response`.

    ``dispatch`` gets the method, the raw target (path and query), the headers with lower-case names (HTTP
    header names are case-insensitive) and the body."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as boto3's connection pool expects
        disable_nagle_algorithm = True  # headers and body go out in two writes; don't wait 40 ms between them

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            response = dispatch(self.command, self.path, headers, body)
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if response.body and self.command != "HEAD":
                self.wfile.write(response.body)

        # BaseHTTPRequestHandler looks these names up; every method goes through the same dispatch.
        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _answer  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: each server keeps its own log of what it answered."""

    return Handler


class _Server(ThreadingHTTPServer):
    """A client that goes away mid-connection (a killed process, a timed-out call) is not the server's error."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exception(), ConnectionError):
            super().handle_error(request, client_address)


class LocalServer:
    """Start/stop/URL/context manager for a server on 127.0.0.1 at a free port, served on a daemon thread.

    A subclass gives :meth:`dispatch` (the default server hands it every request) or overrides :meth:`_bind`
    to build its own server; ``scheme`` is the URL's scheme.
    """

    scheme = "http"

    def __init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def dispatch(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Response:
        """Answer one request (see :func:`dispatching_handler`); needed only by the default :meth:`_bind`."""
        raise NotImplementedError

    def _bind(self) -> ThreadingHTTPServer:
        """The server, bound to a free port on 127.0.0.1 and not yet serving."""
        return _Server((HOST, 0), dispatching_handler(self.dispatch))

    def start(self) -> Self:
        """Serve on a free local port (once; starting a running server does nothing)."""
        if self._server is None:
            server = self._bind()
            # A short poll interval: stop() waits for one.
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name=type(self).__name__
            )
            thread.start()
            self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop serving and free the port; the URL is gone until the next start()."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join()
            self._server = self._thread = None

    @property
    def url(self) -> str:
        """Where clients reach the server, e.g. ``http://127.0.0.1:54321`` (no trailing slash)."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not running: use it as a context manager or call start()")
        return f"{self.scheme}://{HOST}:{self._server.server_address[1]}"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
