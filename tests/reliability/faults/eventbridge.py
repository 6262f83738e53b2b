"""EventBridge failing on script: a local HTTP proxy in front of moto's EventBridge that answers scripted errors in
EventBridge's own JSON 1.1 wire format (codes checked against botocore's model), so the handler's unmodified
botocore client serializes, sends, parses and retries exactly as it would against AWS."""

from __future__ import annotations

import functools
import http.client
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import botocore.session

from mediapackage_harvest.rehearsal.local_server import LocalServer, Response
from mediapackage_harvest.rehearsal.scenario import Fault
from mediapackage_harvest.rehearsal.virtual_clock import VirtualClock


@functools.cache
def eventbridge_error_codes(operation: str) -> tuple[str, ...]:
    """The errors botocore's ``events`` model declares for ``operation``, in model order (read once per process)."""
    model = botocore.session.get_session().get_service_model("events")
    return tuple(shape.name for shape in model.operation_model(operation).error_shapes)


@dataclass(frozen=True)
class ProxiedCall:
    """One EventBridge request as the proxy saw it: ``code`` is the scripted error, empty when moto answered."""

    at: float
    operation: str
    rule: str
    status: int
    code: str = ""


class EventBridgeFaults(LocalServer):
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
        super().__init__()

    def dispatch(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Response:
        return Response(*self.answer(headers, body))

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
