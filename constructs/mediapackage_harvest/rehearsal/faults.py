"""Faults around the handler for the deploy rehearsal, beyond what the MediaPackage emulator scripts itself.

The emulator's :class:`~mediapackage_harvest.rehearsal.scenario.Scenario` makes MediaPackage answer errors. This
module makes the rest of the world misbehave, each the way the real one does:

- :class:`EventBridgeFaults`: a local HTTP proxy in front of moto's EventBridge that answers scripted errors in
  EventBridge's own JSON 1.1 wire format (codes checked against botocore's model), so the handler's unmodified
  botocore client serializes, sends, parses and retries exactly as it would against AWS.
- :class:`Hang`: a service that does not answer within botocore's read timeout. The attempt waits out that
  timeout on the handler clock and fails with botocore's own ``ReadTimeoutError``, which botocore retries.
- :class:`LambdaFaults`: what Lambda itself does. It always ends an invocation at its timeout (the invocation's
  threads never run again) and retries an invocation that timed out as often as the function's
  ``MaximumRetryAttempts`` allows; when asked, it delivers every EventBridge poll twice or drops EventBridge's
  polls for a while. (A CloudFormation request delivered twice is the harness's ``duplicate_deliveries``.)
- The pre-signed response URL failing the first PUTs of every request (``response_failures``: 5xx answers or
  dropped connections), or its host refusing connections until a given time (``refuse_responses_until``: a
  :class:`LateListener` nothing listens on before then).
- :class:`FaultRehearsal`: a :class:`~mediapackage_harvest.rehearsal.harness.Rehearsal` with all of them in place.

    with FaultRehearsal(scenario, eventbridge_faults=[Fault("PutRule", "InternalException")]) as rehearsal:
        result = rehearsal.deploy(template)
"""

from __future__ import annotations

import contextvars
import copy
import http.client
import importlib
import json
import os
import socket
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import botocore.session
from botocore.exceptions import ReadTimeoutError

from mediapackage_harvest.rehearsal.cloudformation import LambdaFunction
from mediapackage_harvest.rehearsal.harness import Rehearsal
from mediapackage_harvest.rehearsal.scenario import Fault, Scenario
from mediapackage_harvest.rehearsal.template import Template
from mediapackage_harvest.rehearsal.timeline import Timeline
from mediapackage_harvest.rehearsal.virtual_clock import VirtualClock

POLL_FLAG = "CrHelperPoll"  # crhelper's mark on an event that EventBridge delivered
LAMBDA_DEFAULT_RETRIES = 2  # Lambda retries a failed asynchronous invocation twice unless configured otherwise
LAMBDA_RETRY_DELAYS = (60.0, 120.0)  # "with a delay of one minute, then two minutes" (Lambda's documentation)


# EventBridge ---------------------------------------------------------------------------------------------------


def eventbridge_error_codes(operation: str) -> list[str]:
    """The errors botocore's ``events`` model declares for ``operation``, in model order."""
    model = botocore.session.get_session().get_service_model("events")
    return [shape.name for shape in model.operation_model(operation).error_shapes]


@dataclass(frozen=True)
class ProxiedCall:
    """One EventBridge request as the proxy saw it: ``code`` is the scripted error, empty when moto answered."""

    at: float
    operation: str
    rule: str
    status: int
    code: str = ""


class EventBridgeFaults:
    """A proxy to moto's EventBridge that fails the calls ``faults`` script (see the module docstring).

    A fault's ``job_name`` pattern, when given, is matched against the rule the call names; attempts count per
    operation (or per operation and rule, with a pattern), as the emulator counts them. :meth:`heal` ends every
    fault, for a rehearsal that checks what the handler does once an outage is over.
    """

    def __init__(self, target_url: str, faults: Sequence[Fault] = (), clock: VirtualClock | None = None) -> None:
        for fault in faults:
            codes = eventbridge_error_codes(fault.operation)
            if fault.code not in codes:
                raise ValueError(f"{fault.operation} cannot answer {fault.code}; its model lists {codes}")
        self.target = urlsplit(target_url)
        self.faults = list(faults)
        self.clock = clock
        self.calls: list[ProxiedCall] = []
        self._attempts: dict[tuple[str, str | None], int] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> EventBridgeFaults:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
            disable_nagle_algorithm = True  # headers and body go out in two writes; don't wait 40 ms between them

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, headers, payload = proxy.answer(dict(self.headers.items()), body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: ``calls`` is the log."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name="eventbridge-faults"
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> EventBridgeFaults:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the proxy is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def heal(self) -> None:
        """No more scripted errors from now on."""
        with self._lock:
            self.faults.clear()

    def answer(self, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        """A scripted error in JSON 1.1 form, or moto's own answer."""
        operation = next((v for k, v in headers.items() if k.lower() == "x-amz-target"), "").rpartition(".")[2]
        request = json.loads(body or b"{}")
        rule = str(request.get("Name") or request.get("Rule") or "")
        at = self.clock.time() if self.clock else 0.0
        fault = self._fault_for(operation, rule)
        if fault is not None:
            status = 500 if fault.code == "InternalException" else 400
            message = fault.message or f"Scripted {fault.code} from the rehearsal's EventBridge"
            payload = json.dumps({"__type": fault.code, "message": message}).encode()
            self._record(ProxiedCall(at, operation, rule, status, fault.code))
            return status, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "rehearsal"}, payload
        status, answer_headers, payload = self._forward(headers, body)
        self._record(ProxiedCall(at, operation, rule, status))
        return status, answer_headers, payload

    def _fault_for(self, operation: str, rule: str) -> Fault | None:
        with self._lock:
            per_operation = self._count((operation, None))
            per_rule = self._count((operation, rule))
            for fault in self.faults:
                attempt = per_operation if fault.job_name is None else per_rule
                if fault.matches(operation, rule) and fault.fails(attempt):
                    return fault
        return None

    def _count(self, key: tuple[str, str | None]) -> int:
        self._attempts[key] = self._attempts.get(key, 0) + 1
        return self._attempts[key]

    def _record(self, call: ProxiedCall) -> None:
        with self._lock:
            self.calls.append(call)

    def _forward(self, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(str(self.target.hostname), self.target.port, timeout=30)
        try:
            skip = {"host", "content-length", "connection"}
            forwarded = {k: v for k, v in headers.items() if k.lower() not in skip}
            connection.request("POST", "/", body=body, headers=forwarded)
            response = connection.getresponse()
            payload = response.read()
            kept = {k: v for k, v in response.getheaders() if k.lower() not in {"content-length", "connection"}}
            return response.status, kept, payload
        finally:
            connection.close()


# Services that hang ---------------------------------------------------------------------------------------------


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
                _clock_sleep(read_timeout)
                raise ReadTimeoutError(endpoint_url=request.url)

        client.meta.events.register(f"before-send.{service_id}.{operation}", before_send)


def _clock_sleep(seconds: float) -> None:
    """Wait on the handler's clock (the rehearsal installs one that ends invocations at their timeout)."""
    importlib.import_module("handler_clock").current.sleep(seconds)


# Lambda ----------------------------------------------------------------------------------------------------------


class InvocationEnded(BaseException):
    """Raised in an invocation's threads when Lambda ends it: a BaseException, so the handler's ``except
    Exception`` blocks cannot answer CloudFormation from beyond the grave."""


_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("lambda_deadline", default=None)


class LambdaClock:
    """The handler clock inside a rehearsal: the virtual clock, but a wait that reaches the current invocation's
    timeout never returns (Lambda has ended the invocation), and a timer due after it never fires."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock

    def time(self) -> float:
        return self.clock.time()

    def sleep(self, seconds: float) -> None:
        deadline = _deadline.get()
        if deadline is not None and self.clock.time() + seconds >= deadline:
            self.clock.sleep(max(deadline - self.clock.time(), 0.0))
            raise InvocationEnded
        self.clock.sleep(seconds)

    def call_later(self, seconds: float, callback: Callable[[], None]) -> Any:
        deadline = _deadline.get()
        if deadline is not None and self.clock.time() + seconds >= deadline:
            return _NeverFires()
        context = contextvars.copy_context()

        def run() -> None:
            with suppress(InvocationEnded):
                context.run(callback)

        return self.clock.call_later(seconds, run)


class _NeverFires:
    def cancel(self) -> None:
        """Nothing to cancel: Lambda ends the invocation before the timer would fire."""


@dataclass
class Delivery:
    """One invocation Lambda started, and how it ended."""

    at: float
    logical_id: str
    request_type: str
    poll: bool
    copy: bool = False  # a second delivery made here (a duplicate poll, Lambda's retry)
    ended_at_timeout: bool = False


@dataclass
class LambdaFaults:
    """What Lambda does to the handler's invocations (see the module docstring).

    ``poll_twice``: every EventBridge poll arrives twice at once. ``drop_polls``: (from, until) in seconds since
    the rehearsal began: EventBridge invokes nothing meanwhile. ``retries``: Lambda's retries of a timed-out
    invocation; None reads them from the template (``MaximumRetryAttempts``, 2 when not configured).
    """

    poll_twice: bool = False
    drop_polls: tuple[float, float] | None = None
    retries: int | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    dropped_polls: int = 0
    _copies: list[dict[str, Any]] = field(default_factory=list)
    _retried: dict[int, int] = field(default_factory=dict)  # id of the first delivery's event -> retries so far
    _first_of: dict[int, int] = field(default_factory=dict)  # id of a retry's event -> id of the first delivery's

    @property
    def ended_at_timeout(self) -> list[Delivery]:
        return [d for d in self.deliveries if d.ended_at_timeout]

    def wrap(
        self,
        function: LambdaFunction,
        clock: VirtualClock,
        timeline: Timeline,
        retries: int,
        on_request: Callable[[dict[str, Any]], None] = lambda event: None,
    ) -> None:
        """Play ``function``'s invocations through Lambda's behaviour (its ``handler`` is replaced);
        ``on_request`` sees every CloudFormation request as it is delivered."""
        inner = function.handler
        allowed_retries = retries if self.retries is None else self.retries

        def handler(event: dict[str, Any], context: Any) -> None:
            poll = POLL_FLAG in event
            logical_id = str(event.get("LogicalResourceId", ""))
            since = clock.time() - timeline.origin
            if poll and self.drop_polls and self.drop_polls[0] <= since < self.drop_polls[1]:
                self.dropped_polls += 1
                timeline.add(clock.time(), "eventbridge", logical_id, "poll not delivered", "outage (fault)")
                return
            is_copy = any(event is c for c in self._copies)
            delivery = Delivery(clock.time(), logical_id, str(event.get("RequestType")), poll, is_copy)
            self.deliveries.append(delivery)
            if not poll:
                on_request(event)
            if not is_copy:
                self._deliver_again(function, event, clock)
            token = _deadline.set(float(context.deadline))
            try:
                inner(event, context)
            except InvocationEnded:
                delivery.ended_at_timeout = True
                timeline.add(clock.time(), "lambda", logical_id, "ended at timeout", f"after {function.timeout} s")
                self._retry(function, event, clock, allowed_retries)
            finally:
                _deadline.reset(token)

        function.handler = handler

    def _deliver_again(self, function: LambdaFunction, event: dict[str, Any], clock: VirtualClock) -> None:
        if POLL_FLAG in event and self.poll_twice:
            why = "EventBridge poll, delivered twice"
            self._invoke_copy(function, event, clock, 0.0, why, str(event.get("LogicalResourceId", "")))

    def _retry(self, function: LambdaFunction, event: dict[str, Any], clock: VirtualClock, allowed: int) -> None:
        """Lambda retries an asynchronous invocation that timed out, one minute and then two minutes later."""
        first = self._first_of.get(id(event), id(event))
        done = self._retried.get(first, 0)
        if done >= allowed:
            return
        self._retried[first] = done + 1
        delay = LAMBDA_RETRY_DELAYS[min(done, len(LAMBDA_RETRY_DELAYS) - 1)]
        why = f"Lambda retry {done + 1} after a timeout"
        again = self._invoke_copy(function, event, clock, delay, why, str(event.get("LogicalResourceId")))
        self._first_of[id(again)] = first

    def _invoke_copy(
        self, function: LambdaFunction, event: dict[str, Any], clock: VirtualClock, delay: float, why: str, rid: str
    ) -> dict[str, Any]:
        again = copy.deepcopy(event)
        self._copies.append(again)
        clock.call_later(delay, lambda: function.invoke(again, why, rid))
        return again


# The response URL's host, refusing connections for a while -------------------------------------------------------


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


# The rehearsal with faults ---------------------------------------------------------------------------------------


class FaultRehearsal(Rehearsal):
    """A :class:`Rehearsal` whose handler meets the faults above; Lambda's timeout always applies."""

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        start: datetime | None = None,
        duplicate_deliveries: Mapping[str, float] | None = None,
        eventbridge_faults: Sequence[Fault] = (),
        hangs: Sequence[Hang] = (),
        lambda_faults: LambdaFaults | None = None,
        response_failures: tuple[int, int | None] | None = None,
        refuse_responses_until: float | None = None,
    ) -> None:
        """``response_failures``: (how many, HTTP status or None for a dropped connection): the response URL
        fails that many PUTs of each request before it accepts one. ``refuse_responses_until``: seconds since
        the rehearsal began during which the response URL's host refuses every connection."""
        super().__init__(scenario, start=start, duplicate_deliveries=duplicate_deliveries)
        self.response_failures = response_failures
        self.refuse_responses_until = refuse_responses_until
        self.late_listener: LateListener | None = None
        self._failing: set[str] = set()
        self.eventbridge_faults = list(eventbridge_faults)
        self.hangs = list(hangs)
        self.lambda_faults = lambda_faults or LambdaFaults()
        self.eventbridge: EventBridgeFaults

    def __enter__(self) -> FaultRehearsal:
        super().__enter__()
        try:
            moto_url = str(self.events.meta.endpoint_url)
            self.eventbridge = self._stack.enter_context(
                EventBridgeFaults(moto_url, self.eventbridge_faults, self.clock)
            )
            self._stack.enter_context(_environment({"AWS_ENDPOINT_URL_EVENTBRIDGE": self.eventbridge.url}))
            self._stack.enter_context(_handler_seams(self.clock, self.hangs, self.timeline.origin))
            if self.refuse_responses_until is not None:
                self.late_listener = LateListener(int(urlsplit(self.endpoint.url).port or 0))
                self._stack.callback(self.late_listener.close)
                self.clock.call_later(self.refuse_responses_until, self.late_listener.open)
        except BaseException:
            self._stack.close()
            raise
        return self

    def _function(self, template: Template, function_id: str) -> LambdaFunction:
        function = super()._function(template, function_id)
        retries = lambda_retries(template, function_id)
        self.lambda_faults.wrap(function, self.clock, self.timeline, retries, self._response_faults)
        return function

    def _response_faults(self, event: dict[str, Any]) -> None:
        """Plan the request's failing PUTs, or send its answer by way of the late listener."""
        if self.late_listener is not None:
            url = urlsplit(str(event["ResponseURL"]))
            event["ResponseURL"] = urlunsplit(url._replace(netloc=f"127.0.0.1:{self.late_listener.port}"))
        request_id = str(event.get("RequestId"))
        if self.response_failures and request_id not in self._failing:
            self._failing.add(request_id)
            times, status = self.response_failures
            self.endpoint.fail_next(request_id, times, status)


def lambda_retries(template: Template, function_id: str) -> int:
    """How often Lambda retries a failed asynchronous invocation of the function (its EventInvokeConfig)."""
    for resource in template.resources.values():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Lambda::EventInvokeConfig" and properties.get("FunctionName") == {
            "Ref": function_id
        }:
            return int(properties.get("MaximumRetryAttempts", LAMBDA_DEFAULT_RETRIES))
    return LAMBDA_DEFAULT_RETRIES


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def _handler_seams(clock: VirtualClock, hangs: Sequence[Hang], origin: float) -> Iterator[None]:
    """The handler's clock and client factory (its own seams) set for faults; put back afterwards."""
    handler_clock = importlib.import_module("handler_clock")
    aws_clients = importlib.import_module("aws_clients")
    handler_clock.use(LambdaClock(clock))

    def build(service_name: str) -> Any:
        client = aws_clients.build_client(service_name)
        hang_calls(client, hangs, clock, origin)
        return client

    aws_clients.use(build)
    try:
        yield
    finally:
        aws_clients.use(None)
        handler_clock.use(handler_clock.SystemClock())
