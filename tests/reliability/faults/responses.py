"""The pre-signed response URL's host refusing connections for a while: :class:`LateListener`, a port nothing
listens on until it opens. (Failing PUTs with 5xx answers or dropped connections is the local endpoint's own
``fail_next``.)"""

from __future__ import annotations

import socket
import threading


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
