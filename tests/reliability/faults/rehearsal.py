"""The rehearsal with every fault kind in place (see the package docstring)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from mediapackage_harvest.rehearsal.cloudformation import LambdaFunction
from mediapackage_harvest.rehearsal.environment import environment
from mediapackage_harvest.rehearsal.harness import Rehearsal
from mediapackage_harvest.rehearsal.lambda_runtime import handler_seams
from mediapackage_harvest.rehearsal.scenario import Fault, Scenario
from mediapackage_harvest.rehearsal.template import Template
from tests.reliability.faults.eventbridge import EventBridgeFaults
from tests.reliability.faults.hangs import Hang, hang_calls
from tests.reliability.faults.lambda_faults import LambdaFaults, lambda_retries
from tests.reliability.faults.responses import FlakyEndpoint, LateListener


class FaultRehearsal(Rehearsal):
    """A :class:`Rehearsal` whose handler meets the faults of this package (Lambda's timeout applies in every
    rehearsal)."""

    endpoint_class = FlakyEndpoint
    endpoint: FlakyEndpoint

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
            moto_url = self.eventbridge_api.url  # IAM judges what the faults let through
            self.eventbridge = self._stack.enter_context(
                EventBridgeFaults(moto_url, self.eventbridge_faults, self.clock)
            )
            self._stack.enter_context(environment({"AWS_ENDPOINT_URL_EVENTBRIDGE": self.eventbridge.url}))
            origin = self.timeline.origin
            self._stack.enter_context(
                handler_seams(self.clock, lambda c: hang_calls(c, self.hangs, self.clock, origin))
            )
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
        """Plan the request's failing PUTs, or send its answer by way of the late listener (a job event carries
        no ResponseURL: nothing to plan)."""
        if "ResponseURL" not in event:
            return
        if self.late_listener is not None:
            url = urlsplit(str(event["ResponseURL"]))
            event["ResponseURL"] = urlunsplit(url._replace(netloc=f"127.0.0.1:{self.late_listener.port}"))
        request_id = str(event.get("RequestId"))
        if self.response_failures and request_id not in self._failing:
            self._failing.add(request_id)
            times, status = self.response_failures
            self.endpoint.fail_next(request_id, times, status)
