"""Shared pieces of the reliability tests: the stacks (synthesized once), log capture, and what a user would
notice after a rehearsal (answers per request, reasons, jobs, rules left, secrets in logs)."""

from __future__ import annotations

import copy
import importlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

from aws_cdk import App, Duration, Stack

from mediapackage_harvest import HarvestJob
from mediapackage_harvest.rehearsal.harness import Rehearsal
from mediapackage_harvest.rehearsal.lambda_runtime import load_handler_module
from mediapackage_harvest.rehearsal.template import WAIT_HANDLE_TYPE, Environment, Template
from tests.rehearsal import stacks
from tests.rehearsal.stacks import END

REHEARSAL_START = END + timedelta(minutes=5)
JOB_PROPS: dict[str, Any] = {**stacks.JOB_PROPS, "timeout": Duration.minutes(10)}
CROWD = 60  # jobs polling at once in one stack
REASON_MAX = 256
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
TASK_THREAD = "rehearsal-task"  # the virtual clock's name for the threads that run the handler


@dataclass(frozen=True)
class Stacks:
    """Synthesized template bodies; :meth:`template` hands out a fresh, writable copy."""

    bodies: dict[str, dict[str, Any]]

    def template(self, name: str) -> Template:
        return Template(copy.deepcopy(self.bodies[name]), Environment(stack_name=name))


def synthesize() -> Stacks:
    """Every stack the reliability tests rehearse, in one App (jsii and bundling cost seconds per App)."""
    app = App()
    HarvestJob(Stack(app, "FaultMatrix"), "Clip", **JOB_PROPS)
    no_wait = {**JOB_PROPS, "wait_for_completion": False, "tags": {"team": "media", "old": "x"}}
    HarvestJob(Stack(app, "FaultMatrixNoWait"), "Clip", **no_wait)
    HarvestJob(Stack(app, "LongWait"), "Clip", **{**JOB_PROPS, "timeout": Duration.hours(2)})
    crowd = Stack(app, "Crowd")
    for index in range(CROWD):
        HarvestJob(crowd, f"Clip{index:02d}", **JOB_PROPS)
    assembly = app.synth()
    names = ("FaultMatrix", "FaultMatrixNoWait", "Crowd", "LongWait")
    return Stacks({name: assembly.get_stack_by_name(name).template for name in names})


# Logs --------------------------------------------------------------------------------------------------------


class LogCapture(logging.Handler):
    """Every record the handler's threads log, as it would be printed: Powertools' lines through Powertools' own
    formatter, any other logger's (botocore, crhelper, urllib3...) with its message and traceback."""

    def __init__(self, powertools_name: str, powertools_formatter: logging.Formatter) -> None:
        super().__init__(logging.NOTSET)
        self.powertools_name = powertools_name
        self.powertools_formatter = powertools_formatter
        self.plain = logging.Formatter("%(name)s %(levelname)s %(message)s")
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if record.threadName != TASK_THREAD:
            return  # a stand-in service's own server threads: not the handler's logs
        formatter = self.powertools_formatter if record.name == self.powertools_name else self.plain
        with self._lock:
            self.lines.append(formatter.format(record))


@contextmanager
def handler_logs(level: str) -> Iterator[LogCapture]:
    """Capture the handler's logs with its logger at ``level`` (what POWERTOOLS_LOG_LEVEL sets at a cold start;
    the rehearsal imports the handler once per process, so the level is set on the logger itself)."""
    load_handler_module()
    powertools = importlib.import_module("harvest_handler.logs").logger
    own = logging.getLogger(powertools.name)
    root = logging.getLogger()
    capture = LogCapture(powertools.name, powertools.registered_formatter)
    saved = own.level, root.level
    own.setLevel(level)
    root.setLevel(logging.DEBUG)  # whatever a library would print at any level reaches the capture
    loggers = [root] if own.propagate else [root, own]  # each record once
    for logger in loggers:
        logger.addHandler(capture)
    try:
        yield capture
    finally:
        for logger in loggers:
            logger.removeHandler(capture)
        own.setLevel(saved[0])
        root.setLevel(saved[1])


def leaked_secrets(lines: list[str], rehearsal: Rehearsal) -> list[str]:
    """Each log line that holds a request's ResponseURL or a wait condition handle's URL (the long-wait mode's
    signal URL), its query string or its signature."""
    secrets: list[str] = []
    cloudformation = rehearsal.cloudformation
    for request in cloudformation.requests if cloudformation else []:
        urls = [rehearsal.endpoint.response_url(request.request_id)]
        if request.event.get("ResourceType") == WAIT_HANDLE_TYPE and request.request_type == "Create":
            urls.append(str((request.response or {}).get("PhysicalResourceId")))
        for url in urls:
            query = url.partition("?")[2]
            secrets += [url, query, *parse_qs(query).get("X-Amz-Signature", [])]
    return [line[:200] for line in lines if any(secret in line for secret in secrets)]


# What a user would notice ---------------------------------------------------------------------------------------


def answers(rehearsal: Rehearsal) -> dict[str, list[dict[str, Any]]]:
    """Every response body CloudFormation received, per request id, for every request it sent."""
    cloudformation = rehearsal.cloudformation
    requests = cloudformation.requests if cloudformation else []
    return {r.request_id: rehearsal.endpoint.responses_for(r.request_id) for r in requests}


def statuses(rehearsal: Rehearsal) -> list[str]:
    return [result.status for result in rehearsal.results]


def job_names(rehearsal: Rehearsal) -> set[str]:
    """The names the handler used with MediaPackage (jobs it created, or tried to)."""
    return {call.job_name for call in rehearsal.emulator.calls if call.job_name}
