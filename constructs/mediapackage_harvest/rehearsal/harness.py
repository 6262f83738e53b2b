"""The deploy rehearsal in one object: every service the handler talks to, on one machine, on virtual time.

``Rehearsal`` starts the MediaPackage emulator, moto (EventBridge, Lambda, CloudWatch Logs) and the local
HTTPS endpoint that receives CloudFormation responses, points unmodified boto3 at them through
``AWS_ENDPOINT_URL_<SERVICE>``, runs the handler from the Lambda asset exactly as bundled, and plays
CloudFormation against it. Use it from pytest::

    from mediapackage_harvest.rehearsal import Rehearsal, Template

    def test_my_stack_deploys(tmp_path):
        template = Template.load(Path("cdk.out/MyStack.template.json"))
        with Rehearsal() as rehearsal:
            result = rehearsal.deploy(template)
            assert result.status == "CREATE_COMPLETE"
            assert rehearsal.destroy().status == "DELETE_COMPLETE"
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from mediapackage_harvest import spec
from mediapackage_harvest.bundling import build_asset
from mediapackage_harvest.rehearsal.cfn_endpoint import CloudFormationEndpoint
from mediapackage_harvest.rehearsal.cloudformation import (
    CloudFormation,
    LambdaFunction,
    RuleScheduler,
    StackResult,
)
from mediapackage_harvest.rehearsal.emulator import MediaPackageV1Emulator, MediaPackageV2Emulator
from mediapackage_harvest.rehearsal.scenario import Scenario
from mediapackage_harvest.rehearsal.template import Template
from mediapackage_harvest.rehearsal.timeline import Timeline
from mediapackage_harvest.rehearsal.virtual_clock import VirtualClock

# Lambda asks for what it can; the rehearsal's stand-in credentials reach only local servers.
_FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "rehearsal", "AWS_SECRET_ACCESS_KEY": "rehearsal", "AWS_SESSION_TOKEN": ""}


@dataclass(frozen=True)
class Figures:
    """What a rehearsal cost, for reports and benchmarks."""

    lambda_invocations: int
    billed_lambda_ms: int
    mediapackage_calls: dict[str, int]
    eventbridge_polls: int
    rules_left: int


class Rehearsal:
    """See the module docstring. Not re-entrant; one rehearsal at a time per process."""

    def __init__(self, scenario: Scenario | None = None, *, start: datetime | None = None) -> None:
        self.scenario = scenario or Scenario()
        self._start = start
        self._stack = ExitStack()
        self.clock: VirtualClock
        self.timeline: Timeline
        self.emulator: MediaPackageV2Emulator
        self.emulator_v1: MediaPackageV1Emulator
        self.endpoint: CloudFormationEndpoint
        self.events: Any
        self.cloudformation: CloudFormation | None = None
        self.functions: dict[str, LambdaFunction] = {}
        self.schedulers: list[RuleScheduler] = []
        self.results: list[StackResult] = []

    # Lifecycle ---------------------------------------------------------------------------------------------
    def __enter__(self) -> Rehearsal:
        start = (self._start or datetime(2026, 1, 1, tzinfo=UTC)).timestamp()
        self.clock = VirtualClock(start)
        self.timeline = Timeline(origin=start)
        self.emulator = self._stack.enter_context(MediaPackageV2Emulator(self.clock, self.scenario))
        self.emulator.on_event(lambda at, kind, detail: self.timeline.add(at, "mediapackage", *_split(kind, detail)))
        self.emulator_v1 = self._stack.enter_context(MediaPackageV1Emulator(self.clock, self.scenario))
        self.emulator_v1.on_event(
            lambda at, kind, detail: self.timeline.add(at, "mediapackage-v1", *_split(kind, detail))
        )
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto.start()
        self._stack.callback(moto.stop)
        moto_url = "http://{}:{}".format(*moto.get_host_and_port())
        self.endpoint = self._stack.enter_context(CloudFormationEndpoint())
        self._stack.enter_context(
            _environment(
                {
                    **_FAKE_CREDENTIALS,
                    "AWS_REGION": "us-east-1",
                    "AWS_DEFAULT_REGION": "us-east-1",
                    "AWS_ENDPOINT_URL_MEDIAPACKAGEV2": self.emulator.url,
                    "AWS_ENDPOINT_URL_MEDIAPACKAGE": self.emulator_v1.url,
                    "AWS_ENDPOINT_URL_EVENTBRIDGE": moto_url,
                    "AWS_ENDPOINT_URL_LAMBDA": moto_url,
                    "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": moto_url,
                    "SSL_CERT_FILE": str(self.endpoint.ca_file),
                }
            )
        )
        self.events = boto3.client("events", region_name="us-east-1", endpoint_url=moto_url)
        self._handler_module = load_handler_module()
        self._stack.enter_context(_handler_using(self._handler_module, self.clock))
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stack.close()

    # Stack operations --------------------------------------------------------------------------------------
    def deploy(self, template: Template) -> StackResult:
        """Create the stack, or update it when this rehearsal already created one."""
        cloudformation = self._cloudformation_for(template)
        result = cloudformation.update(template) if cloudformation.template else cloudformation.create(template)
        self.results.append(result)
        return result

    def destroy(self) -> StackResult:
        if self.cloudformation is None:
            raise RuntimeError("nothing deployed")
        result = self.cloudformation.delete()
        self.results.append(result)
        return result

    def figures(self) -> Figures:
        calls: dict[str, int] = {}
        for call in self.emulator.calls:
            calls[call.operation] = calls.get(call.operation, 0) + 1
        rules = set().union(*(s.rule_names() for s in self.schedulers)) if self.schedulers else set()
        return Figures(
            lambda_invocations=sum(f.invocations for f in self.functions.values()),
            billed_lambda_ms=sum(f.billed_ms for f in self.functions.values()),
            mediapackage_calls=calls,
            eventbridge_polls=sum(s.fired for s in self.schedulers),
            rules_left=len(rules),
        )

    # Internals ---------------------------------------------------------------------------------------------
    def _cloudformation_for(self, template: Template) -> CloudFormation:
        for logical_id in template.harvest_job_ids():
            function_id = template.function_id_of(logical_id)
            if function_id not in self.functions:
                self.functions[function_id] = self._function(template, function_id)
        if self.cloudformation is None:
            self.cloudformation = CloudFormation(self.clock, self.endpoint, self.functions, self.timeline)
        return self.cloudformation

    def _function(self, template: Template, function_id: str) -> LambdaFunction:
        environment = template.function_environment(function_id)
        os.environ.update(environment)  # one process plays the function: its configuration becomes ours
        name = template.function_name(function_id)
        env = template.env
        function = LambdaFunction(
            clock=self.clock,
            handler=self._handler_module.handler,
            name=name,
            arn=f"arn:{env.partition}:lambda:{env.region}:{env.account}:function:{name}",
            timeout=template.function_timeout(function_id),
            timeline=self.timeline,
        )
        scheduler = RuleScheduler(
            self.clock, self.events, environment.get(spec.POLL_RULE_PREFIX_ENV, ""), function, self.timeline
        )
        function.after_invocation = scheduler.notice_new_rules
        self.schedulers.append(scheduler)
        return function


def default_start(template: Template, margin: timedelta = timedelta(minutes=5)) -> datetime:
    """A rehearsal start just after the latest harvest window in the template ends (start times must be past)."""
    ends = [
        spec.parse_timestamp(template.properties(rid)[spec.SCHEDULE]["EndTime"]) for rid in template.harvest_job_ids()
    ]
    return (max(ends) if ends else datetime(2026, 1, 1, tzinfo=UTC)) + margin


_handler_module: ModuleType | None = None


def load_handler_module() -> ModuleType:
    """The handler as the Lambda asset bundles it (built once per process into a temporary folder)."""
    global _handler_module
    if _handler_module is None:
        asset = Path(tempfile.mkdtemp(prefix="harvest-asset-"))
        build_asset(asset)
        sys.path.insert(0, str(asset))
        _handler_module = importlib.import_module("index")
    return _handler_module


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def _handler_using(module: ModuleType, clock: VirtualClock) -> Iterator[None]:
    """Point the handler at the virtual clock and fresh clients (the endpoints change per rehearsal)."""
    handler_clock = importlib.import_module("handler_clock")
    handler_clock.use(clock)
    reset = getattr(module, "reset_clients", None)
    if reset:
        reset()
    try:
        yield
    finally:
        handler_clock.use(handler_clock.SystemClock())
        if reset:
            reset()


def _split(kind: str, detail: str) -> tuple[str, str, str]:
    """Emulator events carry the job name first in their detail: 'name: rest'."""
    name, _, rest = detail.partition(": ")
    return name, kind, rest
