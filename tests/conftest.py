"""Synth fixtures: valid props of both job constructs, one CDK App per test module (jsii starts once per session),
a fresh stack per test."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import pytest
from aws_cdk import App, Stack

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `tests.*` helpers, whichever test file pytest was started with
    sys.path.insert(0, str(REPO))

CODE_CHECK = "test_the_code_is_clean"  # tests/test_code_quality.py, parametrized by the command to run


class BackgroundChecks:
    """The repository's code checks, each started once as its own process; ``result`` waits for one."""

    def __init__(self) -> None:
        self._running: dict[tuple[str, ...], tuple[subprocess.Popen[bytes], IO[bytes]]] = {}

    def start(self, command: list[str]) -> None:
        if tuple(command) not in self._running:
            output = tempfile.TemporaryFile()  # noqa: SIM115 - read by result(), closed by stop()
            process = subprocess.Popen(
                [sys.executable, "-m", *command], cwd=REPO, stdout=output, stderr=subprocess.STDOUT
            )
            self._running[tuple(command)] = (process, output)

    def result(self, command: list[str]) -> tuple[int, str]:
        """The check's exit code and output (started here if collection did not start it)."""
        self.start(command)
        process, output = self._running[tuple(command)]
        returncode = process.wait()
        output.seek(0)
        return returncode, output.read().decode(errors="replace")

    def stop(self) -> None:
        for process, output in self._running.values():
            process.kill()
            process.wait()
            output.close()


CHECKS_KEY = pytest.StashKey[BackgroundChecks]()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the selected code checks now: they run beside the tests that come before them (mypy takes longest)."""
    checks = session.config.stash.setdefault(CHECKS_KEY, BackgroundChecks())
    for item in session.items:
        callspec = getattr(item, "callspec", None)
        if getattr(item, "originalname", "") == CODE_CHECK and callspec is not None:
            checks.start(list(callspec.params["command"]))


def pytest_unconfigure(config: pytest.Config) -> None:
    checks = config.stash.get(CHECKS_KEY, None)
    if checks is not None:
        checks.stop()


@pytest.fixture(scope="session")
def code_checks(pytestconfig: pytest.Config) -> BackgroundChecks:
    return pytestconfig.stash.setdefault(CHECKS_KEY, BackgroundChecks())


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
