"""Synth fixtures: valid props of both job constructs, one CDK App per test module (jsii starts once per session),
a fresh stack per test."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import pytest
from aws_cdk import App, Stack

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `tests.*` helpers, whichever test file pytest was started with
    sys.path.insert(0, str(REPO))

from tests.rehearsal.stacks import JOB_PROPS  # noqa: E402

CODE_CHECK = "test_the_code_is_clean"  # tests/test_code_quality.py, parametrized by the command to run


class BackgroundChecks:
    """The repository's code checks, each started once as its own process; ``result`` waits for one.

    Under pytest-xdist every worker collects every test, so the workers share one run of each check through
    ``shared`` (a folder of the test run): the first to claim a check runs it and writes its result there, the
    others wait for that file (strict mypy over aws-cdk-lib's types costs a minute and a half of CPU when cold).
    """

    def __init__(self, shared: Path | None = None) -> None:
        self._shared = shared
        self._running: dict[tuple[str, ...], tuple[subprocess.Popen[bytes], IO[bytes]]] = {}
        self._elsewhere: set[tuple[str, ...]] = set()
        self._publishers: list[threading.Thread] = []
        self._reading = threading.Lock()  # the publisher thread and a test may both ask for a result

    def start(self, command: list[str]) -> None:
        key = tuple(command)
        if key in self._running or key in self._elsewhere:
            return
        if self._shared is not None and not self._claim(command):
            self._elsewhere.add(key)
            return
        output = tempfile.TemporaryFile()  # noqa: SIM115 - read by result(), closed by stop()
        process = subprocess.Popen([sys.executable, "-m", *command], cwd=REPO, stdout=output, stderr=subprocess.STDOUT)
        self._running[key] = (process, output)
        if self._shared is not None:
            publisher = threading.Thread(target=self._publish, args=(command,), daemon=True)
            publisher.start()
            self._publishers.append(publisher)

    def result(self, command: list[str]) -> tuple[int, str]:
        """The check's exit code and output (started here if collection did not start it)."""
        self.start(command)
        if tuple(command) in self._elsewhere:
            return self._published(command)
        process, output = self._running[tuple(command)]
        returncode = process.wait()
        with self._reading:
            output.seek(0)
            return returncode, output.read().decode(errors="replace")

    def stop(self) -> None:
        for publisher in self._publishers:  # other workers wait for these results
            publisher.join()
        for process, output in self._running.values():
            process.kill()
            process.wait()
            output.close()

    def _file(self, command: list[str], suffix: str) -> Path:
        assert self._shared is not None
        return self._shared / (re.sub(r"[^a-z0-9]+", "-", " ".join(command)) + suffix)

    def _claim(self, command: list[str]) -> bool:
        """Whether this process runs the check for the whole test run (the first to create its claim does)."""
        assert self._shared is not None
        self._shared.mkdir(parents=True, exist_ok=True)
        try:
            os.close(os.open(self._file(command, ".claim"), os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return False
        return True

    def _publish(self, command: list[str]) -> None:
        returncode, output = self.result(command)
        written = self._file(command, ".writing")
        written.write_text(json.dumps({"returncode": returncode, "output": output}))
        written.replace(self._file(command, ".json"))

    def _published(self, command: list[str]) -> tuple[int, str]:
        path, deadline = self._file(command, ".json"), time.monotonic() + CHECK_WAIT_SECONDS
        while not path.exists():
            if time.monotonic() > deadline:
                return 1, f"no result from the worker running {command} within {CHECK_WAIT_SECONDS} s"
            time.sleep(0.5)
        found = json.loads(path.read_text())
        return int(found["returncode"]), str(found["output"])


CHECKS_KEY = pytest.StashKey[BackgroundChecks]()
CHECK_WAIT_SECONDS = 900.0


def _shared_folder(run: str) -> Path:
    return Path(tempfile.gettempdir()) / f"mediapackage-harvest-checks-{run}"


def _checks(config: pytest.Config) -> BackgroundChecks:
    """This process's checks; shared by the run's xdist workers through a folder named after the run."""
    run = getattr(config, "workerinput", {}).get("testrunuid")
    return config.stash.setdefault(CHECKS_KEY, BackgroundChecks(_shared_folder(run) if run else None))


def pytest_configure(config: pytest.Config) -> None:
    """The xdist controller names the run itself (xdist's ``--testrunuid``), so that it can remove the checks'
    shared folder once the workers are done."""
    if not hasattr(config, "workerinput") and config.getoption("testrunuid", None) is None:
        config.option.testrunuid = uuid.uuid4().hex


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the selected code checks now: they run beside the tests that come before them (mypy takes longest)."""
    checks = _checks(session.config)
    for item in session.items:
        callspec = getattr(item, "callspec", None)
        if getattr(item, "originalname", "") == CODE_CHECK and callspec is not None:
            checks.start(list(callspec.params["command"]))


def pytest_unconfigure(config: pytest.Config) -> None:
    checks = config.stash.get(CHECKS_KEY, None)
    if checks is not None:
        checks.stop()
    if not hasattr(config, "workerinput") and config.getoption("testrunuid", None):  # the controller, last
        shutil.rmtree(_shared_folder(config.getoption("testrunuid")), ignore_errors=True)


@pytest.fixture(scope="session")
def code_checks(pytestconfig: pytest.Config) -> BackgroundChecks:
    return _checks(pytestconfig)


@pytest.fixture
def job_props() -> dict[str, Any]:
    """Valid ``HarvestJob`` props; a test overrides the one it is about."""
    return dict(JOB_PROPS)


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
