"""The rehearsal's front door: what the README imports from ``mediapackage_harvest.rehearsal``, and a Python API
that is as quiet as the CLI unless asked for the handler's logs."""

from __future__ import annotations

import io
import json

import pytest

import mediapackage_harvest.rehearsal as rehearsal_api
from mediapackage_harvest.rehearsal import Rehearsal, default_start
from mediapackage_harvest.rehearsal.lambda_runtime import handler_module
from tests.rehearsal.stacks import Synthesized


def test_the_public_names_import_from_the_package() -> None:
    for name in rehearsal_api.__all__:
        assert getattr(rehearsal_api, name).__module__.startswith("mediapackage_harvest.rehearsal.")
    assert {"Rehearsal", "Scenario", "Template", "Environment", "StackResult", "Timeline", "default_start"} <= set(
        rehearsal_api.__all__
    )
    with pytest.raises(AttributeError):
        rehearsal_api.NotAThing  # noqa: B018


@pytest.mark.parametrize("handler_logs", [False, True], ids=["quiet-by-default", "handler-logs"])
def test_the_handler_prints_only_warnings_unless_asked(stacks: Synthesized, handler_logs: bool) -> None:
    template = stacks.template("One")
    printed = io.StringIO()
    with Rehearsal(start=default_start(template), handler_logs=handler_logs) as rehearsal:
        output = handler_module("logs").logger.logger_handler  # what a user sees
        saved = output.setStream(printed)
        try:
            assert rehearsal.deploy(template).status == "CREATE_COMPLETE"
        finally:
            output.setStream(saved)
    levels = [json.loads(line)["level"] for line in printed.getvalue().splitlines()]
    assert ("INFO" in levels) is handler_logs
    assert all(level in ("WARNING", "ERROR") for level in levels) is not handler_logs
