"""Virtual time for the deploy rehearsal: a cooperative discrete-event scheduler.

Every participant (CloudFormation's driver, each Lambda invocation, the emulator's scripted delays) runs as a
task in its own thread, but only one task runs at a time: a task runs until it sleeps or ends, and then the
scheduler moves time straight to the next due event. A 20-minute harvest therefore rehearses in seconds, and
because ties run in the order they were scheduled, every figure is the same on every run.

It implements the handler's ``harvest_handler.clock.Clock`` protocol (``time``, ``sleep``, ``call_later``), so the
unmodified handler can run on it.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

# Real seconds a task may run without yielding before the rehearsal counts as stuck (a deadlock).
TURN_LIMIT_SECONDS = 120.0


class StuckTaskError(RuntimeError):
    """A task neither slept nor ended within TURN_LIMIT_SECONDS of real time."""


@dataclass(order=True)
class _Event:
    when: float
    seq: int
    action: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """Time that only moves when every task is waiting; see the module docstring."""

    def __init__(self, start: float) -> None:
        self._now = start
        self._queue: list[_Event] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._turn_over = threading.Event()
        self._errors: list[BaseException] = []

    def time(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        """Called from a running task: yield until ``seconds`` of virtual time have passed."""
        resume = threading.Event()
        self._push(self._now + max(seconds, 0.0), resume.set)
        self._turn_over.set()
        resume.wait()

    def call_later(self, seconds: float, callback: Callable[[], None]) -> _Event:
        """Run ``callback`` as a new task after ``seconds``; the returned event can be cancelled."""
        return self._push(self._now + max(seconds, 0.0), lambda: self._start_task(callback))

    def spawn(self, callback: Callable[[], None]) -> _Event:
        """Run ``callback`` as a new task now, after the tasks already due now."""
        return self.call_later(0.0, callback)

    def run(self, until: Callable[[], bool] = lambda: False, limit: float | None = None) -> None:
        """Drive time from a non-task thread until nothing is due, ``until()`` holds, or ``limit``.

        Re-raises the first exception any task raised.
        """
        while not until():
            event = self._pop()
            if event is None or (limit is not None and event.when > limit):
                if event is not None:
                    self._push_event(event)
                break
            self._now = max(self._now, event.when)
            self._turn_over.clear()
            event.action()
            if not self._turn_over.wait(TURN_LIMIT_SECONDS):
                raise StuckTaskError(f"a rehearsal task ran {TURN_LIMIT_SECONDS:.0f} s without yielding")
            if self._errors:
                raise self._errors[0]

    def pending(self) -> int:
        """How many live events are queued."""
        with self._lock:
            return sum(not e.cancelled for e in self._queue)

    def _start_task(self, callback: Callable[[], None]) -> None:
        def body() -> None:
            try:
                callback()
            except BaseException as error:  # surfaced by run(); a task must never die silently
                self._errors.append(error)
            finally:
                self._turn_over.set()

        threading.Thread(target=body, daemon=True, name="rehearsal-task").start()

    def _push(self, when: float, action: Callable[[], None]) -> _Event:
        event = _Event(when, next(self._seq), action)
        self._push_event(event)
        return event

    def _push_event(self, event: _Event) -> None:
        with self._lock:
            heapq.heappush(self._queue, event)

    def _pop(self) -> _Event | None:
        with self._lock:
            while self._queue:
                event = heapq.heappop(self._queue)
                if not event.cancelled:
                    return event
            return None
