"""Session fixtures built once per test run, however many pytest-xdist workers ask for them."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable
from typing import Any

import pytest


def once_per_run(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[], Any]) -> Any:
    """What ``build`` returns (JSON), built once per test run: under pytest-xdist the first worker to ask builds it
    and the others read it (xdist's way for a session fixture; each worker synthesized the same stacks again)."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return build()
    path = tmp_path_factory.getbasetemp().parent / f"{name}.json"  # the run's folder, shared by its workers
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, by a worker that failed too
        if not path.exists():
            written = path.with_suffix(".writing")
            written.write_text(json.dumps(build()))
            written.replace(path)  # whole or absent, even if this worker dies while writing
    return json.loads(path.read_text())
