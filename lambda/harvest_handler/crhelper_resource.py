"""crhelper's CfnResource used as a library: its own flow and decorators, with its known traps closed, and the
Outcome its registered functions return.

Tested with crhelper 2.0.12 (the wheel accepts ``>=2.0.12,<2.1``). What is kept: ``__call__``, ``_crhelper_init``,
the decorators (``create``, ``update``, ``delete``, ``poll_create``, ``poll_update``, ``poll_delete``),
``_get_func``, ``_poll_enabled``, ``_cfn_response``, ``_remove_targets``, ``_delete_rule``, ``init_failure``.
crhelper's ``_setup_polling``, ``_put_targets`` and ``_remove_polling`` are reached only from the replaced
``_polling_init``: the hand-over writes its own target (:meth:`SafeCfnResource._point_rule`: the event without
ResourceProperties plus the poll state, checked against EventBridge's 8192-character Input cap, never logged;
crhelper's logs the whole event at DEBUG). ``__init__`` is called with arguments that avoid its traps:
``polling_interval`` from ``POLL_PERIOD_SECONDS`` (five minutes: the job's events answer first),
``sleep_on_delete=0`` (no 120 s sleep before a Delete's answer),
``log_level`` the root logger's own level and ``boto_level`` at least INFO (crhelper sets both; the root logger
stays as it was, botocore's DEBUG request log, which holds the ResponseURL in a poll target's Input, stays off). The
crhelper logger is held at INFO (:func:`~harvest_handler.logs.quiet_libraries`), so ``__call__``'s DEBUG log of the
event never appears.

What is replaced, and why (docs/design.md keeps the same list):

- ``_set_timeout``: crhelper's ``threading.Timer`` runs on wall-clock time; here the timer runs on
  ``harvest_handler.clock`` (the rehearsal's virtual time, Lambda's end of an invocation) and answers with a
  Reason that names the job.
- ``_wrap_function``: a function may return an :data:`Outcome` (or, crhelper's contract, a physical id or None);
  a poll first checks that its request is still unanswered (its rule exists), or delivers a stored answer, or
  only retires its rule (see "Exactly one answer" below).
- ``_polling_init``: crhelper hands every first invocation over to EventBridge, even one that already finished,
  and removes the rule before answering (an answer that then fails is never retried, and CloudFormation waits an
  hour): here only :class:`InProgress` hands over, and the rule goes only once the answer has landed.
- ``_put_rule``: crhelper names the rule LogicalResourceId + 8 random characters (over EventBridge's 64 for long
  ids, a second rule on redelivery, no fixed prefix to grant on): here ``<prefix>-<16 hex of
  stack/logical/request>``.
- ``_add_permission`` / ``_remove_permission``: crhelper adds a Lambda permission per rule (the function's policy
  fills up at 20 KB); the construct grants ``rule/<prefix>*`` once, so both are no-ops.
- ``_send``: crhelper keeps the last 240 characters of a long Reason, never bounds the body, puts internal keys
  in Data, and its ``_send_response`` counts 5xx as delivered and sleeps with ``time.sleep``: here
  :mod:`~harvest_handler.cfn_response`, once per invocation, and an answer that did not land waits on the rule.
- ``generate_physical_id``: crhelper's is random: here ``failed-create:<LogicalResourceId>:<RequestId>``, the
  same on redelivery and never taken for a job ARN.
- ``_events_client``: crhelper builds its own in ``__init__``; the one used is :mod:`~harvest_handler.aws_clients`'
  (built on first use, botocore's standard retries, replaceable by tests and the rehearsal).

crhelper's ``__init__`` also builds lambda, events and logs clients (about 60 ms, the first ones much more): it
runs once per process, on the first invocation (never at import), and each invocation works on its own copy
(:meth:`SafeCfnResource.for_invocation`), because crhelper keeps the request on the instance and the deploy
rehearsal runs several invocations at once in one process. Under ``AWS_SAM_LOCAL`` crhelper's own local mode
applies (no polling, no answer for polled request types).

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
"""

from __future__ import annotations

import contextvars
import copy
import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from botocore.exceptions import ClientError
from crhelper import FAILED, SUCCESS, CfnResource

from harvest_handler import aws_clients, cfn_response
from harvest_handler import clock as handler_clock
from harvest_handler.cfn_response import cause_of, error_code, fit_reason, put_response, reason, response_body
from harvest_handler.logs import logger, quiet_libraries

POLL_PERIOD_SECONDS = 300.0  # rate(5 minutes): the fallback when a job's events are lost (crhelper counts minutes)
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
ANSWER_TRY_SECONDS = 50.0  # one invocation's PUT attempts; then the next poll (a period later) tries
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

    ``physical_id`` is what a FAILED answer must carry meanwhile (a job that exists), if anything. ``job`` is
    the ARN of the job watched, once it exists: the polling rule is then named after it (:func:`job_rule_name`),
    so the job's EventBridge events find the request.
    """

    state: Mapping[str, Any]
    physical_id: str | None = None
    job: str = ""


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


_prototypes: dict[tuple[type[SafeCfnResource], str], SafeCfnResource] = {}
_prototypes_lock = threading.Lock()


class SafeCfnResource(CfnResource):
    """See the module docstring. ``rule_prefix_env`` names the environment variable holding the rule prefix.

    Register functions with crhelper's decorators (``@resource.create``, ``@resource.poll_create``, ...) or with
    :meth:`register`; get one instance per invocation from :meth:`for_invocation`.
    """

    # crhelper's own state and helpers that this class reads (its type stubs leave them out).
    _event: dict[str, Any]
    _context: LambdaContext | None
    _response_url: str
    _polling_interval: int
    _sleep_on_delete: int
    _init_failed: Exception | None
    _log_level: str
    _boto_level: str
    RequestType: str
    _poll_enabled: Callable[[], Function | None]
    _remove_targets: Callable[[str], None]
    _delete_rule: Callable[[str], None]

    def __init__(
        self,
        *,
        rule_prefix_env: str,
        polling_interval: int = round(POLL_PERIOD_SECONDS / 60),
        sleep_on_delete: int = 0,
    ) -> None:
        log_level, boto_level = _log_levels()
        super().__init__(
            log_level=log_level,
            boto_level=boto_level,
            polling_interval=polling_interval,
            sleep_on_delete=sleep_on_delete,
        )
        self._rule_prefix_env = rule_prefix_env
        self._start_invocation()

    @classmethod
    def for_invocation(cls, *, rule_prefix_env: str) -> SafeCfnResource:
        """A fresh instance for one invocation: a copy of the process's one crhelper instance of this class,
        built on first use (crhelper's ``__init__`` builds three boto3 clients; an init that failed is not kept)."""
        with _prototypes_lock:
            prototype = _prototypes.get((cls, rule_prefix_env))
            if prototype is None:
                prototype = cls(rule_prefix_env=rule_prefix_env)
                if prototype._init_failed is None:
                    _prototypes[(cls, rule_prefix_env)] = prototype
        resource = copy.copy(prototype)
        resource._start_invocation()
        return resource

    def _start_invocation(self) -> None:
        """This class's own per-invocation state (crhelper's is reset by its ``_crhelper_init``), and crhelper's
        logging levels as of now (its ``_log_setup`` applies them on every call)."""
        self._log_level, self._boto_level = _log_levels()
        quiet_libraries()
        self._outcome: Outcome | Answer | _Skip | None = None
        self._created_rule = ""
        self._failure_id = ""
        self._time_out_at = float("inf")
        self._responded = False
        self._send_lock = threading.Lock()

    def register(self, *, create: Function, update: Function, delete: Function, poll: Function) -> None:
        """The function per request type, and the one that polls a Create or Update until it finishes (through
        crhelper's decorators)."""
        # crhelper's stubs type a function as returning the physical id; an Outcome is understood here too.
        self.create(cast(Any, create))
        self.update(cast(Any, update))
        self.delete(cast(Any, delete))
        self.poll_create(cast(Any, poll))
        self.poll_update(cast(Any, poll))

    def set_failure_physical_id(self, physical_id: str) -> None:
        """From now on a FAILED answer (error, timeout) carries ``physical_id``, so a rollback finds the job."""
        self._failure_id = physical_id

    # Replaced parts of crhelper's flow ---------------------------------------------------------------------
    def _set_timeout(self) -> None:
        """crhelper's "about to time out" answer, on the handler clock, with this invocation's log keys."""
        assert self._context is not None
        seconds = self._context.get_remaining_time_in_millis() / 1000 - TIMEOUT_MARGIN_SECONDS
        self._schedule_time_out(handler_clock.current.time() + seconds)

    def answer_by(self, at: float) -> None:
        """Answer FAILED at ``at`` (handler clock) at the latest, should the flow be stuck (a hung call) then:
        the request's own deadline can come before Lambda's."""
        if at < self._time_out_at < float("inf"):  # only once crhelper has set its timer
            self._timer.cancel()
            self._schedule_time_out(at)

    def _schedule_time_out(self, at: float) -> None:
        run_in_context = contextvars.copy_context().run
        self._time_out_at = at
        self._timer = handler_clock.current.call_later(
            at - handler_clock.current.time(), lambda: run_in_context(self._time_out)
        )

    def _time_out(self) -> None:
        logger.error("Lambda time or the request's Timeout nearly out before the request finished; answering FAILED")
        self._send(
            FAILED,
            "the handler ran out of Lambda time (or of the request's Timeout) before the request finished "
            "(see the function's log)",
        )

    def _wrap_function(self, func: Callable[..., Any] | None) -> None:
        """Run the registered function, unless the event says otherwise (a stale poll, an answer poll, a retire
        poll); its Outcome (or exception) sets what is answered."""
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
            result = func(event, self._context) if func else Failed(f"No function for {self.RequestType}")
            outcome = result if isinstance(result, Succeeded | Failed | InProgress) else self._as_outcome(result)
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

    def _as_outcome(self, physical_id: object) -> Outcome:
        """crhelper's contract: a function returns the physical id (a poll: None while not finished) and sets
        ``Data``; a first invocation with a poll function hands over to polling, Data as its state."""
        data = {str(key): value for key, value in self.Data.items()}
        if POLL_FLAG in self._event:
            return Succeeded(str(physical_id), data) if physical_id else InProgress(data)
        if self._poll_enabled():
            return InProgress(data, str(physical_id) if physical_id else None)
        return Succeeded(str(physical_id or self._event.get("PhysicalResourceId") or ""), data)

    def _polling_init(self, event: dict[str, Any]) -> None:
        """After the function of a polled request type: answer, hand over to (or refresh) polling, or nothing.
        Errors end as PollingError, whose message is the Reason crhelper's ``__call__`` answers with."""
        try:
            self._conclude()
        except Exception as error:
            logger.exception("Custom resource request failed")
            if isinstance(error, PollingError):
                raise
            raise PollingError(cause_of(error)) from error

    def _conclude(self) -> None:
        outcome, event = self._outcome, self._event
        if outcome is RETIRE:
            self._retire(str(event[RULE_KEY]))
        elif isinstance(outcome, _Skip):
            logger.info("This poll's rule is gone: another delivery answered the request; nothing to do")
        elif isinstance(outcome, Answer):
            self._deliver(outcome)
        elif isinstance(outcome, InProgress):
            if POLL_FLAG not in event:
                self._hand_over()
            elif dict(outcome.state) != event.get(STATE_KEY):
                self._point_rule(str(event[RULE_KEY]), {STATE_KEY: dict(outcome.state)})
        else:
            self._send()

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
    def _hand_over(self) -> None:
        """Create this request's rule and point it at the function; a rule left half-made goes with the FAILED
        answer that follows (see :meth:`_deliver`)."""
        assert isinstance(self._outcome, InProgress)
        try:
            rule_arn = self._put_rule(self._outcome.job)
            self._point_rule(rule_arn, {STATE_KEY: dict(self._outcome.state)})
        except PollingError:
            raise
        except Exception as error:
            raise PollingError(f"could not hand over to EventBridge polling: {cause_of(error)}") from error
        logger.info("Handed over to EventBridge polling", extra={"rule": _rule_name(rule_arn)})

    def poll_rule_name(self, job_arn: str = "") -> str:
        """``<prefix>-<hash>``: at most 64 characters, the same on redelivery, covered by ``rule/<prefix>*``; named
        after the job when there is one (:func:`job_rule_name`), else after the request (no job yet)."""
        prefix = rule_prefix(self._rule_prefix_env)
        if job_arn:
            return job_rule_name(prefix, job_arn)
        key = "\n".join((self.StackId, self.LogicalResourceId, self.RequestId))
        return f"{prefix}-{hashlib.sha256(key.encode()).hexdigest()[:RULE_HASH_CHARS]}"

    def _put_rule(self, job_arn: str = "") -> str:
        unit = "minute" if self._polling_interval == 1 else "minutes"
        response = self._events_client.put_rule(
            Name=self.poll_rule_name(job_arn),
            ScheduleExpression=f"rate({self._polling_interval} {unit})",
            State="ENABLED",
            Description=f"Polls custom resource {self.LogicalResourceId}"[:512],
        )
        self._created_rule = str(response["RuleArn"])
        return self._created_rule

    def _point_rule(self, rule_arn: str, extra: Mapping[str, Any]) -> None:
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
            if error_code(error) == "ResourceNotFoundException":
                return False
            logger.warning("Could not look the polling rule up", extra={"problem": cause_of(error)})
            return unknown
        return True

    def _remove_rule(self, rule_arn: str) -> None:
        """Remove the target, then the rule, and see it gone; raises while it is still there."""
        name = _rule_name(rule_arn)
        for step in (self._remove_targets, self._delete_rule):
            try:
                step(rule_arn)
            except ClientError as error:
                if error_code(error) != "ResourceNotFoundException":
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
            self._point_rule(rule_arn, {RETIRE_KEY: True})
        except Exception as error:
            logger.error("Polling rule neither removed nor marked to retire", extra={"problem": cause_of(error)})

    def _add_permission(self, rule_arn: str) -> str:
        """No-op: the construct grants EventBridge ``lambda:InvokeFunction`` once for ``rule/<prefix>*``."""
        return ""

    def _remove_permission(self, sid: str) -> None:
        """No-op, see ``_add_permission``."""

    @property
    def _events_client(self) -> Any:
        """crhelper's ``_remove_targets``/``_delete_rule`` read this: aws_clients' client, built on first use."""
        return aws_clients.events()

    @_events_client.setter
    def _events_client(self, crhelpers_own: Any) -> None:
        """crhelper's ``__init__`` assigns the client it built; aws_clients' is the one used."""

    def _function_arn(self) -> str:
        """This function's unqualified ARN (the construct's permission names the function, not a version)."""
        assert self._context is not None
        return ":".join(self._context.invoked_function_arn.split(":")[:7])

    # Answering ---------------------------------------------------------------------------------------------
    def _send(self, status: str | None = None, reason: str = "", send_response: object = None) -> None:
        """crhelper's answer, through :meth:`_deliver`; ``status`` and ``reason`` (a cause: an error's text, the
        timeout) override the function's, the reason then naming the job or resource."""
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
        text = cfn_response.reason(self._subject(), reason) if status else self.Reason
        self._deliver(Answer(final_status, text, physical_id, data))

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
        if (
            POLL_FLAG in self._event
            and not self._event.get(ANSWER_KEY)
            and not self._rule_exists(_rule_name(rule_arn), unknown=True)
        ):
            logger.info("The request was answered meanwhile (its rule is gone): not answering again")
            return
        if put_response(self._response_url, body, give_up_at=self._give_up_at()):
            if rule_arn:
                self._retire(rule_arn)
            return
        try:
            rule_arn = rule_arn or self._put_rule()
            self._point_rule(rule_arn, {ANSWER_KEY: dict(vars(answer), Data=dict(answer.Data))})
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


def rule_prefix(env_name: str) -> str:
    """The rule-name prefix in environment variable ``env_name`` (the construct grants ``rule/<prefix>*``)."""
    prefix = os.environ.get(env_name, "")
    if not (RULE_PREFIX_PATTERN.fullmatch(prefix) and len(prefix) <= RULE_PREFIX_MAX):
        raise PollingError(
            f"Environment variable {env_name} must hold a rule-name prefix of 1 to "
            f"{RULE_PREFIX_MAX} letters, digits, '.', '-' or '_', got {prefix!r}"
        )
    return prefix


def job_rule_name(prefix: str, job_arn: str) -> str:
    """The one rule of whatever waits on the job ``job_arn``: ``<prefix>-<16 hex of sha256(job ARN)>``.

    The job's EventBridge events find the waiting request by this name alone (DescribeRule, ListTargetsByRule
    inside the ``rule/<prefix>*`` grant) and run the rule's target Input as a scheduled fire would.
    """
    return f"{prefix}-{hashlib.sha256(job_arn.encode()).hexdigest()[:RULE_HASH_CHARS]}"


def _log_levels() -> tuple[str, str]:
    """crhelper's ``log_level`` and ``boto_level``: crhelper sets the root logger to the first (here the level it
    already has) and botocore, boto3, urllib3 to the second (never below INFO: botocore's DEBUG request log would
    show the ResponseURL inside a poll target's Input)."""
    root = logging.getLevelName(logging.getLogger().level)
    boto = logging.getLevelName(max(logging.INFO, logging.getLogger("botocore").level))
    return str(root), str(boto)


def _rule_name(rule_arn: str) -> str:
    return rule_arn.split("/", 1)[-1]
