"""Approach (b): this project's handler logic under crhelper 2.0.12's default configuration.

``CfnResource()`` with no arguments polls at ``rate(2 minutes)``, sleeps ``sleep_on_delete=120`` s before it
answers a Delete (so its logs reach CloudWatch) and has no inline polling: the create function runs once and
EventBridge does the rest. :func:`configured` puts the rehearsal's handler in that configuration without
editing ``lambda/``: it swaps the crhelper subclass that ``index.handler`` builds for
:class:`CrhelperDefaultsResource` and sets the lifecycle's inline watch to 0 s and its poll period to 120 s.
Everything else (validation, the deadline, what a poll checks, the response) is the shipped handler's.

Import this module only after ``rehearsal.lambda_runtime.load_handler_module()``: it must patch the very modules the
Lambda asset's ``index`` uses (its ``harvest_handler`` package is then imported).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType

from harvest_handler import clock as handler_clock
from harvest_handler import lifecycle as harvest_lifecycle
from harvest_handler.crhelper_resource import SafeCfnResource
from mediapackage_harvest.rehearsal.cloudformation import RuleScheduler
from mediapackage_harvest.rehearsal.lambda_runtime import load_handler_module

POLLING_INTERVAL_MINUTES = 2  # crhelper 2.0.12: CfnResource(polling_interval=2)
SLEEP_ON_DELETE_SECONDS = 120  # crhelper 2.0.12: CfnResource(sleep_on_delete=120)
CWLOGS_RESERVE_SECONDS = 15  # crhelper's _wait_for_cwlogs keeps 15 s of Lambda time in hand
RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


class CrhelperDefaultsResource(SafeCfnResource):
    """SafeCfnResource with crhelper's defaults back: a 2-minute rule and the 120 s sleep before a Delete answer
    (crhelper's own ``__call__`` makes that sleep; here it waits on the handler clock)."""

    def __init__(self, *, rule_prefix_env: str) -> None:
        super().__init__(
            rule_prefix_env=rule_prefix_env,
            polling_interval=POLLING_INTERVAL_MINUTES,
            sleep_on_delete=SLEEP_ON_DELETE_SECONDS,
        )

    def _wait_for_cwlogs(self, sleep: object = None) -> None:
        """crhelper 2.0.12's ``_wait_for_cwlogs``, sleeping on the handler clock."""
        assert self._context is not None
        time_left = int(self._context.get_remaining_time_in_millis() / 1000) - CWLOGS_RESERVE_SECONDS
        sleep_time = self._sleep_on_delete if time_left > self._sleep_on_delete else 0
        if sleep_time > 1:
            handler_clock.current.sleep(sleep_time)


@contextmanager
def configured() -> Iterator[None]:
    """The asset's handler in crhelper's default configuration while the block runs (see the module docstring)."""
    with (
        _patched(load_handler_module(), SafeCfnResource=CrhelperDefaultsResource),
        _patched(
            harvest_lifecycle,
            INLINE_WATCH_SECONDS=0.0,
            POLL_PERIOD_SECONDS=POLLING_INTERVAL_MINUTES * 60.0,
        ),
    ):
        yield


@contextmanager
def _patched(module: ModuleType, **values: object) -> Iterator[None]:
    saved = {name: getattr(module, name) for name in values}
    for name, value in values.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(module, name, value)


@dataclass
class RateScheduler(RuleScheduler):
    """EventBridge firing each polling rule at the rate its ScheduleExpression names (the rehearsal's own
    scheduler assumes crhelper's ``rate(1 minute)`` as the shipped handler sets it)."""

    def notice_new_rules(self) -> None:
        rates = self.rule_rates()
        self.peak_rules = max(self.peak_rules, len(rates))
        for name in sorted(set(rates) - self.scheduled):
            self.scheduled.add(name)
            self.timeline.add(self.clock.time(), "eventbridge", name, "rule created", f"every {rates[name]:.0f} s")
            self.clock.call_later(rates[name], lambda n=name: self._fire(n))  # type: ignore[misc]

    def rule_rates(self) -> dict[str, float]:
        """Every polling rule's period in seconds, by name."""
        rates: dict[str, float] = {}
        token: str | None = None
        while True:
            page = self.events.list_rules(NamePrefix=self.prefix, **({"NextToken": token} if token else {}))
            for rule in page.get("Rules", []):
                rates[rule["Name"]] = _period(str(rule.get("ScheduleExpression", "")))
            token = page.get("NextToken")
            if not token:
                return rates

    def _fire(self, name: str) -> None:
        rates = self.rule_rates()
        if name not in rates:
            self.scheduled.discard(name)
            self.timeline.add(self.clock.time(), "eventbridge", name, "rule gone", "no more polls")
            return
        for target in self.events.list_targets_by_rule(Rule=name).get("Targets", []):
            self.fired += 1
            event = _json(target["Input"])
            self.function.invoke(event, "EventBridge poll", str(event.get("LogicalResourceId", name)))
        self.clock.call_later(rates[name], lambda: self._fire(name))


def _period(expression: str) -> float:
    match = RATE.fullmatch(expression)
    if match is None:
        raise ValueError(f"not a rate expression the rehearsal can schedule: {expression!r}")
    return int(match[1]) * float(UNIT_SECONDS[match[2].removesuffix("s")])


def _json(text: str) -> dict[str, object]:
    value: dict[str, object] = json.loads(text)
    return value
