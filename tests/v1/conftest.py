"""Fixtures for the MediaPackage v1 tests: valid props, and the repository importable as ``tests.v1``."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `tests.v1.v1_stacks` from any directory
    sys.path.insert(0, str(REPO))


@pytest.fixture
def v1_props() -> dict[str, Any]:
    """Valid ``MediaPackageV1HarvestJob`` props; a test overrides the one it is about."""
    return {
        "origin_endpoint_id": "hls",
        "start_time": datetime(2026, 1, 15, 10, 0, tzinfo=UTC),
        "end_time": datetime(2026, 1, 15, 10, 30, tzinfo=UTC),
        "destination_bucket": "harvest-bucket",
        "manifest_key": "clips/game/index.m3u8",
    }
