"""The pre-signed response URL misbehaving: :class:`FlakyEndpoint` fails the next PUTs of a request with an HTTP
status or a dropped connection (S3's occasional 5xx), :class:`LateListener` refuses connections for a while (a port
nothing listens on until it opens)."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass

from mediapackage_harvest.rehearsal.cfn_endpoint import CloudFormationEndpoint, Failure


@dataclass
class _Planned:
    times: int
    status: int | None  # None: drop the connection without answering


class FlakyEndpoint(CloudFormationEndpoint):
    """The rehearsal's response endpoint, told to fail the next PUTs of a request; it counts every PUT."""

    def __init__(self) -> None:
        super().__init__()
        self._attempts: dict[str, int] = {}
        self._planned: dict[str, _Planned] = {}
        self._plan_lock = threading.Lock()

    def fail_next(self, request_id: str, times: int = 1, status: int | None = 500) -> None:
        """Fail the next ``times`` PUTs for ``request_id``: answer ``status``, or drop the connection if None."""
        with self._plan_lock:
            self._planned[request_id] = _Planned(times, status)

    def attempts_for(self, request_id: str) -> int:
        """PUTs that reached the endpoint for ``request_id``, failed ones included."""
        with self._plan_lock:
            return self._attempts.get(request_id, 0)

    def reset(self) -> None:
        """Forget everything received, every PUT counted and every planned failure."""
        super().reset()
        with self._plan_lock:
            self._attempts.clear()
            self._planned.clear()

    def failure_for(self, request_id: str) -> Failure | None:
        with self._plan_lock:
            self._attempts[request_id] = self._attempts.get(request_id, 0) + 1
            planned = self._planned.get(request_id)
            if planned is None or planned.times <= 0:
                return None
            planned.times -= 1
            return Failure(planned.status)


class LateListener:
    """A local port nothing listens on (connections are refused) until :meth:`open`; from then on it passes each
    connection through to ``target_port``, byte for byte (TLS included)."""

    def __init__(self, target_port: int) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self.target_port = target_port
        self._server: socket.socket | None = None

    def open(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(16)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True, name="late-listener").start()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            done = threading.Semaphore(0)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink, done), daemon=True).start()
            threading.Thread(target=_close_after, args=(done, client, upstream), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket, done: threading.Semaphore) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    finally:
        done.release()


def _close_after(done: threading.Semaphore, *connections: socket.socket) -> None:
    for _ in range(2):
        done.acquire()
    for connection in connections:
        connection.close()
