"""Synth fixtures: valid props of both job constructs, one CDK App per test module (jsii starts once per session),
a fresh stack per test."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `tests.*` helpers, whichever test file pytest was started with
    sys.path.insert(0, str(REPO))


@pytest.fixture
def job_props() -> dict[str, Any]:
    """Valid ``HarvestJob`` props; a test overrides the one it is about."""
    return {
        "channel_group_name": "live",
        "channel_name": "main",
        "origin_endpoint_name": "hls",
        "hls_manifests": ["index"],
        "start_time": datetime(2026, 1, 15, 10, 0, tzinfo=UTC),
        "end_time": datetime(2026, 1, 15, 10, 30, tzinfo=UTC),
        "destination_bucket": "harvest-bucket",
        "destination_path": "clips/",
    }


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


@pytest.fixture(scope="module")
def cdk_app() -> App:
    return App()


@pytest.fixture
def stack(cdk_app: App, request: pytest.FixtureRequest) -> Stack:
    """A stack named after the test, in the module's App."""
    return Stack(cdk_app, re.sub(r"[^A-Za-z0-9-]", "-", request.node.name)[:100])
