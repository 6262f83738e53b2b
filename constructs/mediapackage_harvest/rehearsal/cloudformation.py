"""CloudFormation, played locally: custom-resource requests, responses, timeouts, rollback and replacement.

The rehearsal's stand-in for the service: it sends the harvest-job resources' Create / Update / Delete events
to the handler (run unmodified, as a Lambda would run it), waits on the virtual clock for the response that the
handler PUTs to a local HTTPS endpoint, and does what CloudFormation does next: the next resource in dependency
order, a rollback after a failure or a timeout, the Delete of a replaced resource once an update has succeeded.
EventBridge's part (firing the handler's polling rules on their schedule, delivering job events) is played by
:mod:`~mediapackage_harvest.rehearsal.event_bus`.

Long waits are played as CloudFormation plays them: a ``WaitConditionHandle``'s physical id (its Ref) is a
pre-signed URL on the same local HTTPS endpoint, minted when the handle is created and refused once expired (as
the ResponseURLs are: :mod:`~mediapackage_harvest.rehearsal.cfn_endpoint`), and a ``WaitCondition`` completes when
``Count`` SUCCESS signals have been PUT to it, fails on the first FAILURE signal, and fails at its ``Timeout``. Its
``Data`` attribute is the JSON object of each signal's ``UniqueId`` to its ``Data``. Neither calls anything on
Delete.

The stack's event rules (``AWS::Events::Rule`` with an EventPattern) are put in place before the stack's requests
are sent and removed with the stack, by ``rules`` (:class:`~mediapackage_harvest.rehearsal.event_bus.EventBus`).

Lambda delivers asynchronous invocations at least once: ``duplicate_deliveries`` makes every request of the
given types arrive twice, the copy a given number of seconds after the original, to rehearse redelivery.
"""

from __future__ import annotations

import copy
import itertools
import json
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from mediapackage_harvest.rehearsal.lambda_runtime import run_to_timeout
from mediapackage_harvest.rehearsal.template import WAIT_CONDITION_TYPE, WAIT_HANDLE_TYPE, Template
from mediapackage_harvest.rehearsal.timeline import Timeline
from mediapackage_harvest.rehearsal.virtual_clock import VirtualClock

Handler = Callable[[dict[str, Any], Any], Any]


class ResponseEndpoint(Protocol):
    """The local HTTPS server that plays the pre-signed ResponseURL and the wait condition handles' URLs."""

    def response_url(self, request_id: str) -> str: ...

    def handle_url(self, handle_id: str) -> str: ...

    def responses_for(self, request_id: str) -> list[dict[str, Any]]: ...


@dataclass
class LambdaContext:
    """What Lambda hands a handler, with the remaining time read from the virtual clock."""

    clock: VirtualClock
    deadline: float
    function_name: str
    aws_request_id: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/rehearsal"
    log_stream_name: str = "rehearsal"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - self.clock.time()) * 1000))


@dataclass
class LambdaFunction:
    """One function of the template; every invocation runs as its own task on the virtual clock, and Lambda ends
    it at the function's ``timeout`` (see :func:`~mediapackage_harvest.rehearsal.lambda_runtime.run_to_timeout`)."""

    clock: VirtualClock
    handler: Handler
    name: str
    arn: str
    timeout: float
    timeline: Timeline
    after_invocation: Callable[[], None] = lambda: None
    invocations: int = 0
    billed_ms: int = 0
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def invoke(self, event: dict[str, Any], trigger: str, resource: str) -> None:
        """Asynchronous invocation, as CloudFormation and EventBridge make them."""
        self.invocations += 1
        request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.name}/{next(self._ids)}"))

        def run() -> None:
            start = self.clock.time()
            context = LambdaContext(self.clock, start + self.timeout, self.name, request_id, self.arn)
            self.timeline.add(start, "lambda", resource, "invoked", trigger)
            try:
                if run_to_timeout(self.handler, event, context):
                    self.timeline.add(
                        self.clock.time(), "lambda", resource, "ended at timeout", f"after {self.timeout} s"
                    )
            finally:
                took = self.clock.time() - start
                self.billed_ms += max(1, int(took * 1000 + 0.999))
                self.timeline.add(self.clock.time(), "lambda", resource, "returned", f"after {took:.1f} s")
                self.after_invocation()

        self.clock.spawn(run)


class StackRules(Protocol):
    """Who creates and deletes the template's event rules (the rehearsal's event bus)."""

    def put_rules(self, template: Template) -> None: ...

    def delete_rules(self, template: Template) -> None: ...


@dataclass
class Request:
    """One custom-resource request and what became of it."""

    logical_id: str
    request_type: str
    request_id: str
    sent_at: float
    event: dict[str, Any]
    response: dict[str, Any] | None = None
    answered_at: float | None = None
    timed_out: bool = False
    timeout_timer: Any = None
    signals_at: str | None = None  # a wait condition's: the endpoint id its handle's URL PUTs to
    signal_count: int = 1

    @property
    def finished(self) -> bool:
        """Whether the request was answered or timed out."""
        return self.response is not None or self.timed_out

    @property
    def succeeded(self) -> bool:
        """Whether the handler answered SUCCESS."""
        return self.response is not None and self.response.get("Status") == "SUCCESS"

    @property
    def reason(self) -> str:
        """Why the request failed, in full: the handler's Reason, or the timeout (empty when it succeeded)."""
        if self.timed_out:
            return "no response within the service timeout"
        if self.response is None or self.succeeded:
            return ""
        return str(self.response.get("Reason") or "FAILED without a reason")


@dataclass
class StackResult:
    """The outcome of one stack operation."""

    operation: str
    status: str  # e.g. CREATE_COMPLETE, ROLLBACK_COMPLETE, UPDATE_ROLLBACK_COMPLETE, DELETE_COMPLETE
    requests: list[Request]
    outputs: dict[str, str]
    physical_ids: dict[str, str]

    @property
    def failures(self) -> list[Request]:
        """The requests that failed or timed out, in the order they were sent (see :attr:`Request.reason`)."""
        return [r for r in self.requests if r.finished and not r.succeeded]


class CloudFormation:
    """The stack operations, played on the virtual clock against the handler."""

    def __init__(
        self,
        clock: VirtualClock,
        endpoint: ResponseEndpoint,
        functions: dict[str, LambdaFunction],
        timeline: Timeline,
        *,
        duplicate_deliveries: Mapping[str, float] | None = None,
        rules: StackRules | None = None,
    ) -> None:
        """``duplicate_deliveries``: request type ("Create", "Update", "Delete") -> seconds after the first
        delivery at which the same event is delivered again (the module docstring says why)."""
        self.clock = clock
        self.endpoint = endpoint
        self.functions = functions
        self.timeline = timeline
        self.duplicate_deliveries = dict(duplicate_deliveries or {})
        self.rules = rules
        self.requests: list[Request] = []
        self.template: Template | None = None
        self._ids = 0
        self._signal_ids: dict[str, str] = {}  # a wait condition handle's URL -> the endpoint id it PUTs to

    # Stack operations -------------------------------------------------------------------------------------
    def create(self, template: Template) -> StackResult:
        self.template = template
        if self.rules is not None:
            self.rules.put_rules(template)
        order = _dependency_order(template)
        created = self._run(template, [(rid, "Create", None) for rid in order], stop_on_failure=True)
        failed = [r for r in created if not r.succeeded]
        if not failed:
            return self._result("CREATE", "CREATE_COMPLETE", created)
        # Rollback: delete everything that was attempted, in reverse order, with the id each response gave.
        to_delete = [(r.logical_id, "Delete", _physical_id_of(r)) for r in reversed(created)]
        self._forget(template, [r.logical_id for r in created])
        deleted = self._run(template, to_delete, stop_on_failure=False)
        status = "ROLLBACK_COMPLETE" if all(r.succeeded for r in deleted) else "ROLLBACK_FAILED"
        if self.rules is not None:
            self.rules.delete_rules(template)
        return self._result("CREATE", status, created + deleted)

    def update(self, new: Template) -> StackResult:
        old = self._current()
        new.attributes, new.physical_ids = dict(old.attributes), dict(old.physical_ids)
        if self.rules is not None:
            self.rules.put_rules(new)
        steps: list[tuple[str, str, str | None]] = []
        for rid in _dependency_order(new):
            if rid not in old.physical_ids:
                steps.append((rid, "Create", None))
            elif new.properties(rid) != old.properties(rid):
                steps.append((rid, "Update", old.physical_ids[rid]))
        self.template = new
        done = self._run(new, steps, stop_on_failure=True, old=old)
        if all(r.succeeded for r in done):
            replaced = [(r.logical_id, "Delete", str(r.event["PhysicalResourceId"])) for r in done if _replaced(r)]
            removed = [(rid, "Delete", old.physical_ids[rid]) for rid in old.played_ids() if rid not in new.resources]
            cleanup = self._run(old, replaced + removed, stop_on_failure=False)
            for rid, _, _ in removed:
                new.physical_ids.pop(rid, None)
            return self._result("UPDATE", "UPDATE_COMPLETE", done + cleanup)
        return self._roll_back_update(old, new, done)

    def delete(self) -> StackResult:
        template = self._current()
        order = list(reversed(_dependency_order(template)))
        steps = [(rid, "Delete", template.physical_ids[rid]) for rid in order if rid in template.physical_ids]
        done = self._run(template, steps, stop_on_failure=False)
        status = "DELETE_COMPLETE" if all(r.succeeded for r in done) else "DELETE_FAILED"
        if status == "DELETE_COMPLETE":
            if self.rules is not None:
                self.rules.delete_rules(template)
            template.physical_ids.clear()
        return self._result("DELETE", status, done)

    # Internals ---------------------------------------------------------------------------------------------
    def _roll_back_update(self, old: Template, new: Template, done: list[Request]) -> StackResult:
        """Undo a failed update: in-place changes get the old properties back, replacements and new resources
        are deleted, and the old physical resources stay.

        The resource whose Update failed gets an Update back to its old properties too, under the physical id
        its answer carried, as CloudFormation does (a handler must take that as a rollback, not a new change).
        """
        self.template = old
        back: list[tuple[str, str, str | None]] = []
        cleanup: list[tuple[str, str, str | None]] = []
        for r in reversed(done):
            new_id = _physical_id_of(r)
            if r.request_type == "Create" or _replaced(r):
                cleanup.append((r.logical_id, "Delete", new_id))
            else:
                back.append((r.logical_id, "Update", new_id))
        for rid in list(new.physical_ids):
            if rid in old.physical_ids:
                new.physical_ids[rid] = old.physical_ids[rid]
        rolled = self._run(old, back, stop_on_failure=False, old=new)
        cleaned = self._run(new, cleanup, stop_on_failure=False)  # what the update made is only in the new template
        ok = all(r.succeeded for r in rolled + cleaned)
        return self._result(
            "UPDATE", "UPDATE_ROLLBACK_COMPLETE" if ok else "UPDATE_ROLLBACK_FAILED", done + rolled + cleaned
        )

    def _run(
        self,
        template: Template,
        steps: Sequence[tuple[str, str, str | None]],
        *,
        stop_on_failure: bool,
        old: Template | None = None,
    ) -> list[Request]:
        """Send the steps' requests, each once the resources it depends on are done, and wait for all."""
        waiting = list(steps)
        sent: list[Request] = []
        ids_in_phase = {rid for rid, _, _ in steps}
        known = ids_in_phase & set(template.resources)
        depends_on = {rid: template.dependencies(rid) for rid in known}  # read once: progress runs at every step
        waits_for = {
            (rid, request_type): (
                {other for other in known if rid in depends_on[other]}  # deleted after what depends on it
                if request_type == "Delete"
                else depends_on[rid] & ids_in_phase  # created or updated after what it depends on
            )
            for rid, request_type, _ in steps
        }

        def ready(step: tuple[str, str, str | None]) -> bool:
            done = {r.logical_id for r in sent if r.succeeded}
            return waits_for[step[0], step[1]] <= done

        def failed() -> bool:
            return any(r.finished and not r.succeeded for r in sent)

        def progress() -> bool:
            self._collect(sent, template)
            # Resources CloudFormation plays itself finish at once and may make others ready: send until none is.
            while not (failed() and stop_on_failure) and (batch := [s for s in waiting if ready(s)]):
                for step in batch:
                    waiting.remove(step)
                    sent.append(self._send(template, *step, old=old))
                self._collect(sent, template)
            if failed() and stop_on_failure:
                self._cancel_waits(sent)
            in_flight = any(not r.finished for r in sent)
            return not in_flight and (
                not waiting or (failed() and stop_on_failure) or not any(ready(s) for s in waiting)
            )

        self.clock.run(until=progress)
        self._collect(sent, template)
        return sent

    def _send(
        self, template: Template, logical_id: str, request_type: str, physical_id: str | None, *, old: Template | None
    ) -> Request:
        self._ids += 1
        request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{template.env.stack_id}/{self._ids}"))
        if not template.is_custom_resource(logical_id):
            return self._play(template, logical_id, request_type, physical_id, request_id)
        function_id = template.function_id_of(logical_id)
        function = self.functions[function_id]
        properties = template.properties(logical_id)
        event: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": function.arn,
            "ResponseURL": self.endpoint.response_url(request_id),
            "StackId": template.env.stack_id,
            "RequestId": request_id,
            "LogicalResourceId": logical_id,
            "ResourceType": template.resources[logical_id]["Type"],
            "ResourceProperties": properties,
        }
        if physical_id is not None:
            event["PhysicalResourceId"] = physical_id
        if request_type == "Update" and old is not None:
            event["OldResourceProperties"] = old.properties(logical_id)
        request = Request(logical_id, request_type, request_id, self.clock.time(), event)
        self.requests.append(request)
        timeout = template.service_timeout(logical_id)
        self.timeline.add(
            self.clock.time(),
            "cloudformation",
            logical_id,
            f"{request_type} sent",
            f"timeout {timeout} s" + (f", physical id {physical_id}" if physical_id else ""),
        )
        request.timeout_timer = self.clock.call_later(timeout, lambda: self._time_out(request))
        function.invoke(copy.deepcopy(event), f"CloudFormation {request_type}", logical_id)
        if request_type in self.duplicate_deliveries:
            again = copy.deepcopy(event)
            self.clock.call_later(
                self.duplicate_deliveries[request_type],
                lambda: function.invoke(again, f"CloudFormation {request_type}, delivered again", logical_id),
            )
        return request

    def _play(
        self, template: Template, logical_id: str, request_type: str, physical_id: str | None, request_id: str
    ) -> Request:
        """A resource CloudFormation handles itself: a wait condition handle, or a wait condition to wait on."""
        kind = template.resources[logical_id]["Type"]
        event = {"RequestType": request_type, "LogicalResourceId": logical_id, "ResourceType": kind}
        request = Request(logical_id, request_type, request_id, self.clock.time(), event)
        self.requests.append(request)
        if kind == WAIT_CONDITION_TYPE and request_type == "Create":
            handle, timeout, count = template.wait_condition(logical_id)
            request.signals_at, request.signal_count = self._signal_ids[template.physical_ids[handle]], count
            self.timeline.add(self.clock.time(), "cloudformation", logical_id, "waiting", f"timeout {timeout} s")
            request.timeout_timer = self.clock.call_later(timeout, lambda: self._time_out(request))
            return request
        if physical_id is None:
            physical_id = logical_id
            if kind == WAIT_HANDLE_TYPE:
                signal_id = f"wait-condition-handle-{request_id}"
                physical_id = self.endpoint.handle_url(signal_id)  # valid for a fixed time from now
                self._signal_ids[physical_id] = signal_id
        request.response, request.answered_at = (
            {"Status": "SUCCESS", "PhysicalResourceId": physical_id},
            request.sent_at,
        )
        if request_type != "Delete":
            template.physical_ids[logical_id] = physical_id
        self.timeline.add(self.clock.time(), "cloudformation", logical_id, f"{request_type} {kind.rsplit('::')[-1]}")
        return request

    def _cancel_waits(self, requests: list[Request]) -> None:
        """A failed operation cancels the wait conditions still waiting, as CloudFormation does (a custom
        resource's request cannot be called back: the operation waits for its answer)."""
        for request in requests:
            if request.signals_at is not None and not request.finished:
                request.timeout_timer.cancel()
                request.response = {"Status": "FAILED", "Reason": "Resource creation cancelled"}
                request.answered_at = self.clock.time()
                self.timeline.add(self.clock.time(), "cloudformation", request.logical_id, "Create cancelled")

    def _time_out(self, request: Request) -> None:
        self._collect([request], self.template)
        if request.finished:
            return
        request.timed_out = True
        self.timeline.add(
            self.clock.time(),
            "cloudformation",
            request.logical_id,
            "timed out",
            "no response within the service timeout",
        )

    def _collect(self, requests: list[Request], template: Template | None) -> None:
        """Take each request's first response from the endpoint; later ones are ignored, as CloudFormation does."""
        for request in requests:
            if request.finished:
                continue
            body = self._signalled(request) if request.signals_at else self._first_response(request)
            if body is None:
                continue
            request.response, request.answered_at = body, self.clock.time()
            request.timeout_timer.cancel()
            took = request.answered_at - request.sent_at
            self.timeline.add(
                self.clock.time(),
                "cloudformation",
                request.logical_id,
                f"{request.request_type} {body.get('Status')}",
                f"after {took:.1f} s; " + (body.get("Reason") or str(body.get("PhysicalResourceId"))),
            )
            if template is not None and request.succeeded and request.request_type != "Delete":
                template.physical_ids[request.logical_id] = str(body["PhysicalResourceId"])
                template.attributes[request.logical_id] = dict(body.get("Data") or {})

    def _first_response(self, request: Request) -> dict[str, Any] | None:
        bodies = self.endpoint.responses_for(request.request_id)
        return bodies[0] if bodies else None

    def _signalled(self, request: Request) -> dict[str, Any] | None:
        """A wait condition's outcome once decided: the first FAILURE signal, or ``Count`` distinct successes."""
        signals = self.endpoint.responses_for(str(request.signals_at))
        failure = next((s for s in signals if s.get("Status") != "SUCCESS"), None)
        if failure is not None:
            return {
                "Status": "FAILED",
                "Reason": f"WaitCondition received failed message: '{failure.get('Reason')}'"
                f" for uniqueId: {failure.get('UniqueId')}",
            }
        data = {str(s.get("UniqueId")): s.get("Data") for s in signals}
        if len(data) < request.signal_count:
            return None
        physical_id = f"{request.logical_id}-{request.request_id[:8]}"
        return {"Status": "SUCCESS", "PhysicalResourceId": physical_id, "Data": {"Data": json.dumps(data)}}

    def _forget(self, template: Template, logical_ids: list[str]) -> None:
        for rid in logical_ids:
            template.physical_ids.pop(rid, None)
            template.attributes.pop(rid, None)

    def _current(self) -> Template:
        if self.template is None:
            raise RuntimeError("no stack yet: create it first")
        return self.template

    def _result(self, operation: str, status: str, requests: list[Request]) -> StackResult:
        template = self._current()
        self.timeline.add(self.clock.time(), "cloudformation", template.env.stack_name, status)
        outputs = template.outputs() if status in ("CREATE_COMPLETE", "UPDATE_COMPLETE") else {}
        return StackResult(operation, status, requests, outputs, dict(template.physical_ids))


def _physical_id_of(request: Request) -> str:
    """The id CloudFormation will use for this resource: the response's, else one it makes up."""
    if request.response and request.response.get("PhysicalResourceId"):
        return str(request.response["PhysicalResourceId"])
    return str(request.event.get("PhysicalResourceId") or f"{request.logical_id}-{request.request_id[:8]}")


def _replaced(request: Request) -> bool:
    return (
        request.request_type == "Update"
        and request.succeeded
        and _physical_id_of(request) != request.event.get("PhysicalResourceId")
    )


def _dependency_order(template: Template) -> list[str]:
    """The played resources, each after the ones it depends on (template order otherwise)."""
    ordered: list[str] = []
    remaining = template.played_ids()
    while remaining:
        ready = [rid for rid in remaining if template.dependencies(rid) <= set(ordered)]
        if not ready:
            raise ValueError(f"circular dependency among {remaining}")
        ordered += ready
        remaining = [rid for rid in remaining if rid not in ready]
    return ordered
