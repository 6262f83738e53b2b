"""The deploy rehearsal in one object: every service the handler talks to, on one machine, on virtual time.

``Rehearsal`` starts the MediaPackage emulator, moto (EventBridge, Lambda, CloudWatch Logs) and the local
HTTPS endpoint that receives CloudFormation responses, points unmodified boto3 at them through
``AWS_ENDPOINT_URL_<SERVICE>``, runs the handler from the Lambda asset exactly as bundled (ending each
invocation at the function's Timeout, as Lambda does), and plays CloudFormation against it. Use it from pytest::

    from mediapackage_harvest.rehearsal import Rehearsal, Template

    def test_my_stack_deploys(tmp_path):
        template = Template.load(Path("cdk.out/MyStack.template.json"))
        with Rehearsal() as rehearsal:
            result = rehearsal.deploy(template)
            assert result.status == "CREATE_COMPLETE"
            assert rehearsal.destroy().status == "DELETE_COMPLETE"

Two runs of the same rehearsal give the same timeline: time is virtual, and the one source of chance in the
handler's path, botocore's retry jitter (``random.random``), is seeded with ``seed`` for the rehearsal's
duration (the process's ``random`` state is put back afterwards). moto keeps its state per process (one server
per process serves every rehearsal), so each rehearsal starts from a reset moto; it plays each function as a
moto Lambda function too, so a permission the handler added per polling rule would show up in
:meth:`Rehearsal.lambda_policy_statements`.
"""

from __future__ import annotations

import io
import json
import logging
import random
import sys
import threading
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from mediapackage_harvest.contract import spec
from mediapackage_harvest.rehearsal.authorization import ALWAYS_ASSUMED, Authorizer, Identity
from mediapackage_harvest.rehearsal.cfn_endpoint import HANDLE_URL_ASSUMED, RESPONSE_URL_ASSUMED, CloudFormationEndpoint
from mediapackage_harvest.rehearsal.cloudformation import CloudFormation, LambdaFunction, StackResult
from mediapackage_harvest.rehearsal.emulator import MediaPackageV1Emulator, MediaPackageV2Emulator
from mediapackage_harvest.rehearsal.emulator.endpoints import NOTHING_BEFORE_CREATION
from mediapackage_harvest.rehearsal.environment import environment
from mediapackage_harvest.rehearsal.event_bus import EventBridgeApi, EventBus, Scheduler
from mediapackage_harvest.rehearsal.lambda_runtime import (
    handler_module,
    handler_seams,
    load_handler_module,
    new_default_session,
)
from mediapackage_harvest.rehearsal.scenario import Scenario
from mediapackage_harvest.rehearsal.surroundings import Surroundings, declared_endpoint_keys
from mediapackage_harvest.rehearsal.template import WAIT_HANDLE_TYPE, Environment, Template
from mediapackage_harvest.rehearsal.timeline import Timeline
from mediapackage_harvest.rehearsal.virtual_clock import VirtualClock

# Lambda asks for what it can; the rehearsal's stand-in credentials reach only local servers.
_FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "rehearsal", "AWS_SECRET_ACCESS_KEY": "rehearsal", "AWS_SESSION_TOKEN": ""}
_LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


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

    endpoint_class: type[CloudFormationEndpoint] = CloudFormationEndpoint
    """The stand-in for CloudFormation's response URLs (a subclass may refuse some PUTs)."""

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        start: datetime | None = None,
        seed: int = 0,
        duplicate_deliveries: Mapping[str, float] | None = None,
        handler_logs: bool = False,
    ) -> None:
        """Set up a rehearsal; the services start when the ``with`` block is entered.

        :param scenario: what the MediaPackage emulators do (job timings, outcomes, faults); default: every job
            completes after 35 s.
        :param start: the deploy time: the virtual time the rehearsal deploys at, as a real deploy would (windows
            must have started, and lie within the endpoint's startover window; a real-time harvest runs until its
            end). Default: now, as ``mediapackage-harvest-rehearse`` without ``--deploy-time``. Give a fixed time
            for a test whose windows are fixed.
        :param seed: seeds ``random`` while the rehearsal runs (botocore's retry jitter), for the same timeline on
            every run.
        :param duplicate_deliveries: maps a request type (``"Create"``, ...) to the delay in seconds of a second
            delivery of each such request, to rehearse Lambda's at-least-once delivery.
        :param handler_logs: print the handler's log lines (JSON, every level), as ``--handler-logs`` does; by
            default none are printed, so a test's output stays readable. Either way each warning or error the
            handler logs (a quota retry, a deadline) is a row of :attr:`timeline`.
        """
        self.scenario = scenario or Scenario()
        self._handler_logs = handler_logs
        self._start = start
        self._seed = seed
        self._duplicate_deliveries = dict(duplicate_deliveries or {})
        self._stack = ExitStack()
        self.clock: VirtualClock
        self.timeline: Timeline
        self.emulator: MediaPackageV2Emulator
        self.emulator_v1: MediaPackageV1Emulator
        self.endpoint: CloudFormationEndpoint
        self.events: Any
        self.cloudformation: CloudFormation | None = None
        self.functions: dict[str, LambdaFunction] = {}
        self.scheduler: Scheduler
        self.results: list[StackResult] = []
        self.assumptions: list[str] = []
        """What the rehearsal took for granted about resources outside the stack (one line each, starting with
        the harvest job's logical id): endpoints and buckets neither the stack nor the scenario declares."""
        self._endpoints_created: dict[str, float | None] = {}  # the stack's endpoints, when a deploy created them
        self._deployed = False  # whether a deploy came before (its stack may have been destroyed since)

    # Lifecycle ---------------------------------------------------------------------------------------------
    def __enter__(self) -> Rehearsal:
        self._stack.enter_context(_seeded_random(self._seed))
        start = (self._start or datetime.now(UTC).replace(microsecond=0)).timestamp()
        self.clock = VirtualClock(start)
        self.timeline = Timeline(origin=start)
        self.emulator = self._stack.enter_context(MediaPackageV2Emulator(self.clock, self.scenario))
        self.emulator.on_event(lambda at, kind, detail: self.timeline.add(at, "mediapackage", *_split(kind, detail)))
        self.emulator_v1 = self._stack.enter_context(MediaPackageV1Emulator(self.clock, self.scenario))
        self.emulator_v1.on_event(
            lambda at, kind, detail: self.timeline.add(at, "mediapackage-v1", *_split(kind, detail))
        )
        moto_url = shared_moto_url()
        _reset_moto(moto_url)  # moto's backends are per process: start from nothing, whatever ran before
        self._stack.callback(_reset_moto, moto_url)
        self.authorizer = Authorizer(Environment(stack_name=""))
        for emulator in (self.emulator, self.emulator_v1):
            emulator.authorizer = self.authorizer
        self.eventbridge_api = self._stack.enter_context(
            EventBridgeApi(
                moto_url,
                self.authorizer,
                rules_quota=self.scenario.rules_quota,
                on_delete=lambda name: self.timeline.add(self.clock.time(), "eventbridge", name, "rule deleted"),
            )
        )
        self._assume(f"rehearsal: {ALWAYS_ASSUMED}")
        self.endpoint = self._stack.enter_context(self.endpoint_class())
        self.endpoint.now = self.clock.time  # URLs minted, and expired, on virtual time
        self._stack.enter_context(
            environment(
                {
                    **_FAKE_CREDENTIALS,
                    "AWS_REGION": "us-east-1",
                    "AWS_DEFAULT_REGION": "us-east-1",
                    "AWS_ENDPOINT_URL_MEDIAPACKAGEV2": self.emulator.url,
                    "AWS_ENDPOINT_URL_MEDIAPACKAGE": self.emulator_v1.url,
                    "AWS_ENDPOINT_URL_EVENTBRIDGE": self.eventbridge_api.url,
                    "AWS_ENDPOINT_URL_LAMBDA": moto_url,
                    "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": moto_url,
                    "SSL_CERT_FILE": str(self.endpoint.ca_file),
                }
            )
        )
        self.events = boto3.client("events", region_name="us-east-1", endpoint_url=moto_url)
        self.lambda_ = boto3.client("lambda", region_name="us-east-1", endpoint_url=moto_url)
        self.event_bus = EventBus(
            self.clock,
            self.events,
            self.functions,
            self.timeline,
            self.scenario.events,
            random.Random(f"events/{self._seed}"),  # the rehearsal's seed; apart from botocore's jitter
        )
        for emulator in (self.emulator, self.emulator_v1):
            emulator.publish_events(self.event_bus.publish, self.event_bus.wake_at)
        self.scheduler = Scheduler(self.clock, self.events, self.functions, self.timeline)
        self._iam = boto3.client("iam", region_name="us-east-1", endpoint_url=moto_url)
        self._function_environment = self._stack.enter_context(environment({}))
        self._handler_module = load_handler_module()
        self._stack.enter_context(_handler_output(quiet=not self._handler_logs, rows=self._log_row))
        self._stack.enter_context(handler_seams(self.clock))
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stack.close()

    # Stack operations --------------------------------------------------------------------------------------
    def deploy(self, template: Template) -> StackResult:
        """Create the stack, or update it when this rehearsal already created one."""
        self._surround(template)
        cloudformation = self._cloudformation_for(template)
        result = cloudformation.update(template) if cloudformation.template else cloudformation.create(template)
        self.results.append(result)
        return result

    def destroy(self) -> StackResult:
        """Delete the deployed stack, as ``cdk destroy`` would."""
        if self.cloudformation is None:
            raise RuntimeError("nothing deployed")
        result = self.cloudformation.delete()
        self._endpoints_created = {}  # gone with the stack: a deploy after this creates them again
        self.results.append(result)
        return result

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of virtual time pass between stack operations (jobs move on, rules still fire)."""
        until = self.clock.time() + seconds
        self.clock.call_later(seconds, lambda: None)
        self.clock.run(until=lambda: self.clock.time() >= until)

    def settle(self, limit_seconds: float = 3600.0) -> None:
        """Run what is still due after the last stack operation (a request delivered again, a polling rule
        nobody removed) until nothing is, or for at most ``limit_seconds`` of virtual time."""
        self.clock.run(limit=self.clock.time() + limit_seconds)

    def figures(self) -> Figures:
        """Lambda invocations and billed time, MediaPackage calls, EventBridge polls, rules left."""
        calls: dict[str, int] = {}
        for service, emulator in (("", self.emulator), ("v1:", self.emulator_v1)):
            for call in emulator.calls:
                calls[service + call.operation] = calls.get(service + call.operation, 0) + 1
        return Figures(
            lambda_invocations=sum(f.invocations for f in self.functions.values()),
            billed_lambda_ms=sum(f.billed_ms for f in self.functions.values()),
            mediapackage_calls=calls,
            eventbridge_polls=self.scheduler.fired,
            rules_left=len(self.scheduler.rule_rates()),
        )

    def eventbridge_rules(self) -> list[str]:
        """Every EventBridge rule in moto now, whatever its prefix, except the stack's own event rules (the
        handler's polling rules: a finished rehearsal should leave none)."""
        names: list[str] = []
        for page in self.events.get_paginator("list_rules").paginate():
            names += [rule["Name"] for rule in page.get("Rules", []) if rule["Name"] not in self.event_bus.stack_rules]
        return names

    def lambda_policy_statements(self, function_name: str) -> list[dict[str, Any]]:
        """The statements of the function's resource policy in moto (the handler must add none)."""
        try:
            policy = self.lambda_.get_policy(FunctionName=function_name)["Policy"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return []
            raise
        statements: list[dict[str, Any]] = json.loads(policy).get("Statement", [])
        return statements

    # Internals ---------------------------------------------------------------------------------------------
    def _surround(self, template: Template) -> None:
        """The emulators learn the stack's endpoints and buckets; each new assumption (about them, and about how long
        the URLs the stack is handed stay valid) goes to the timeline, and the timeline's table names a ClipSet's
        clips by their names.

        An endpoint of the stack is created by the deploy that first declares it, and holds nothing from before:
        on the rehearsal's first deploy the scenario says whether the stack's endpoints are new
        (``stack_endpoints``), else an earlier deploy created them; a later deploy creates only what it adds.
        """
        for logical_id, label in template.labels().items():
            self.timeline.label(logical_id, label)
        for key in declared_endpoint_keys(template):
            if key not in self._endpoints_created:
                new = self._deployed or self.scenario.stack_endpoints == "new"
                self._endpoints_created[key] = self.clock.time() if new else None
        self._deployed = True
        if any(created is not None for created in self._endpoints_created.values()):
            self._assume(NOTHING_BEFORE_CREATION)
        surroundings = Surroundings.from_template(template, self.scenario, self._endpoints_created)
        self.emulator.surroundings = surroundings
        self.emulator_v1.surroundings = surroundings
        self.authorizer.env = template.env
        for text in surroundings.assumptions:
            self._assume(text)
        if template.harvest_job_ids():
            self._assume(RESPONSE_URL_ASSUMED)
        if any(resource.get("Type") == WAIT_HANDLE_TYPE for resource in template.resources.values()):
            self._assume(HANDLE_URL_ASSUMED)

    def _assume(self, text: str) -> None:
        """One assumption (``"<resource>: <what is assumed>"``), said once: in :attr:`assumptions` and the timeline."""
        if text not in self.assumptions:
            self.assumptions.append(text)
            resource, _, detail = text.partition(": ")
            self.timeline.add(self.clock.time(), "rehearsal", resource, "assumed", detail)

    def _log_row(self, fields: dict[str, Any]) -> None:
        """A warning or error the handler logged, as a timeline row at the virtual time it was logged."""
        self.timeline.add(self.clock.time(), "lambda", *log_row(fields))

    def _cloudformation_for(self, template: Template) -> CloudFormation:
        for logical_id in template.harvest_job_ids():
            function_id = template.function_id_of(logical_id)
            if function_id not in self.functions:
                self.functions[function_id] = self._function(template, function_id)
        if self.cloudformation is None:
            self.cloudformation = CloudFormation(
                self.clock,
                self.endpoint,
                self.functions,
                self.timeline,
                duplicate_deliveries=self._duplicate_deliveries,
                rules=self.event_bus,
            )
        return self.cloudformation

    def _function(self, template: Template, function_id: str) -> LambdaFunction:
        identity = Identity.of_function(template, function_id)
        self.authorizer.add(identity)
        for text in identity.assumptions:
            self._assume(text)
        # Its calls are signed with its role's key, so the stand-ins know whose policies judge them.
        environment = {**template.function_environment(function_id), "AWS_ACCESS_KEY_ID": identity.access_key}
        self._function_environment.update(environment)  # one process plays the function: its configuration
        new_default_session()  # as in a new Lambda process: the handler's clients read that key
        name = template.function_name(function_id)  # becomes ours until the rehearsal ends
        env = template.env
        self._register_in_moto(name)
        function = LambdaFunction(
            clock=self.clock,
            handler=self._handler_module.handler,
            name=name,
            arn=f"arn:{env.partition}:lambda:{env.region}:{env.account}:function:{name}",
            timeout=template.function_timeout(function_id),
            timeline=self.timeline,
        )
        function.after_invocation = self.scheduler.notice_new_rules
        return function

    def _register_in_moto(self, name: str) -> None:
        """The function in moto's Lambda, so a per-rule permission the handler added would land in its policy."""
        role = self._iam.create_role(
            RoleName=f"rehearsal-{len(self.functions)}", AssumeRolePolicyDocument=json.dumps(_LAMBDA_TRUST)
        )
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("index.py", "def handler(event, context):\n    return None\n")
        self.lambda_.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role["Role"]["Arn"],
            Handler="index.handler",
            Code={"ZipFile": code.getvalue()},
        )


def default_start(template: Template, margin: timedelta = timedelta(minutes=5)) -> datetime:
    """A deploy time ``margin`` after the latest harvest window in the template ends: every window has ended, so
    a real-time harvest is not rehearsed as one (it completes like a past clip). Not the default deploy time, which
    is now (:class:`Rehearsal`'s ``start``, the CLI's ``--deploy-time``); for a test of a template synthesized long
    ago, whose windows the endpoint's startover window no longer reaches from now."""
    ends = [spec.parse_timestamp(_end_time(template.properties(rid))) for rid in template.harvest_job_ids()]
    return (max(ends) if ends else datetime(2026, 1, 1, tzinfo=UTC)) + margin


def _end_time(properties: dict[str, Any]) -> str:
    """A v2 job's EndTime sits in its ScheduleConfiguration, a v1 job's at the top."""
    schedule = properties.get(spec.SCHEDULE)
    return str(schedule["EndTime"] if isinstance(schedule, dict) else properties[spec.V1_END])


_moto: ThreadedMotoServer | None = None
_moto_lock = threading.Lock()


def shared_moto_url() -> str:
    """One moto server per process, started on first use: moto's state is per process anyway (each rehearsal
    resets it), and stopping a server costs half a second of its polling loop."""
    global _moto
    with _moto_lock:
        if _moto is None:
            logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
            _moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            _moto.start()
        return "http://{}:{}".format(*_moto.get_host_and_port())


@contextmanager
def _seeded_random(seed: int) -> Iterator[None]:
    """botocore's retry jitter draws from ``random``: seeded, its waits are the same on every run."""
    saved = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(saved)


def _reset_moto(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10).close()


def _split(kind: str, detail: str) -> tuple[str, str, str]:
    """Emulator events carry the job name first in their detail: 'name: rest'."""
    name, _, rest = detail.partition(": ")
    return name, kind, rest


@contextmanager
def _handler_output(*, quiet: bool, rows: Callable[[dict[str, Any]], None]) -> Iterator[None]:
    """The handler's log lines go where this process prints now (a test's captured output, say), not wherever it
    printed when the handler was first loaded; ``quiet``: none of them, at any level. Either way each warning and
    error goes to ``rows`` (with the fields of its JSON line), so what matters (a quota retry, a deadline) is a
    timeline row. A filter on the handler's own log handler, not a logger level: a handler a test adds to the
    logger still gets every record."""
    logs = handler_module("logs")
    output = logs.logger.logger_handler
    streams = isinstance(output, logging.StreamHandler)
    saved = output.stream if streams else None
    if streams:
        output.stream = sys.stdout  # not setStream: it flushes the old stream, which may be closed by now
    if quiet:
        output.addFilter(_nothing)
    own = logging.getLogger(logs.logger.name)
    to_rows = _LogRows(logs.logger.registered_formatter, rows)
    own.addHandler(to_rows)
    try:
        yield
    finally:
        own.removeHandler(to_rows)
        output.removeFilter(_nothing)
        if streams:
            output.stream = saved


def _nothing(record: logging.LogRecord) -> bool:
    return False


class _LogRows(logging.Handler):
    """Hands each of the handler's warnings and errors on, with the fields its JSON log line carries."""

    def __init__(self, formatter: logging.Formatter, rows: Callable[[dict[str, Any]], None]) -> None:
        super().__init__(logging.WARNING)
        self.json = formatter
        self.rows = rows

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = json.loads(self.json.format(record))
        except ValueError:
            fields = {"message": record.getMessage()}
        self.rows(fields if isinstance(fields, dict) else {"message": record.getMessage()})


# What a log line carries about its invocation and its place in the code, not about what happened.
_CONTEXT_FIELDS = frozenset(
    {
        "level",
        "location",
        "message",
        "timestamp",
        "service",
        "stack_id",
        "logical_resource_id",
        "request_id",
        "request_type",
        "poll",
        "function_request_id",
        "job_name",
        "cold_start",
        "function_name",
        "function_memory_size",
        "function_arn",
        "xray_trace_id",
        "sampling_rate",
        "exception",
        "exception_name",
        "stack_trace",
    }
)


def log_row(fields: Mapping[str, Any]) -> tuple[str, str, str]:
    """A handler warning or error as a timeline row: (resource, event, detail). The resource is the job (else the
    custom resource); the detail is the message, what the line adds (a problem, a cancel) and an exception's last
    line."""
    resource = str(fields.get("job_name") or fields.get("logical_resource_id") or "handler")
    extras = [f"{key}: {value}" for key, value in fields.items() if key not in _CONTEXT_FIELDS]
    exception = str(fields.get("exception") or "").strip().splitlines()
    detail = "; ".join([str(fields.get("message", "")), *extras, *exception[-1:]])
    return resource, f"log {str(fields.get('level', 'WARNING')).upper()}", detail
