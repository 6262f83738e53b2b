"""What Lambda itself does to invocations, beyond ending them at their timeout (every rehearsal does that): it
retries an invocation that timed out as often as the function's ``MaximumRetryAttempts`` allows; when asked, it
delivers every EventBridge poll twice or drops EventBridge's polls for a while. (A CloudFormation request
delivered twice is the harness's ``duplicate_deliveries``.)"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mediapackage_harvest.rehearsal.cloudformation import LambdaFunction
from mediapackage_harvest.rehearsal.lambda_runtime import InvocationEnded, handler_module
from mediapackage_harvest.rehearsal.template import Template
from mediapackage_harvest.rehearsal.timeline import Timeline
from mediapackage_harvest.rehearsal.virtual_clock import VirtualClock

LAMBDA_DEFAULT_RETRIES = 2  # Lambda retries a failed asynchronous invocation twice unless configured otherwise
LAMBDA_RETRY_DELAYS = (60.0, 120.0)  # "with a delay of one minute, then two minutes" (Lambda's documentation)


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
            poll = handler_module("model").POLL_FLAG in event
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
            try:
                inner(event, context)
            except InvocationEnded:  # the function's own runner notes it on the timeline
                delivery.ended_at_timeout = True
                self._retry(function, event, clock, allowed_retries)
                raise

        function.handler = handler

    def _deliver_again(self, function: LambdaFunction, event: dict[str, Any], clock: VirtualClock) -> None:
        if handler_module("model").POLL_FLAG in event and self.poll_twice:
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


def lambda_retries(template: Template, function_id: str) -> int:
    """How often Lambda retries a failed asynchronous invocation of the function (its EventInvokeConfig)."""
    for resource in template.resources.values():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Lambda::EventInvokeConfig" and properties.get("FunctionName") == {
            "Ref": function_id
        }:
            return int(properties.get("MaximumRetryAttempts", LAMBDA_DEFAULT_RETRIES))
    return LAMBDA_DEFAULT_RETRIES
