"""Fixtures for the rehearsal tests: the scenario stacks, synthesized once per test run (jsii is slow)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `tests.rehearsal.stacks`, whatever directory pytest was started from
    sys.path.insert(0, str(REPO))

from tests.once_per_run import once_per_run  # noqa: E402
from tests.rehearsal.stacks import Synthesized, synthesize  # noqa: E402


@pytest.fixture(scope="session")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    def build() -> dict[str, Any]:
        synthesized = synthesize(tmp_path_factory.mktemp("cdk-out"))
        return {"first": synthesized.first, "updated": synthesized.updated}

    return Synthesized(**once_per_run(tmp_path_factory, "rehearsal-stacks", build))
