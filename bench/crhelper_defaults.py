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

from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from harvest_handler import clock as handler_clock
from harvest_handler import lifecycle as harvest_lifecycle
from harvest_handler.crhelper_resource import SafeCfnResource
from mediapackage_harvest.rehearsal.lambda_runtime import load_handler_module

POLLING_INTERVAL_MINUTES = 2  # crhelper 2.0.12: CfnResource(polling_interval=2)
SLEEP_ON_DELETE_SECONDS = 120  # crhelper 2.0.12: CfnResource(sleep_on_delete=120)
CWLOGS_RESERVE_SECONDS = 15  # crhelper's _wait_for_cwlogs keeps 15 s of Lambda time in hand


class CrhelperDefaultsResource(SafeCfnResource):
    """SafeCfnResource with crhelper's defaults back: a 2-minute rule and the 120 s sleep before a Delete answer
    (crhelper's own ``__call__`` makes that sleep; here it waits on the handler clock)."""

    def __init__(self) -> None:
        super().__init__(polling_interval=POLLING_INTERVAL_MINUTES, sleep_on_delete=SLEEP_ON_DELETE_SECONDS)

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
