"""Fixtures for the reliability tests: the stacks (synthesized once per test run), and the fault matrix's table
(cells tried and passed) and measured figures printed at the end of the run, with or without ``-s``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `tests.reliability.*`, whatever directory pytest was started from
    sys.path.insert(0, str(REPO))

from tests.once_per_run import once_per_run  # noqa: E402
from tests.reliability.helpers import Stacks, synthesize  # noqa: E402
from tests.reliability.matrix import table  # noqa: E402

MATRIX_RESULTS = pytest.StashKey[dict[str, bool]]()
NOTES = pytest.StashKey[list[str]]()


@pytest.fixture(scope="session")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> Stacks:
    return Stacks(once_per_run(tmp_path_factory, "reliability-stacks", lambda: synthesize().bodies))


@pytest.fixture
def matrix_results(request: pytest.FixtureRequest) -> dict[str, bool]:
    """Where each matrix cell records whether it passed, for the table."""
    return request.config.stash.setdefault(MATRIX_RESULTS, {})


@pytest.fixture
def reliability_notes(request: pytest.FixtureRequest) -> list[str]:
    """Figures a test measured, printed with the table."""
    return request.config.stash.setdefault(NOTES, [])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    results = config.stash.get(MATRIX_RESULTS, {})
    if results:
        terminalreporter.section("fault matrix")
        terminalreporter.write_line(table(results))
    for note in config.stash.get(NOTES, []):
        terminalreporter.write_line(note)
