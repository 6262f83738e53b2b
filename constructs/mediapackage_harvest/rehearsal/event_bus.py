"""EventBridge's default event bus, played for the rehearsal: the stack's event rules and their deliveries, and
the scheduled rules the handler makes.

The rehearsal's CloudFormation puts each ``AWS::Events::Rule`` of the template with an ``EventPattern`` into moto
(PutRule with the pattern, PutTargets; removed with the stack), as CloudFormation would create it. The MediaPackage
emulators publish a harvest-job event on each status change; :class:`EventBus` matches it against every rule in
moto with moto's own pattern matcher (the stack's, and the handler's rules that have a pattern besides their
schedule) and invokes each target function (a :class:`LambdaFunction` of the rehearsal) asynchronously, as
EventBridge does: with the event, or with the target's Input when it has one. Delivery follows the scenario's
``events`` (:class:`EventDelivery`): a delay, a lost fraction drawn from the rehearsal's seeded random, a second
delivery. The timeline shows each delivery and each loss.

:class:`EventBridgeApi` is the API the handler calls: each request judged by the rehearsal's IAM
(:mod:`~mediapackage_harvest.rehearsal.authorization`), then answered by moto; a refused call gets EventBridge's
``AccessDeniedException`` in its JSON 1.1 form, and a PutRule for a new rule past the scenario's ``rules_quota``
``LimitExceededException`` (moto has no quota). The timeline shows each rule the handler deletes when it does.

:class:`Scheduler` fires every scheduled rule in moto (the handler's polling and watch rules) at the rate its
``ScheduleExpression`` names, invoking each target function by its ARN with the target's Input, for as long as the
rule exists: what EventBridge knows of a rule, and nothing of the handler.
"""

from __future__ import annotations

import copy
import http.client
import json
import random
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

import boto3
from moto.events.models import EventPattern

from mediapackage_harvest.rehearsal.authorization import AccessDenied, Authorizer
from mediapackage_harvest.rehearsal.cloudformation import LambdaFunction
from mediapackage_harvest.rehearsal.local_server import LocalServer, Response
from mediapackage_harvest.rehearsal.scenario import EventDelivery
from mediapackage_harvest.rehearsal.template import Template
from mediapackage_harvest.rehearsal.timeline import Timeline
from mediapackage_harvest.rehearsal.virtual_clock import VirtualClock

RULE_TYPE = "AWS::Events::Rule"
RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass
class EventBus:
    """See the module docstring. ``functions`` are the rehearsal's functions by logical id (filled as templates
    are played); ``events`` is a boto3 EventBridge client on moto."""

    clock: VirtualClock
    events: Any
    functions: Mapping[str, LambdaFunction]
    timeline: Timeline
    delivery: EventDelivery = field(default_factory=EventDelivery)
    chance: random.Random = field(default_factory=lambda: random.Random(0))
    delivered: int = 0
    lost: int = 0
    stack_rules: set[str] = field(default_factory=set)  # the rules the stacks declare, while they exist
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # The stack's rules, as CloudFormation creates and deletes them ------------------------------------------------
    def put_rules(self, template: Template) -> None:
        """Create (or update) the template's event-pattern rules in moto, with their targets."""
        for logical_id, resource in template.resources.items():
            properties = resource.get("Properties", {})
            if resource.get("Type") != RULE_TYPE or "EventPattern" not in properties:
                continue
            name = rule_name(template, logical_id)
            self.events.put_rule(
                Name=name,
                EventPattern=json.dumps(template.resolve(properties["EventPattern"])),
                State=properties.get("State", "ENABLED"),
            )
            targets = [
                {"Id": str(target["Id"]), "Arn": str(template.resolve(target["Arn"]))}
                for target in properties.get("Targets", [])
            ]
            if targets:
                self.events.put_targets(Rule=name, Targets=targets)
            template.physical_ids[logical_id] = name
            self.stack_rules.add(name)
            self.timeline.add(self.clock.time(), "cloudformation", logical_id, "Create Rule", name)

    def delete_rules(self, template: Template) -> None:
        """Remove the template's event-pattern rules from moto (the stack is gone)."""
        for logical_id, resource in template.resources.items():
            if resource.get("Type") != RULE_TYPE or "EventPattern" not in resource.get("Properties", {}):
                continue
            name = rule_name(template, logical_id)
            ids = [t["Id"] for t in self.events.list_targets_by_rule(Rule=name).get("Targets", [])]
            if ids:
                self.events.remove_targets(Rule=name, Ids=ids)
            self.events.delete_rule(Name=name)
            self.stack_rules.discard(name)
            self.timeline.add(self.clock.time(), "cloudformation", logical_id, "Delete Rule", name)

    # Events ------------------------------------------------------------------------------------------------------
    def publish(self, event: dict[str, object]) -> None:
        """An event put on the bus now (called by the emulators, from their threads)."""
        with self._lock:
            lost = self.delivery.loss > 0 and self.chance.random() < self.delivery.loss
            if lost:
                self.lost += 1
        if lost:
            self.timeline.add(self.clock.time(), "eventbridge", _subject(event), "event lost", _summary(event))
            return
        delay, again = self.delivery.delay_seconds, self.delivery.duplicate_after_seconds
        self.clock.call_later(delay, lambda: self._deliver(event, "EventBridge event"))
        if again is not None:
            self.clock.call_later(delay + again, lambda: self._deliver(event, "EventBridge event, delivered again"))

    def wake_at(self, at: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` as a task at virtual time ``at`` (the emulators' look at a job's next change)."""
        self.clock.call_later(max(at - self.clock.time(), 0.0), callback)

    def _deliver(self, event: dict[str, object], trigger: str) -> None:
        """Invoke the target of every rule whose pattern matches the event."""
        by_arn = {function.arn: function for function in self.functions.values()}
        for rule in self._rules():
            pattern = rule.get("EventPattern")
            if (
                not pattern
                or rule.get("State") == "DISABLED"
                or not EventPattern.load(pattern).matches_event(cast(Any, event))
            ):
                continue
            for target in self.events.list_targets_by_rule(Rule=rule["Name"]).get("Targets", []):
                function = by_arn.get(target["Arn"])
                if function is None:
                    continue
                self.delivered += 1
                detail = f"{_summary(event)} by rule {rule['Name']}"
                self.timeline.add(self.clock.time(), "eventbridge", _subject(event), "event delivered", detail)
                if target.get("Input"):  # a constant Input replaces the event, as EventBridge does
                    poll = json.loads(target["Input"])
                    subject = str(poll.get("LogicalResourceId", rule["Name"]))
                    function.invoke(poll, f"{trigger} (the rule's Input)", subject)
                else:
                    function.invoke(copy.deepcopy(event), trigger, _subject(event))

    def _rules(self) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = self.events.list_rules(**({"NextToken": token} if token else {}))
            rules += page.get("Rules", [])
            token = page.get("NextToken")
            if not token:
                return rules


def rule_name(template: Template, logical_id: str) -> str:
    """The name CloudFormation gives a rule without a Name: here ``<stack>-<logical id>``, at most 64 characters."""
    return f"{template.env.stack_name}-{logical_id}"[:64]


def _subject(event: Mapping[str, object]) -> str:
    """The job an event is about (the last part of its first resource), for the timeline."""
    resources = event.get("resources")
    first = resources[0] if isinstance(resources, list) and resources else "?"
    return str(first).rsplit("/", 1)[-1]


def _summary(event: Mapping[str, object]) -> str:
    detail = event.get("detail")
    status = ""
    if isinstance(detail, Mapping):
        job = detail.get("harvest_job") or detail.get("harvestJob")  # v1's, v2's
        status = str((job if isinstance(job, Mapping) else detail).get("status") or "")
    return f"{event.get('detail-type')}" + (f" ({status})" if status else "")


@dataclass
class Scheduler:
    """EventBridge's scheduled rules (see the module docstring). ``functions`` are the rehearsal's functions by
    logical id; a target whose ARN is none of theirs is not invoked."""

    clock: VirtualClock
    events: Any
    functions: Mapping[str, LambdaFunction]
    timeline: Timeline
    scheduled: set[str] = field(default_factory=set)
    fired: int = 0
    peak_rules: int = 0

    def notice_new_rules(self) -> None:
        """Called after every invocation: a rule created then first fires one period later."""
        rates = self.rule_rates()
        self.peak_rules = max(self.peak_rules, len(rates))
        for name in sorted(set(rates) - self.scheduled):
            self.scheduled.add(name)
            self.timeline.add(self.clock.time(), "eventbridge", name, "rule created", f"every {rates[name]:g} s")
            self.clock.call_later(rates[name], lambda n=name: self._fire(n))  # type: ignore[misc]

    def rule_rates(self) -> dict[str, float]:
        """Every scheduled rule's period in seconds, by name."""
        rates: dict[str, float] = {}
        token: str | None = None
        while True:
            page = self.events.list_rules(**({"NextToken": token} if token else {}))
            for rule in page.get("Rules", []):
                if rule.get("ScheduleExpression"):
                    rates[rule["Name"]] = period_seconds(str(rule["ScheduleExpression"]))
            token = page.get("NextToken")
            if not token:
                return rates

    def _fire(self, name: str) -> None:
        rates = self.rule_rates()
        if name not in rates:
            self.scheduled.discard(name)
            self.timeline.add(self.clock.time(), "eventbridge", name, "rule gone", "no more polls")
            return
        by_arn = {function.arn: function for function in self.functions.values()}
        for target in self.events.list_targets_by_rule(Rule=name).get("Targets", []):
            function = by_arn.get(target["Arn"])
            if function is None:
                continue
            self.fired += 1
            event = json.loads(target.get("Input") or "{}")
            function.invoke(event, "EventBridge poll", str(event.get("LogicalResourceId", name)))
        self.clock.call_later(rates[name], lambda: self._fire(name))


def _error(status: int, code: str, message: str) -> Response:
    """An EventBridge error in its JSON 1.1 form."""
    payload = json.dumps({"__type": code, "Message": message}).encode()
    return Response(status, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "rehearsal"}, payload)


def period_seconds(expression: str) -> float:
    """The period a ``rate(...)`` schedule expression names, in seconds."""
    match = RATE.fullmatch(expression)
    if match is None:
        raise ValueError(f"not a rate expression the rehearsal can schedule: {expression!r}")
    return int(match[1]) * float(UNIT_SECONDS[match[2].removesuffix("s")])


class EventBridgeApi(LocalServer):
    """EventBridge's API as the handler meets it: IAM first (``authorizer``), then moto at ``moto_url``."""

    def __init__(
        self,
        moto_url: str,
        authorizer: Authorizer,
        *,
        rules_quota: int = 300,
        on_delete: Callable[[str], None] = lambda name: None,
    ) -> None:
        super().__init__()
        self.moto = urlsplit(moto_url)
        self.authorizer = authorizer
        self.rules_quota = rules_quota
        self.on_delete = on_delete
        self._moto_events = boto3.client(  # its own keys: the process's environment is the running function's
            "events",
            region_name="us-east-1",
            endpoint_url=moto_url,
            aws_access_key_id="rehearsal",
            aws_secret_access_key="rehearsal",
        )

    def dispatch(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Response:
        action = next((v for k, v in headers.items() if k.lower() == "x-amz-target"), "").rpartition(".")[2]
        request = json.loads(body or b"{}")
        try:
            self.authorizer.check(headers, "events", action, request)
        except AccessDenied as denied:
            return _error(400, "AccessDeniedException", str(denied))
        if action == "PutRule" and self._full(str(request.get("Name"))):
            return _error(400, "LimitExceededException", "The requested resource exceeds the maximum number allowed.")
        answer = self._forward(method, target, headers, body)
        if action == "DeleteRule" and answer.status == 200:
            self.on_delete(str(request.get("Name")))
        return answer

    def _full(self, name: str) -> bool:
        """Whether one more rule (not a replacement of ``name``) would pass the quota."""
        names = [
            rule["Name"] for page in self._moto_events.get_paginator("list_rules").paginate() for rule in page["Rules"]
        ]
        return name not in names and len(names) >= self.rules_quota

    def _forward(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Response:
        connection = http.client.HTTPConnection(str(self.moto.hostname), self.moto.port, timeout=30)
        try:
            skip = {"host", "content-length", "connection"}
            connection.request(method, target, body=body, headers={k: v for k, v in headers.items() if k not in skip})
            answer = connection.getresponse()
            payload = answer.read()
            kept = {k: v for k, v in answer.getheaders() if k.lower() not in {"content-length", "connection"}}
            return Response(answer.status, kept, payload)
        finally:
            connection.close()
