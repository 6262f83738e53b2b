"""The rehearsal's front door: what the README imports from ``mediapackage_harvest.rehearsal``, and a Python API
that is as quiet as the CLI unless asked for the handler's logs, what matters of them shown in the timeline."""

from __future__ import annotations

import io
import json

import pytest

import mediapackage_harvest.rehearsal as rehearsal_api
from mediapackage_harvest.rehearsal import Rehearsal, Scenario, default_start
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
def test_the_handler_prints_nothing_unless_asked_and_its_warnings_are_timeline_rows(
    stacks: Synthesized, handler_logs: bool
) -> None:
    template = stacks.template("One")
    scenario = Scenario.from_dict(
        {"faults": [{"operation": "CreateHarvestJob", "code": "ServiceQuotaExceededException", "attempts": [1]}]}
    )
    printed = io.StringIO()
    with Rehearsal(scenario, start=default_start(template), handler_logs=handler_logs) as rehearsal:
        output = handler_module("logs").logger.logger_handler  # what a user sees
        saved = output.setStream(printed)
        try:
            assert rehearsal.deploy(template).status == "CREATE_COMPLETE"
        finally:
            output.setStream(saved)
        (row,) = rehearsal.timeline.where("lambda", "log WARNING")
    levels = [json.loads(line)["level"] for line in printed.getvalue().splitlines()]
    assert bool(levels) is handler_logs  # quiet: not even the warning
    assert ("INFO" in levels and "WARNING" in levels) is handler_logs
    assert row.resource.startswith("Clip") and row.detail.startswith("Service quota exceeded; the create will be")
