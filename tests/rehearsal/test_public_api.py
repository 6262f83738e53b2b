"""The rehearsal's front door: what the README imports from ``mediapackage_harvest.rehearsal``, and a Python API
that is as quiet as the CLI unless asked for the handler's logs."""

from __future__ import annotations

import importlib
import logging

import pytest

import mediapackage_harvest.rehearsal as rehearsal_api
from mediapackage_harvest.rehearsal import Rehearsal, default_start
from tests.rehearsal.stacks import Synthesized


def test_the_public_names_import_from_the_package() -> None:
    for name in rehearsal_api.__all__:
        assert getattr(rehearsal_api, name).__module__.startswith("mediapackage_harvest.rehearsal.")
    assert {"Rehearsal", "Scenario", "Template", "Environment", "StackResult", "Timeline", "default_start"} <= set(
        rehearsal_api.__all__
    )
    with pytest.raises(AttributeError):
        rehearsal_api.NotAThing  # noqa: B018


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.mark.parametrize("handler_logs", [False, True], ids=["quiet-by-default", "handler-logs"])
def test_the_handler_logs_only_warnings_unless_asked(stacks: Synthesized, handler_logs: bool) -> None:
    template = stacks.template("One")
    collected = _Collect()
    with Rehearsal(start=default_start(template), handler_logs=handler_logs) as rehearsal:
        logger = logging.getLogger(importlib.import_module("harvest_logging").logger.name)
        logger.addHandler(collected)
        try:
            assert rehearsal.deploy(template).status == "CREATE_COMPLETE"
        finally:
            logger.removeHandler(collected)
    info = [r for r in collected.records if r.levelno < logging.WARNING]
    assert bool(info) is handler_logs
