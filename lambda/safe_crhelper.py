"""crhelper's CfnResource with its traps closed, and the Outcome its registered functions return.

Pinned to crhelper 2.0.12 (requirements pin it; the bundler vendors that copy): this subclass overrides private
methods, so an upgrade must re-read them. What 2.0.12 does, and what this class does instead:

- ``__init__`` builds lambda, events and logs clients (at import, in the usual module-level pattern) and
  reconfigures the root logger: here nothing is built and no logger is reconfigured; the events client comes
  from :mod:`aws_clients` on first use.
- ``__call__`` logs the whole event at DEBUG (the ResponseURL is a bearer credential) and never answers when
  AWS_SAM_LOCAL is set: the same flow without either.
- ``_polling_init`` hands every first invocation over to EventBridge, even one that already finished, and removes
  the rule before answering (an answer that then fails is never retried, and CloudFormation waits an hour): here
  a function returns an :data:`Outcome`, only :class:`InProgress` hands over, and the rule goes only once the
  answer has landed (see "Exactly one answer" below).
- ``_put_rule`` names the rule LogicalResourceId + 8 random characters (over EventBridge's 64 for long ids, a
  second rule on redelivery, no fixed prefix to grant on): here ``<prefix>-<16 hex of stack/logical/request>``.
- ``_add_permission`` adds a Lambda permission per rule (the policy fills up at 20 KB; the construct grants
  ``rule/<prefix>*`` once): a no-op here, as is ``_remove_permission``.
- ``_put_targets`` sends (and logs) the whole event, ResourceProperties included, as the target Input, which
  EventBridge caps at 8192 characters: here the event without properties, plus the poll state, checked first.
- ``_set_timeout`` uses threading.Timer: here ``handler_clock.current.call_later``.
- ``_send`` keeps the last 240 characters of a long Reason behind a prefix, never bounds the body, puts internal
  keys in Data, and ``utils._send_response`` counts 5xx as delivered and sleeps with time.sleep: here
  :mod:`cfn_response`.
- ``_wait_for_cwlogs`` sleeps up to ``sleep_on_delete`` (120 s) before answering a Delete: no wait here.
- ``generate_physical_id`` is random: here ``failed-create:<LogicalResourceId>:<RequestId>``, the same on
  redelivery and never taken for a job ARN.

Exactly one answer per request, and never none, with EventBridge and Lambda delivering at least once:

- A poll first asks EventBridge whether its rule still exists (DescribeRule). The rule is removed only after an
  answer has landed, so a poll whose rule is gone is a second delivery of a poll already answered: it does nothing.
- An answer is PUT for at most ``ANSWER_TRY_SECONDS`` (less than the poll period, so two polls never try at once).
  One that did not land is left on the request's rule for the next poll to deliver (an "answer" poll); a poll's
  rule is then kept.
- After an answer has landed the rule is removed: targets, rule, then DescribeRule to see it gone, a few times.
  A rule that will not go gets a "retire" target instead: its polls only try again to remove it.
- The about-to-time-out answer goes the same way, so a poll that runs out of Lambda time answers once too.

A request delivered twice while both deliveries watch a job inline (no rule yet) can still be answered twice, with
the same body: nothing tells one delivery of the other.

Use one instance per invocation: crhelper keeps the request on the instance, and the deploy rehearsal runs
several invocations at once in one process.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import ClientError
from crhelper import FAILED, SUCCESS, CfnResource

import aws_clients
import handler_clock
from cfn_response import cause_of, fit_reason, put_response, reason, response_body
from harvest_logging import logger, quiet_libraries

POLL_PERIOD_SECONDS = 60.0  # rate(1 minute), crhelper's polling_interval=1
POLL_FLAG, RULE_KEY, STATE_KEY = "CrHelperPoll", "CrHelperRule", "CrHelperData"  # crhelper's event keys
POLL_INPUT_MAX_CHARS = 8192  # EventBridge's limit on a target's Input
# What a poll needs from the original event; the properties stay behind (the state carries what is needed).
POLL_EVENT_KEYS = (
    "RequestType",
    "ResponseURL",
    "StackId",
    "RequestId",
    "LogicalResourceId",
    "ResourceType",
    "PhysicalResourceId",
)
RULE_NAME_MAX = 64
RULE_HASH_CHARS = 16
RULE_PREFIX_MAX = RULE_NAME_MAX - RULE_HASH_CHARS - 1
RULE_PREFIX_PATTERN = re.compile(r"[.\-_A-Za-z0-9]+")
TARGET_ID = "1"  # crhelper's _remove_targets removes target "1"
TIMEOUT_MARGIN_SECONDS = 0.5  # crhelper answers FAILED this long before Lambda would kill the invocation
ANSWER_TRY_SECONDS = 50.0  # one invocation's PUT attempts; then the next poll (a minute later) tries
ANSWER_KEY = "HarvestAnswer"  # a poll carrying an answer that has not landed yet
RETIRE_KEY = "HarvestRetire"  # a poll of an answered request whose rule could not be removed
RETIRE_ATTEMPTS = 3


class LambdaContext(Protocol):
    """The parts of Lambda's context object the handler reads."""

    function_name: str
    aws_request_id: str
    invoked_function_arn: str

    def get_remaining_time_in_millis(self) -> int: ...


@dataclass(frozen=True)
class Succeeded:
    """The resource is ready: answer SUCCESS with this physical id and Data."""

    physical_id: str
    data: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Failed:
    """Answer FAILED; ``physical_id`` None keeps the event's id (or makes a failed-create placeholder)."""

    reason: str
    physical_id: str | None = None


@dataclass(frozen=True)
class InProgress:
    """Not finished: hand over to (or stay on) EventBridge polling with ``state`` for the next poll.

    ``physical_id`` is what a FAILED answer must carry meanwhile (a job that exists), if anything.
    """

    state: Mapping[str, Any]
    physical_id: str | None = None


Outcome = Succeeded | Failed | InProgress
Function = Callable[[dict[str, Any], LambdaContext], Outcome]


@dataclass(frozen=True)
class Answer:
    """What CloudFormation is told; it travels in an answer poll's Input when a PUT did not land."""

    Status: str
    Reason: str
    PhysicalResourceId: str
    Data: Mapping[str, str] = field(default_factory=dict)


class _Skip:
    """This invocation has nothing to do: its request is answered elsewhere, or it only removes a rule."""

    def __init__(self, why: str) -> None:
        self.why = why


STALE, RETIRE = _Skip("stale poll"), _Skip("retire the rule")


class PollingError(RuntimeError):
    """EventBridge polling cannot be set up (configuration or size); the request fails with this message."""


class SafeCfnResource(CfnResource):
    """See the module docstring. ``rule_prefix_env`` names the environment variable holding the rule prefix.

    Register the functions with :meth:`register` (crhelper's decorators are typed for its own return values).
    """

    def __init__(self, *, rule_prefix_env: str) -> None:
        # crhelper 2.0.12's __init__ state, without its clients and logging set-up (deliberately no super()).
        self._create_func: Function | None = None
        self._update_func: Function | None = None
        self._delete_func: Function | None = None
        self._poll_create_func: Function | None = None
        self._poll_update_func: Function | None = None
        self._poll_delete_func: Function | None = None
        self._timer: handler_clock.Timer | None = None
        self._init_failed: Exception | None = None
        self._send_response = False
        self._polling_interval = 1
        self._sleep_on_delete = 0
        self._ssl_verify = None
        self._sam_local = None
        self.Status = ""
        self.Reason = ""
        self.PhysicalResourceId = ""
        self.StackId = ""
        self.RequestId = ""
        self.LogicalResourceId = ""
        self.RequestType = ""
        self.Data: dict[str, Any] = {}
        self.NoEcho = False
        self._event: dict[str, Any] = {}
        self._context: LambdaContext | None = None
        self._response_url = ""
        # This class's own state.
        self._rule_prefix_env = rule_prefix_env
        self._outcome: Outcome | Answer | _Skip | None = None
        self._created_rule = ""
        self._failure_id = ""
        self._responded = False
        self._send_lock = threading.Lock()
        quiet_libraries()

    def register(self, *, create: Function, update: Function, delete: Function, poll: Function) -> None:
        """The function per request type, and the one that polls a Create or Update until it finishes."""
        self._create_func, self._update_func, self._delete_func = create, update, delete
        self._poll_create_func = self._poll_update_func = poll

    def set_failure_physical_id(self, physical_id: str) -> None:
        """From now on a FAILED answer (error, timeout) carries ``physical_id``, so a rollback finds the job."""
        self._failure_id = physical_id

    # crhelper's flow --------------------------------------------------------------------------------------
    def __call__(self, event: dict[str, Any], context: LambdaContext) -> None:
        """crhelper 2.0.12's ``__call__`` without logging the event and without the SAM-local branch; what comes
        after the function is :meth:`_conclude` (answer, or hand over, or nothing)."""
        try:
            if not self._crhelper()._crhelper_init(event, context):
                return
            self._conclude()
        except Exception as error:
            logger.exception("Custom resource request failed")
            self._send(FAILED, reason(self._subject(), cause_of(error)))
        finally:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def _crhelper(self) -> Any:
        """crhelper 2.0.12's own private methods (its type stubs leave them out)."""
        return super()

    def _log_setup(self, event: dict[str, Any], context: LambdaContext) -> None:
        """No-op: crhelper's version reconfigures the root logger; logging belongs to harvest_logging."""

    def _set_timeout(self) -> None:
        """crhelper's "about to time out" answer, on the handler clock, with this invocation's log keys."""
        assert self._context is not None
        seconds = self._context.get_remaining_time_in_millis() / 1000 - TIMEOUT_MARGIN_SECONDS
        run_in_context = contextvars.copy_context().run
        self._timer = handler_clock.current.call_later(seconds, lambda: run_in_context(self._timeout))

    def _timeout(self) -> None:
        logger.error("Lambda time nearly out before the request finished; answering FAILED")
        cause = "the handler ran out of Lambda time before the request finished (see the function's log)"
        self._send(FAILED, reason(self._subject(), cause))

    def _wrap_function(self, func: Function | None) -> None:
        """Run the registered function, unless the event says otherwise (a stale poll, an answer poll, a retire
        poll); its Outcome (or exception) sets what is answered."""
        self.Data = {}
        assert self._context is not None
        event = self._event
        poll = POLL_FLAG in event
        if poll and event.get(RETIRE_KEY):
            self._outcome = RETIRE
            return
        if poll and not self._rule_exists(_rule_name(str(event[RULE_KEY])), unknown=True):
            self._outcome = STALE
            return
        if poll and event.get(ANSWER_KEY):
            self._outcome = Answer(**event[ANSWER_KEY])
            return
        try:
            outcome = func(event, self._context) if func else Failed(f"No function for {self.RequestType}")
        except Exception as error:
            logger.exception("Custom resource function failed")
            outcome = Failed(reason(self._subject(), cause_of(error)))
        self._outcome = outcome
        if isinstance(outcome, Succeeded):
            self.Status, self.PhysicalResourceId, self.Data = SUCCESS, outcome.physical_id, dict(outcome.data)
        elif isinstance(outcome, Failed):
            self.Status, self.Reason = FAILED, outcome.reason
            self.PhysicalResourceId = outcome.physical_id or self._failure_id
        elif outcome.physical_id:
            self._failure_id = outcome.physical_id

    def _conclude(self) -> None:
        """After the function: answer, hand over to (or refresh) polling, or nothing."""
        outcome, event = self._outcome, self._event
        if outcome is RETIRE:
            self._retire(str(event[RULE_KEY]))
        elif isinstance(outcome, _Skip):
            logger.info("This poll's rule is gone: another delivery answered the request; nothing to do")
        elif isinstance(outcome, Answer):
            self._deliver(outcome)
        elif isinstance(outcome, InProgress):
            if POLL_FLAG not in event:
                self._setup_polling()
            elif dict(outcome.state) != event.get(STATE_KEY):
                self._put_targets(str(event[RULE_KEY]), {STATE_KEY: dict(outcome.state)})
        else:
            self._send()

    def _wait_for_cwlogs(self, sleep: object = None) -> None:
        """No-op: crhelper sleeps before every Delete's answer so its logs reach CloudWatch; Lambda flushes them."""

    def generate_physical_id(self, event: Mapping[str, Any]) -> str:
        """The id of a resource whose create failed before a job existed: stable, and not a job ARN."""
        return f"failed-create:{event['LogicalResourceId']}:{event['RequestId']}"

    def _subject(self) -> str:
        """What a FAILED reason is about: the job (named by the last part of its ARN), else the resource."""
        job_id = self._failure_id or str(self._event.get("PhysicalResourceId") or "")
        if job_id.startswith("arn:"):
            return f"Harvest job {job_id.rsplit('/', 1)[-1]}"
        return f"Resource {self.LogicalResourceId}"

    # Polling -----------------------------------------------------------------------------------------------
    def _setup_polling(self) -> None:
        """Create this request's rule and point it at the function; a rule left half-made goes with the FAILED
        answer that follows (see :meth:`_deliver`)."""
        assert isinstance(self._outcome, InProgress)
        try:
            rule_arn = self._put_rule()
            self._put_targets(rule_arn, {STATE_KEY: dict(self._outcome.state)})
        except PollingError:
            raise
        except Exception as error:
            raise PollingError(f"could not hand over to EventBridge polling: {cause_of(error)}") from error
        logger.info("Handed over to EventBridge polling", extra={"rule": _rule_name(rule_arn)})

    def poll_rule_name(self) -> str:
        """``<prefix>-<hash>``: at most 64 characters, the same on redelivery, covered by ``rule/<prefix>*``."""
        prefix = os.environ.get(self._rule_prefix_env, "")
        if not (RULE_PREFIX_PATTERN.fullmatch(prefix) and len(prefix) <= RULE_PREFIX_MAX):
            raise PollingError(
                f"Environment variable {self._rule_prefix_env} must hold a rule-name prefix of 1 to "
                f"{RULE_PREFIX_MAX} letters, digits, '.', '-' or '_', got {prefix!r}"
            )
        key = "\n".join((self.StackId, self.LogicalResourceId, self.RequestId))
        return f"{prefix}-{hashlib.sha256(key.encode()).hexdigest()[:RULE_HASH_CHARS]}"

    def _put_rule(self) -> str:
        response = self._events_client.put_rule(
            Name=self.poll_rule_name(),
            ScheduleExpression="rate(1 minute)",
            State="ENABLED",
            Description=f"Polls custom resource {self.LogicalResourceId}"[:512],
        )
        self._created_rule = str(response["RuleArn"])
        return self._created_rule

    def _put_targets(self, rule_arn: str, extra: Mapping[str, Any]) -> None:
        """Point the rule at this function with the poll Input: the event minus properties, plus ``extra`` (the
        poll state, an answer to deliver, or the retire mark)."""
        poll_event = {key: self._event[key] for key in POLL_EVENT_KEYS if key in self._event}
        poll_event.update({POLL_FLAG: True, RULE_KEY: rule_arn, **extra})
        text = json.dumps(poll_event, separators=(",", ":"))
        if len(text) > POLL_INPUT_MAX_CHARS:
            raise PollingError(
                f"Cannot hand over to EventBridge polling: the poll input would be {len(text)} characters, "
                f"over EventBridge's {POLL_INPUT_MAX_CHARS}"
            )
        response = self._events_client.put_targets(
            Rule=_rule_name(rule_arn), Targets=[{"Id": TARGET_ID, "Arn": self._function_arn(), "Input": text}]
        )
        if response.get("FailedEntryCount"):
            failed = response.get("FailedEntries") or [{}]
            raise PollingError(f"EventBridge refused the poll target: {failed[0].get('ErrorMessage', 'no reason')}")

    def _rule_exists(self, name: str, *, unknown: bool) -> bool:
        """Whether EventBridge has the rule; ``unknown`` when it cannot tell (an error other than not found)."""
        try:
            self._events_client.describe_rule(Name=name)
        except ClientError as error:
            if _error_code(error) == "ResourceNotFoundException":
                return False
            logger.warning("Could not look the polling rule up", extra={"problem": cause_of(error)})
            return unknown
        return True

    def _remove_rule(self, rule_arn: str) -> None:
        """Remove the target, then the rule, and see it gone; raises while it is still there."""
        name = _rule_name(rule_arn)
        for step in (self._crhelper()._remove_targets, self._crhelper()._delete_rule):
            try:
                step(rule_arn)
            except ClientError as error:
                if _error_code(error) != "ResourceNotFoundException":
                    raise
        if self._rule_exists(name, unknown=False):
            raise PollingError(f"the rule {name} is still there")

    def _retire(self, rule_arn: str) -> None:
        """Remove an answered request's rule, a few times if need be; else mark it so its polls try again.

        Never raises: the answer has already landed, and nothing here may answer again.
        """
        problem = ""
        for attempt in range(RETIRE_ATTEMPTS):
            if attempt:
                handler_clock.current.sleep(2.0 ** (attempt - 1))
            try:
                self._remove_rule(rule_arn)
            except Exception as error:
                problem = cause_of(error)
                continue
            logger.info("Polling rule removed", extra={"rule": _rule_name(rule_arn)})
            return
        logger.warning("Polling rule not removed; its next poll tries again", extra={"problem": problem})
        try:
            self._put_targets(rule_arn, {RETIRE_KEY: True})
        except Exception as error:
            logger.error("Polling rule neither removed nor marked to retire", extra={"problem": cause_of(error)})

    def _add_permission(self, rule_arn: str) -> str:
        """No-op: the construct grants EventBridge ``lambda:InvokeFunction`` once for ``rule/<prefix>*``."""
        return ""

    def _remove_permission(self, sid: str) -> None:
        """No-op, see ``_add_permission``."""

    @property
    def _events_client(self) -> Any:
        """crhelper's ``_remove_targets``/``_delete_rule`` read this; built on first use, in aws_clients."""
        return aws_clients.events()

    def _function_arn(self) -> str:
        """This function's unqualified ARN (the construct's permission names the function, not a version)."""
        assert self._context is not None
        return ":".join(self._context.invoked_function_arn.split(":")[:7])

    # Answering ---------------------------------------------------------------------------------------------
    def _send(self, status: str | None = None, reason: str = "", send_response: object = None) -> None:
        """crhelper's answer (``status`` and ``reason`` override the function's), through :meth:`_deliver`."""
        final_status = status or self.Status
        physical_id = str(
            self.PhysicalResourceId
            or self._failure_id
            or self._event.get("PhysicalResourceId")
            or self.generate_physical_id(self._event)
        )
        data = {
            key: str(value)
            for key, value in self.Data.items()
            if final_status == SUCCESS and not key.startswith("CrHelper") and key != "PhysicalResourceId"
        }
        self._deliver(Answer(final_status, reason if status else self.Reason, physical_id, data))

    def _deliver(self, answer: Answer) -> None:
        """Answer once per invocation (the timeout timer and the flow may race); then remove the request's rule,
        or, when the PUT did not land, leave the answer on the rule for the next poll."""
        with self._send_lock:
            if self._responded:
                logger.warning("This invocation already answered CloudFormation; not answering again")
                return
            self._responded = True
        body = response_body(
            status=answer.Status,
            reason=answer.Reason,
            physical_id=answer.PhysicalResourceId,
            stack_id=self.StackId,
            request_id=self.RequestId,
            logical_id=self.LogicalResourceId,
            data=answer.Data,
            no_echo=bool(self.NoEcho),
        )
        logger.info(
            "Answering CloudFormation",
            extra={
                "status": answer.Status,
                "physical_resource_id": answer.PhysicalResourceId,
                "reason": fit_reason(answer.Reason),
            },
        )
        rule_arn = str(self._event.get(RULE_KEY) or "") if POLL_FLAG in self._event else self._created_rule
        if put_response(self._response_url, body, give_up_at=self._give_up_at()):
            if rule_arn:
                self._retire(rule_arn)
            return
        try:
            rule_arn = rule_arn or self._put_rule()
            self._put_targets(rule_arn, {ANSWER_KEY: dict(vars(answer), Data=dict(answer.Data))})
        except Exception as error:
            logger.error("Answer neither delivered nor left for a poll", extra={"problem": cause_of(error)})
            return
        logger.warning("Answer not delivered; the next poll delivers it", extra={"rule": _rule_name(rule_arn)})

    def _give_up_at(self) -> float:
        """When this invocation's PUT attempts stop: after ANSWER_TRY_SECONDS, or just before Lambda ends it."""
        now = handler_clock.current.time()
        if self._context is None:
            return now + ANSWER_TRY_SECONDS
        remaining = self._context.get_remaining_time_in_millis() / 1000 - TIMEOUT_MARGIN_SECONDS
        return now + min(ANSWER_TRY_SECONDS, remaining)


def _rule_name(rule_arn: str) -> str:
    return rule_arn.split("/", 1)[-1]


def _error_code(error: BaseException) -> str:
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""
