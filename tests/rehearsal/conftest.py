"""Fixtures for the rehearsal tests: the scenario stacks, synthesized once per session (jsii is slow)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `tests.rehearsal.stacks`, whatever directory pytest was started from
    sys.path.insert(0, str(REPO))

from tests.rehearsal.stacks import Synthesized, synthesize  # noqa: E402


@pytest.fixture(scope="session")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk-out"))
