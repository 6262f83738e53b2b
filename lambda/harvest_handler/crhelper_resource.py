"""crhelper's ``CfnResource`` used as a library: its constructor, decorators, ``init_failure``, request flow and poll
dispatch, with an override only where crhelper offers no extension point for what this handler needs.

Tested with crhelper 2.0.12 (the wheel accepts ``>=2.0.12,<2.1``). Functions are registered through crhelper's
decorators (``create``, ``update``, ``delete``, ``poll_create``, ``poll_update``): either crhelper's own contract
(return the physical id, set ``Data``; a poll function returns None until it is done) or, through
:meth:`SafeCfnResource.register`, the lifecycle's :data:`~harvest_handler.model.Outcome`. crhelper's ``__call__``
runs the request: it picks the function (a poll's when the event is one of crhelper's polls), runs it, and either
answers or calls ``_polling_init``. The EventBridge rules themselves are :mod:`harvest_handler.rules`'.

The overrides, each because crhelper has no extension point for it (docs/design.md keeps the same list):

- ``__init__``: crhelper's constructor builds lambda, events and logs clients that nothing here uses (no argument
  turns them off; only SAM's local mode does): it runs in local mode, then the instance is put back as it was.
- ``_set_timeout``: crhelper's ``threading.Timer`` runs on wall-clock time; here the timer runs on
  ``harvest_handler.clock`` (virtual time in the rehearsal) and its answer names the job.
- ``_get_func``: a poll that only carries a stored answer or a retire mark runs no function (see "Exactly one
  answer").
- ``_polling_init``: crhelper hands every first invocation over to EventBridge, even one that has already finished,
  names the rule after the logical id plus random characters (over EventBridge's 64 for long ids, another rule on
  redelivery), adds a Lambda permission per rule (the function's policy fills at 20 KB) and removes the rule before
  answering (a failed answer is never retried): here only an unfinished request hands over, on a rule named by
  :mod:`harvest_handler.rules`, under the one permission the construct grants, removed once the answer has landed.
- ``_send``: crhelper keeps the last 240 characters of a long Reason, never bounds the body, and its
  ``_send_response`` counts 5xx as delivered and retries forever with ``time.sleep``: here
  :mod:`~harvest_handler.cfn_response`, once per invocation, and an answer that did not land waits on the rule.
- ``generate_physical_id``: crhelper's is random: here ``failed-create:<LogicalResourceId>:<RequestId>``, the same
  on redelivery and never taken for a job ARN.

Exactly one answer per request, and never none, with EventBridge and Lambda delivering at least once:

- A poll runs as its rule's stored Input, read from EventBridge by the entry point (``index.py``), never as the
  invocation's payload. The rule is removed only after an answer has landed, so a poll whose rule is gone is a
  second delivery of a poll already answered: it does nothing. Before PUTting, a poll's answer looks again.
- An answer is PUT for at most ``ANSWER_TRY_SECONDS`` (less than the poll period, so two polls never try at once).
  One that did not land is left on the request's rule for the next poll to deliver (an "answer" poll).
- After an answer has landed the rule is removed: targets, rule, then DescribeRule to see it gone, a few times.
  A rule that will not go gets a "retire" target instead: its polls only try again to remove it.
- The about-to-time-out answer goes the same way, so a poll that runs out of Lambda time answers once too.

A request delivered twice while both deliveries watch a job inline (no rule yet) can still be answered twice, with
the same body: nothing tells one delivery of the other.
"""

from __future__ import annotations

import contextvars
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from crhelper import FAILED, SUCCESS, CfnResource

from harvest_handler import clock as handler_clock
from harvest_handler import model, rules
from harvest_handler.cfn_response import ANSWER_TRY_SECONDS, Delivery, put_response, response_body
from harvest_handler.logs import logger, quiet_libraries
from harvest_handler.model import (
    POLL_FLAG,
    RULE_KEY,
    STATE_KEY,
    Failed,
    InProgress,
    LambdaContext,
    Outcome,
    Succeeded,
    cause_of,
    fit_reason,
)

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
TIMEOUT_MARGIN_SECONDS = 0.5  # crhelper answers FAILED this long before Lambda would kill the invocation
ANSWER_KEY = "HarvestAnswer"  # a poll carrying an answer that has not landed yet
WAKE_KEY = "HarvestWake"  # the event pattern a request's rule fires on besides its schedule (InProgress.wake_on)
RETIRE_KEY = "HarvestRetire"  # a poll of an answered request whose rule could not be removed
RETIRE_ATTEMPTS = 3
SAM_LOCAL_ENV = "AWS_SAM_LOCAL"  # crhelper's local mode: no clients built, no polling

Function = Callable[[dict[str, Any], LambdaContext], Outcome]


@dataclass(frozen=True)
class Answer:
    """What CloudFormation is told; it travels in an answer poll's Input when a PUT did not land."""

    Status: str
    Reason: str
    PhysicalResourceId: str
    Data: Mapping[str, str] = field(default_factory=dict)


class _Retire:
    """This poll has nothing to answer: its request was answered, and it only removes the rule."""


RETIRE = _Retire()

_construct_lock = threading.Lock()


class SafeCfnResource(CfnResource):
    """See the module docstring: one instance per invocation, functions registered through crhelper's decorators
    (crhelper's contract) or :meth:`register` (Outcomes)."""

    # crhelper's own state that this class reads or sets (its type stubs leave it out).
    _event: dict[str, Any]
    _context: LambdaContext | None
    _polling_interval: int
    _sleep_on_delete: int
    _sam_local: str | None
    _send_response: bool
    _timer: Any
    RequestType: str

    def __init__(
        self,
        *,
        polling_interval: int = rules.POLL_PERIOD_MINUTES,
        sleep_on_delete: int = 0,
    ) -> None:
        log_level, boto_level = _log_levels()
        with _without_crhelpers_clients() as sam_local:
            super().__init__(
                log_level=log_level,
                boto_level=boto_level,
                polling_interval=polling_interval,
                sleep_on_delete=sleep_on_delete,
            )
        self._sam_local = sam_local  # crhelper's local mode only when SAM really runs the function
        quiet_libraries()
        self._outcome: Outcome | Answer | _Retire | None = None
        self._created_rule = ""
        self._failure_id = ""
        self._time_out_at = float("inf")
        self._responded = False
        self._send_lock = threading.Lock()

    def register(self, *, create: Function, update: Function, delete: Function, poll: Function) -> None:
        """The Outcome-returning function per request type, and the one that polls a Create or Update until it
        finishes, registered through crhelper's decorators."""
        self.create(self._adopting(create))
        self.update(self._adopting(update))
        self.delete(self._adopting(delete))
        self.poll_create(self._adopting(poll))
        self.poll_update(self._adopting(poll))

    def set_failure_physical_id(self, physical_id: str) -> None:
        """From now on a FAILED answer (error, timeout) carries ``physical_id``, so a rollback finds the job."""
        self._failure_id = physical_id

    def answer_by(self, at: float) -> None:
        """Answer FAILED at ``at`` (handler clock) at the latest, should the flow be stuck (a hung call) then:
        the request's own deadline can come before Lambda's."""
        if at < self._time_out_at < float("inf"):  # only once crhelper has set its timer
            self._timer.cancel()
            self._schedule_time_out(at)

    def _adopting(self, function: Function) -> Callable[[dict[str, Any], LambdaContext], str | None]:
        """``function`` under crhelper's contract: its Outcome (or exception) is kept for ``_polling_init`` and
        ``_send``, and crhelper gets the physical id, ``Data``, ``Status`` and ``Reason`` it expects."""

        def run(event: dict[str, Any], context: LambdaContext) -> str | None:
            try:
                outcome = function(event, context)
            except Exception as error:
                logger.exception("Custom resource function failed")
                outcome = Failed(model.reason(self._subject(), cause_of(error)))
            self._outcome = outcome
            if isinstance(outcome, Succeeded):
                self.Data = dict(outcome.data)
                return outcome.physical_id
            if isinstance(outcome, Failed):
                self.Status, self.Reason = FAILED, outcome.reason
                return outcome.physical_id or self._failure_id or None
            if outcome.physical_id:
                self._failure_id = outcome.physical_id
            self.Data = dict(outcome.state)
            return None

        return run

    # Overrides (see the module docstring) ------------------------------------------------------------------
    def _set_timeout(self) -> None:
        """crhelper's "about to time out" answer, on the handler clock."""
        assert self._context is not None
        seconds = self._context.get_remaining_time_in_millis() / 1000 - TIMEOUT_MARGIN_SECONDS
        self._schedule_time_out(handler_clock.current.time() + seconds)

    def _get_func(self) -> Callable[..., Any] | None:
        """crhelper's choice of function, unless this poll has nothing to run (stale, answer or retire poll)."""
        event = self._event
        if POLL_FLAG in event:
            if event.get(RETIRE_KEY):
                self._outcome = RETIRE
                return None
            if event.get(ANSWER_KEY):
                self._outcome = Answer(**event[ANSWER_KEY])
                return None
        choose: Callable[[], Callable[..., Any] | None] = super()._get_func  # type: ignore[misc]  # not in the stubs
        return choose()

    def _polling_init(self, event: dict[str, Any]) -> None:
        """After the function of a polled request type: hand over to (or refresh) polling, deliver or retire, or
        let crhelper answer. A failure here raises, and crhelper's ``__call__`` answers FAILED with its text."""
        try:
            outcome = self._outcome if self._outcome is not None else self._crhelper_outcome()
            if outcome is RETIRE:
                self._retire(str(event[RULE_KEY]))
            elif isinstance(outcome, Answer):
                self._deliver(outcome)
            elif isinstance(outcome, InProgress):
                if POLL_FLAG not in event:
                    self._hand_over(outcome)
                else:
                    self._refresh(outcome, str(event[RULE_KEY]))
            else:
                self._send_response = True  # crhelper answers through _cfn_response and _send
        except Exception as error:
            logger.exception("Custom resource request failed")
            raise RuntimeError(cause_of(error)) from error

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
        text = model.reason(self._subject(), reason) if status else self.Reason
        self._deliver(Answer(final_status, text, physical_id, data))

    def generate_physical_id(self, event: Mapping[str, Any]) -> str:
        """The id of a resource whose create failed before a job existed: stable, and not a job ARN."""
        return f"failed-create:{event['LogicalResourceId']}:{event['RequestId']}"

    # crhelper's contract --------------------------------------------------------------------------------------
    def _crhelper_outcome(self) -> Outcome:
        """What a function registered with crhelper's own contract decided: a physical id (a poll: None while not
        finished) and ``Data``; a first invocation with a poll function hands over to polling, Data as its state."""
        data = {str(key): value for key, value in self.Data.items()}
        if self.Status == FAILED:
            return Failed(self.Reason, str(self.PhysicalResourceId) or None)
        if POLL_FLAG in self._event:
            return Succeeded(str(self.PhysicalResourceId), data) if self.PhysicalResourceId else InProgress(data)
        return InProgress(data, str(self.PhysicalResourceId) or None)

    def _subject(self) -> str:
        """What a FAILED reason is about: the job (named by the last part of its ARN), else the resource."""
        job_id = self._failure_id or str(self._event.get("PhysicalResourceId") or "")
        if job_id.startswith("arn:"):
            return f"Harvest job {job_id.rsplit('/', 1)[-1]}"
        return f"Resource {self.LogicalResourceId}"

    # The timeout --------------------------------------------------------------------------------------------
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

    # Polling ------------------------------------------------------------------------------------------------
    def _hand_over(self, outcome: InProgress) -> None:
        """Create this request's rule and point it at the function; a rule left half-made goes with the FAILED
        answer that follows (see :meth:`_deliver`)."""
        wake = None if outcome.job else outcome.wake_on
        try:
            rule_arn = self._put_request_rule(outcome.job, wake)
            self._point_rule(rule_arn, {STATE_KEY: dict(outcome.state), **({WAKE_KEY: wake} if wake else {})})
        except Exception as error:
            raise rules.RuleError(f"could not hand over to EventBridge polling: {cause_of(error)}") from error
        logger.info("Handed over to EventBridge polling", extra={"rule": rules.name_of(rule_arn)})

    def _refresh(self, outcome: InProgress, rule_arn: str) -> None:
        """A poll that is not finished: its rule keeps the new state and, when named after the request (its job did
        not exist at hand-over), fires on the events the outcome names (the job's own, once it exists)."""
        extra: dict[str, Any] = {STATE_KEY: dict(outcome.state)}
        request_rule = rules.request_rule_name(self.StackId, self.LogicalResourceId, self.RequestId)
        wake = outcome.wake_on if rules.name_of(rule_arn) == request_rule else None
        if wake:
            extra[WAKE_KEY] = dict(wake)
        if wake != self._event.get(WAKE_KEY):
            self._put_request_rule("", wake)
            logger.info("The polling rule now fires on other events", extra={"events": wake})
        if any(self._event.get(key) != value for key, value in extra.items()):
            self._point_rule(rule_arn, extra)

    def _put_request_rule(self, job_arn: str = "", wake_on: Mapping[str, Any] | None = None) -> str:
        """The request's rule: named after its job when there is one, else after the request (no job yet), then
        also firing on the events ``wake_on`` matches."""
        name = (
            rules.job_rule_name(job_arn)
            if job_arn
            else rules.request_rule_name(self.StackId, self.LogicalResourceId, self.RequestId)
        )
        description = f"Polls custom resource {self.LogicalResourceId}"
        self._created_rule = rules.put(
            name, description, every_minutes=self._polling_interval, event_pattern=None if job_arn else wake_on
        )
        return self._created_rule

    def _point_rule(self, rule_arn: str, extra: Mapping[str, Any]) -> None:
        """Point the rule at this function with the poll Input: the event minus properties, plus ``extra`` (the
        poll state, an answer to deliver, or the retire mark)."""
        assert self._context is not None
        poll_event = {key: self._event[key] for key in POLL_EVENT_KEYS if key in self._event}
        poll_event.update({POLL_FLAG: True, RULE_KEY: rule_arn, **extra})
        rules.point(rules.name_of(rule_arn), self._context, poll_event)

    def _rule_exists(self, name: str, *, unknown: bool) -> bool:
        """Whether EventBridge has the rule; ``unknown`` when it cannot tell (an error other than not found)."""
        try:
            return rules.exists(name)
        except Exception as error:
            logger.warning("Could not look the polling rule up", extra={"problem": cause_of(error)})
            return unknown

    def _remove_rule(self, rule_arn: str) -> None:
        """Remove the target, then the rule, and see it gone; raises while it is still there."""
        name = rules.name_of(rule_arn)
        rules.remove(name)
        if self._rule_exists(name, unknown=False):
            raise rules.RuleError(f"the rule {name} is still there")

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
            logger.info("Polling rule removed", extra={"rule": rules.name_of(rule_arn)})
            return
        logger.warning("Polling rule not removed; its next poll tries again", extra={"problem": problem})
        try:
            self._point_rule(rule_arn, {RETIRE_KEY: True})
        except Exception as error:
            logger.error("Polling rule neither removed nor marked to retire", extra={"problem": cause_of(error)})

    # Answering ---------------------------------------------------------------------------------------------
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
        poll = POLL_FLAG in self._event
        rule_arn = str(self._event.get(RULE_KEY) or "") if poll else self._created_rule
        if poll and not self._event.get(ANSWER_KEY) and not self._rule_exists(rules.name_of(rule_arn), unknown=True):
            logger.info("The request was answered meanwhile (its rule is gone): not answering again")
            return
        delivery = put_response(str(self._event["ResponseURL"]), body, give_up_at=self._give_up_at())
        if delivery is not Delivery.UNDELIVERED:
            if rule_arn:
                self._retire(rule_arn)
            return
        try:
            rule_arn = rule_arn or self._put_request_rule()
            self._point_rule(rule_arn, {ANSWER_KEY: dict(vars(answer), Data=dict(answer.Data))})
        except Exception as error:
            logger.error("Answer neither delivered nor left for a poll", extra={"problem": cause_of(error)})
            return
        logger.warning("Answer not delivered; the next poll delivers it", extra={"rule": rules.name_of(rule_arn)})

    def _give_up_at(self) -> float:
        """When this invocation's PUT attempts stop: after ANSWER_TRY_SECONDS, or just before Lambda ends it."""
        now = handler_clock.current.time()
        if self._context is None:
            return now + ANSWER_TRY_SECONDS
        remaining = self._context.get_remaining_time_in_millis() / 1000 - TIMEOUT_MARGIN_SECONDS
        return now + min(ANSWER_TRY_SECONDS, remaining)


@contextmanager
def _without_crhelpers_clients() -> Iterator[str | None]:
    """crhelper's constructor in SAM's local mode, which builds no client; yields the mode as it really is."""
    with _construct_lock:  # the environment is the process's: one construction at a time
        really = os.environ.get(SAM_LOCAL_ENV)
        os.environ[SAM_LOCAL_ENV] = "true"
        try:
            yield really
        finally:
            if really is None:
                del os.environ[SAM_LOCAL_ENV]
            else:
                os.environ[SAM_LOCAL_ENV] = really


def _log_levels() -> tuple[str, str]:
    """crhelper's ``log_level`` and ``boto_level``: crhelper sets the root logger to the first (here the level it
    already has) and botocore, boto3, urllib3 to the second (never below INFO: botocore's DEBUG request log would
    show the ResponseURL inside a poll target's Input)."""
    root = logging.getLevelName(logging.getLogger().level)
    boto = logging.getLevelName(max(logging.INFO, logging.getLogger("botocore").level))
    return str(root), str(boto)
