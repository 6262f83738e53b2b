"""Fixtures for the emulator tests. ``flavour`` picks the service: each test module of one service overrides it
(``test_emulator_v2.py``: V2), the modules of what both share run over both."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mediapackage_harvest.rehearsal.emulator.base import ScriptedJobsEmulator
from mediapackage_harvest.rehearsal.scenario import Scenario
from tests.rehearsal.emulator.wire import FLAVOURS, FakeClock, Flavour


@pytest.fixture(params=FLAVOURS, ids=str)
def flavour(request: pytest.FixtureRequest) -> Flavour:
    chosen: Flavour = request.param
    return chosen


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def start_emulator(flavour: Flavour, clock: FakeClock) -> Iterator[Callable[..., ScriptedJobsEmulator]]:
    """Start an emulator of the flavour on the test's clock with a given scenario (and the v1 emulator's
    ``channels``); stopped when the test ends."""
    started: list[ScriptedJobsEmulator] = []

    def start(scenario: Scenario | None = None, **options: Any) -> ScriptedJobsEmulator:
        emulator = flavour.emulator(clock, scenario, **options).start()
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()


@pytest.fixture
def emulator(start_emulator: Callable[..., ScriptedJobsEmulator]) -> ScriptedJobsEmulator:
    return start_emulator()
