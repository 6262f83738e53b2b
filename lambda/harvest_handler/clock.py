"""The handler's notion of time, in one replaceable place.

Every wait and every "now" in the handler goes through ``current``, so the deploy rehearsal can run the
unmodified handler on a virtual clock (a 20-minute harvest in seconds, with deterministic figures).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def time(self) -> float:
        """Seconds since the epoch."""
        ...

    def sleep(self, seconds: float) -> None: ...

    def call_later(self, seconds: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` after ``seconds`` unless the returned timer is cancelled first."""
        ...


class SystemClock:
    """Wall-clock time, as in Lambda."""

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def call_later(self, seconds: float, callback: Callable[[], None]) -> Timer:
        timer = threading.Timer(max(seconds, 0.0), callback)
        timer.daemon = True
        timer.start()
        return timer


current: Clock = SystemClock()


def use(clock: Clock) -> None:
    """Make ``clock`` the handler's clock (the rehearsal's virtual clock; SystemClock() to restore)."""
    global current
    current = clock
