"""The rehearsal's virtual clock: time jumps, tasks interleave in a fixed order, errors surface."""

from __future__ import annotations

import time

import pytest

from mediapackage_harvest.rehearsal.virtual_clock import VirtualClock

START = 1_000_000.0


def test_an_hour_of_sleeping_takes_no_real_time() -> None:
    clock = VirtualClock(START)
    seen: list[float] = []

    def task() -> None:
        for _ in range(60):
            clock.sleep(60)
        seen.append(clock.time())

    began = time.monotonic()
    clock.spawn(task)
    clock.run()
    assert seen == [START + 3600]
    assert time.monotonic() - began < 5


def test_tasks_interleave_by_virtual_time_then_by_scheduling_order() -> None:
    clock = VirtualClock(START)
    log: list[tuple[str, float]] = []

    def worker(name: str, step: float) -> None:
        for _ in range(3):
            log.append((name, clock.time() - START))
            clock.sleep(step)

    clock.spawn(lambda: worker("a", 2))
    clock.spawn(lambda: worker("b", 3))
    clock.run()
    assert log == [("a", 0), ("b", 0), ("a", 2), ("b", 3), ("a", 4), ("b", 6)]


def test_a_cancelled_timer_never_fires_and_run_stops_at_the_limit() -> None:
    clock = VirtualClock(START)
    fired: list[str] = []
    timer = clock.call_later(10, lambda: fired.append("cancelled"))
    clock.call_later(20, lambda: fired.append("kept"))
    clock.call_later(500, lambda: fired.append("late"))
    timer.cancel()
    clock.run(limit=START + 100)
    assert fired == ["kept"]
    assert clock.pending() == 1


def test_an_error_in_a_task_is_raised_by_run() -> None:
    clock = VirtualClock(START)

    def broken() -> None:
        clock.sleep(5)
        raise RuntimeError("boom")

    clock.spawn(broken)
    with pytest.raises(RuntimeError, match="boom"):
        clock.run()
    assert clock.time() == START + 5
