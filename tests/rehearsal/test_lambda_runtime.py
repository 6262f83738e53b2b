"""The rehearsal's Lambda runtime: the handler loads without leaving the asset on ``sys.path``, and every
rehearsal ends an invocation at the function's Timeout, as Lambda does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from mediapackage_harvest.rehearsal.cloudformation import LambdaFunction
from mediapackage_harvest.rehearsal.harness import Rehearsal
from mediapackage_harvest.rehearsal.lambda_runtime import LambdaClock, handler_module
from mediapackage_harvest.rehearsal.timeline import Timeline
from mediapackage_harvest.rehearsal.virtual_clock import VirtualClock

REPO = Path(__file__).resolve().parents[2]
START = 1_000_000.0


def test_loading_the_handler_leaves_sys_path_top_level_names_and_temporary_files_alone(tmp_path: Path) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    probe = (
        "import os, sys\n"
        "before = list(sys.path)\n"
        "from mediapackage_harvest.rehearsal.lambda_runtime import load_handler_module\n"
        "module = load_handler_module()\n"
        "assert callable(module.handler)\n"
        "assert sys.path == before, [p for p in sys.path if p not in before]\n"
        "assert 'index' not in sys.modules, 'the asset entry module took the top-level name index'\n"
        "asset = os.path.dirname(module.__file__)\n"
        "assert sys.modules['harvest_handler.clock'].__file__.startswith(asset)\n"
        "print(asset)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "constructs"), "TMPDIR": str(temporary)}
    run = subprocess.run([sys.executable, "-B", "-c", probe], check=True, cwd=tmp_path, env=env, capture_output=True)
    assert run.stdout.decode().startswith(str(temporary))  # the asset was built there ...
    assert list(temporary.iterdir()) == []  # ... and removed when the process ended (a CLI run left one behind)


def test_lambda_ends_an_invocation_at_its_timeout() -> None:
    clock, timeline = VirtualClock(START), Timeline(origin=START)
    lambda_clock = LambdaClock(clock)
    reached: list[str] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        reached.append("started")
        lambda_clock.call_later(30, lambda: reached.append("timer after the timeout"))
        lambda_clock.sleep(5)
        reached.append("slept 5 s")
        try:
            lambda_clock.sleep(60)
        except Exception:  # the handler's own error handling cannot catch Lambda ending it
            reached.append("caught")
        reached.append("slept past the timeout")

    function = LambdaFunction(clock, handler, "f", "arn:aws:lambda:us-east-1:1:function:f", 10.0, timeline)
    function.invoke({"LogicalResourceId": "Clip"}, "test", "Clip")
    clock.run()

    assert reached == ["started", "slept 5 s"]
    (ended,) = timeline.where("lambda", "ended at timeout")
    assert ended.at == 10.0 and ended.detail == "after 10.0 s"
    assert function.billed_ms == 10_000


def test_the_plain_rehearsal_runs_the_handler_on_lambdas_clock() -> None:
    with Rehearsal():
        assert isinstance(handler_module("clock").current, LambdaClock)
    assert not isinstance(handler_module("clock").current, LambdaClock)
