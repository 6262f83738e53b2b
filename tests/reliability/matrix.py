"""The fault matrix: every AWS call the handler makes, failing with every error its botocore model declares, at
the first attempt and at every attempt, plus what goes wrong around the calls (the response PUT, Lambda's
timeout, duplicate deliveries, EventBridge outages). Each cell is one rehearsal of a stack; :func:`problems`
lists what a user would notice going wrong in it, so an empty list is a passing cell.

Run it outside pytest with ``python -m tests.reliability.matrix`` (prints the table); ``test_fault_matrix.py``
runs each cell as its own test.

"Every attempt" means for the whole stack operation. An EventBridge call that fails while the handler cleans up
its polling rule can only leave the rule behind while the outage lasts, so those cells heal EventBridge after
the stack operations and then check that the rule goes at the next poll.
"""

from __future__ import annotations

import importlib
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import botocore.session

from mediapackage_harvest.rehearsal.lambda_runtime import load_handler_module
from mediapackage_harvest.rehearsal.scenario import EventDelivery, Fault, JobScript, Scenario
from mediapackage_harvest.rehearsal.template import Template

if __package__ in (None, ""):  # `python tests/reliability/matrix.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.reliability.faults import FaultRehearsal, Hang, LambdaFaults
from tests.reliability.helpers import (
    LOG_LEVELS,
    REASON_MAX,
    REHEARSAL_START,
    Stacks,
    answers,
    handler_logs,
    job_names,
    leaked_secrets,
    statuses,
    synthesize,
)

WAIT, NO_WAIT = "FaultMatrix", "FaultMatrixNoWait"
FIRST, EVERY = "first attempt", "every attempt"
When = Literal["first attempt", "every attempt", ""]
Attempts = frozenset[int] | Literal["every"]
PATTERNS: tuple[tuple[When, str, Attempts], ...] = (
    ("first attempt", "first", frozenset({1})),
    ("every attempt", "every", "every"),
)
SETTLE_SECONDS = 900.0  # after the last stack operation: polls, redeliveries and retries still due

# A job long enough to be handed over to EventBridge (watched inline for 45 s), done before the 10-minute Timeout.
POLLED_JOB = JobScript(queued_seconds=5, in_progress_seconds=110)
# Answered by the first invocation, about 26 s in.
QUICK_JOB = JobScript(queued_seconds=5, in_progress_seconds=20)
# Still running when the no-wait stack is updated and deleted.
RUNNING_JOB = JobScript(queued_seconds=5, in_progress_seconds=1800)

CREATED = "CREATE_COMPLETE"
OK_WAIT = (CREATED, "DELETE_COMPLETE")
OK_NO_WAIT = (CREATED, "UPDATE_COMPLETE", "DELETE_COMPLETE")
ROLLED_BACK = ("ROLLBACK_COMPLETE",)
# Every AWS call the handler makes (service, operation).
HANDLER_CALLS = (
    *(("mediapackagev2", op) for op in ("CreateHarvestJob", "GetHarvestJob", "CancelHarvestJob")),
    *(("mediapackagev2", op) for op in ("TagResource", "UntagResource")),
    *(("events", op) for op in ("PutRule", "PutTargets", "RemoveTargets", "DeleteRule", "DescribeRule")),
    ("events", "ListTargetsByRule"),  # a job's event looking for the request waiting on the job
)
# Cells that show a limit of the design rather than a bug; they run as strict xfails, so a fix shows up.
KNOWN_LIMITS = {
    "DescribeRule-ResourceNotFoundException-every": (
        "EventBridge denying, every time, that the very rule invoking the handler exists: a poll takes 'rule gone' "
        "for 'another delivery answered', so none answers and CloudFormation times out the Create"
    ),
    # A poll runs only as the Input its rule holds, never from its payload alone (a forged invocation must change
    # nothing): while EventBridge cannot give that Input, no poll runs, and the request fails safe.
    "ListTargetsByRule-ResourceNotFoundException-every": (
        "EventBridge denying, every time, that the rule invoking the handler exists: no poll can read its rule's "
        "Input, so none answers; CloudFormation times out the Create and the rollback cancels the job"
    ),
    "ListTargetsByRule-InternalException-every": (
        "EventBridge failing every ListTargetsByRule for the whole wait: no poll can read its rule's Input, so none "
        "answers; CloudFormation times out the Create and the rollback cancels the job"
    ),
}
# What a FAILED reason must name, where it is not the error code itself.
CAUSES = {("GetHarvestJob", "ResourceNotFoundException"): "no longer finds it"}
# Errors botocore's standard retry mode retries by itself (throttling codes and 5xx answers).
RETRIED_BY_BOTOCORE = frozenset(
    {"ThrottlingException", "InternalServerException", "InternalException", "LimitExceededException"}
)


@dataclass(frozen=True)
class Cell:
    """One rehearsal: the faults, what the stack operations must end in, and what a FAILED reason must name."""

    id: str
    what: str  # the row of the printed table
    when: When  # its column
    expect: tuple[str, ...]
    stack: str = WAIT
    cause: str = ""
    job: JobScript = POLLED_JOB
    mediapackage: tuple[Fault, ...] = ()
    eventbridge: tuple[Fault, ...] = ()
    hangs: tuple[Hang, ...] = ()
    duplicate: tuple[tuple[str, float], ...] = ()
    poll_twice: bool = False
    drop_polls: tuple[float, float] | None = None
    response_failures: tuple[int, int | None] | None = None  # each answer's first PUTs: (how many, status/None)
    refuse_responses_until: float | None = None  # the response URL's host refuses connections until then
    heal: bool = False
    job_ends: str | None = None  # the job's final status, when the cell is about it
    lambda_timeouts: bool = False  # the cell makes Lambda end an invocation at its timeout
    job_events: EventDelivery = field(
        default_factory=EventDelivery
    )  # how the job's MediaPackage events reach the handler


@dataclass
class CellRun:
    """What one cell's rehearsal left for :func:`problems` to judge."""

    statuses: list[str]
    answers: dict[str, list[dict[str, Any]]]
    requests: list[tuple[str, str, str]]  # (request id, logical id, request type)
    job_names: set[str]
    jobs: list[dict[str, Any]]
    rules_left: list[str]
    internal_errors: list[Exception]
    leaked: list[str]
    injected: bool
    timed_out_invocations: int
    seconds: float
    log_lines: int = 0
    notes: list[str] = field(default_factory=list)


def model_errors(service: str, operation: str) -> list[str]:
    """The errors botocore's model declares for ``operation``, in model order."""
    model = botocore.session.get_session().get_service_model(service)
    return [shape.name for shape in model.operation_model(operation).error_shapes]


# The cells ---------------------------------------------------------------------------------------------------


def _mediapackage_cells() -> list[Cell]:
    cells: list[Cell] = []

    def add(operation: str, code: str, stack: str, first: tuple[str, ...], every: tuple[str, ...]) -> None:
        for when, short, attempts in PATTERNS:
            cells.append(
                Cell(
                    id=f"{operation}-{code}-{short}",
                    what=f"{operation} {code}",
                    when=when,
                    expect=first if when == FIRST else every,
                    stack=stack,
                    cause=CAUSES.get((operation, code), code),
                    job=RUNNING_JOB if stack == NO_WAIT else POLLED_JOB,
                    mediapackage=(Fault(operation, code, attempts),),
                )
            )

    for code in ("ThrottlingException", "InternalServerException", "ServiceQuotaExceededException"):
        add("CreateHarvestJob", code, WAIT, OK_WAIT, ROLLED_BACK)
    for code in ("AccessDeniedException", "ValidationException", "ResourceNotFoundException", "ConflictException"):
        add("CreateHarvestJob", code, WAIT, ROLLED_BACK, ROLLED_BACK)
    for code in ("ThrottlingException", "InternalServerException"):
        add("GetHarvestJob", code, WAIT, OK_WAIT, ROLLED_BACK)
    for code in ("AccessDeniedException", "ValidationException", "ResourceNotFoundException"):
        add("GetHarvestJob", code, WAIT, ROLLED_BACK, ROLLED_BACK)
    delete_failed = (CREATED, "UPDATE_COMPLETE", "DELETE_FAILED")
    for code in ("ThrottlingException", "InternalServerException"):
        add("CancelHarvestJob", code, NO_WAIT, OK_NO_WAIT, (*delete_failed, "DELETE_FAILED"))
    for code in ("AccessDeniedException", "ValidationException"):
        add("CancelHarvestJob", code, NO_WAIT, (*delete_failed, "DELETE_COMPLETE"), (*delete_failed, "DELETE_FAILED"))
    for code in ("ConflictException", "ResourceNotFoundException"):  # the job ended or went meanwhile: done
        add("CancelHarvestJob", code, NO_WAIT, OK_NO_WAIT, OK_NO_WAIT)
    rolled_back_update = (CREATED, "UPDATE_ROLLBACK_COMPLETE", "DELETE_COMPLETE")
    for operation in ("TagResource", "UntagResource"):
        add(operation, "ValidationException", NO_WAIT, rolled_back_update, rolled_back_update)
    return cells


def _eventbridge_cells() -> list[Cell]:
    cells: list[Cell] = []
    for operation in ("PutRule", "PutTargets", "RemoveTargets", "DeleteRule", "DescribeRule"):
        cleanup = operation in ("RemoveTargets", "DeleteRule")
        for code in model_errors("events", operation):
            for when, short, attempts in PATTERNS:
                handed_over = cleanup or operation == "DescribeRule" or (when == FIRST and code in RETRIED_BY_BOTOCORE)
                cells.append(
                    Cell(
                        id=f"{operation}-{code}-{short}",
                        what=f"{operation} {code}",
                        when=when,
                        expect=OK_WAIT if handed_over else ROLLED_BACK,
                        cause=code,
                        eventbridge=(Fault(operation, code, attempts),),
                        heal=cleanup and when == EVERY,
                    )
                )
    return cells


def _job_event_cells() -> list[Cell]:
    """The job events' path: its one EventBridge call failing, and the events lost, doubled or late (the job
    event's GetHarvestJob meets the GetHarvestJob cells' faults already)."""
    cells = [
        Cell(
            id=f"ListTargetsByRule-{code}-{short}",
            what=f"ListTargetsByRule {code}",
            when=when,
            expect=OK_WAIT,  # the event changes nothing; a poll answers
            cause=code,
            eventbridge=(Fault("ListTargetsByRule", code, attempts),),
        )
        for code in model_errors("events", "ListTargetsByRule")
        for when, short, attempts in PATTERNS
    ]
    return [
        *cells,
        Cell("job-events-lost", "Every job event lost", "", OK_WAIT, job_events=EventDelivery(loss=1.0)),
        Cell("job-events-twice", "Every job event delivered twice, 1 s apart", "", OK_WAIT,
             job_events=EventDelivery(duplicate_after_seconds=1.0)),
        Cell("job-events-late", "Every job event 100 s late", "", OK_WAIT,
             job_events=EventDelivery(delay_seconds=100.0)),
    ]  # fmt: skip


def _other_cells() -> list[Cell]:
    # From 500 s: the poll that watches inline up to the deadline (570 s) is stuck in GetHarvestJob's retries when
    # its invocation runs out (at 308 + 360 s); the rollback's Delete reads the job once the hang is over.
    hang = Hang("mediapackagev2.GetHarvestJob", 500.0, 900.0)
    return [
        Cell("response-put-5xx", "Response PUT answered 503 three times, then accepted", "", OK_WAIT,
             response_failures=(3, 503)),
        Cell("response-put-dropped", "Response PUT connection dropped three times, then accepted", "", OK_WAIT,
             response_failures=(3, None)),
        Cell("response-put-refused", "Response PUT connection refused for 30 s, then accepted", "", OK_WAIT,
             job=QUICK_JOB, refuse_responses_until=30.0),
        Cell("response-put-5xx-past-lambda-time", "Response PUT failing for longer than an invocation", "",
             OK_WAIT, response_failures=(12, 503)),  # 9 tries per invocation; a poll 5 minutes later lands it
        Cell("lambda-timeout-mid-call", "Lambda timeout while GetHarvestJob hangs", "", ROLLED_BACK,
             cause="ran out of Lambda time", job=RUNNING_JOB, hangs=(hang,), job_ends="CANCELLED",
             lambda_timeouts=True),
        Cell("create-redelivered", "Create delivered again 1 s later", "", OK_WAIT, duplicate=(("Create", 1.0),)),
        Cell("create-redelivered-after-handover", "Create delivered again after the hand-over", "", OK_WAIT,
             duplicate=(("Create", 60.0),)),
        Cell("poll-delivered-twice", "Every EventBridge poll delivered twice (job events lost)", "", OK_WAIT,
             poll_twice=True, job_events=EventDelivery(loss=1.0)),
        Cell("delete-while-create-polls", "Delete arriving while the Create still polls", "", ROLLED_BACK,
             cause="did not finish within timeout=", job=JobScript(5, 1800), drop_polls=(50.0, 700.0),
             job_ends="CANCELLED"),
    ]  # fmt: skip


CELLS: list[Cell] = _mediapackage_cells() + _eventbridge_cells() + _job_event_cells() + _other_cells()


# Running a cell ----------------------------------------------------------------------------------------------


def retagged(template: Template) -> Template:
    """The no-wait stack redeployed with changed tags: team changes, old goes (TagResource and UntagResource)."""
    body = {**template.body, "Resources": {k: dict(v) for k, v in template.body["Resources"].items()}}
    for logical_id in template.harvest_job_ids():
        resource = body["Resources"][logical_id]
        resource["Properties"] = {**resource["Properties"], "Tags": {"team": "video"}}
    return Template(body, template.env)


def run(cell: Cell, stacks: Stacks, level: str = "INFO") -> CellRun:
    """Rehearse ``cell``: deploy, (update,) destroy, retry a failed destroy once, heal, let what is due run."""
    began = time.perf_counter()
    template = stacks.template(cell.stack)
    scenario = Scenario(default_job=cell.job, faults=cell.mediapackage, events=cell.job_events)
    lambda_faults = LambdaFaults(poll_twice=cell.poll_twice, drop_polls=cell.drop_polls)
    with (
        handler_logs(level) as logs,
        FaultRehearsal(
            scenario,
            start=REHEARSAL_START,
            duplicate_deliveries=dict(cell.duplicate),
            eventbridge_faults=cell.eventbridge,
            hangs=cell.hangs,
            lambda_faults=lambda_faults,
            response_failures=cell.response_failures,
            refuse_responses_until=cell.refuse_responses_until,
        ) as rehearsal,
    ):
        result = rehearsal.deploy(template)
        if result.status == CREATED and cell.stack == NO_WAIT:
            result = rehearsal.deploy(retagged(template))
        alive = result.status in (CREATED, "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE")
        if alive and rehearsal.destroy().status == "DELETE_FAILED":
            rehearsal.destroy()  # what a user does next: delete the stack again
        if cell.heal:
            rehearsal.eventbridge.heal()
        rehearsal.settle(SETTLE_SECONDS)
        cloudformation = rehearsal.cloudformation
        requests = cloudformation.requests if cloudformation else []
        return CellRun(
            statuses=statuses(rehearsal),
            answers=answers(rehearsal),
            requests=[(r.request_id, r.logical_id, r.request_type) for r in requests],
            job_names=job_names(rehearsal),
            jobs=rehearsal.emulator.jobs(),
            rules_left=rehearsal.eventbridge_rules(),
            internal_errors=list(rehearsal.emulator.internal_errors),
            leaked=leaked_secrets(logs.lines, rehearsal),
            injected=_injected(cell, rehearsal),
            timed_out_invocations=len(lambda_faults.ended_at_timeout),
            seconds=time.perf_counter() - began,
            log_lines=len(logs.lines),
        )


def _injected(cell: Cell, rehearsal: FaultRehearsal) -> bool:
    """Whether the cell's fault really happened (a cell whose fault never fires proves nothing)."""
    checks: list[bool] = []
    answered = {(c.operation, c.error_code) for c in rehearsal.emulator.calls}
    answered |= {(c.operation, c.code) for c in rehearsal.eventbridge.calls}
    checks += [(f.operation, f.code) in answered for f in (*cell.mediapackage, *cell.eventbridge)]
    if cell.hangs or cell.lambda_timeouts:
        checks.append(bool(rehearsal.lambda_faults.ended_at_timeout))
    if cell.duplicate:
        checks.append(any("delivered again" in e.detail for e in rehearsal.timeline.where("lambda", "invoked")))
    if cell.poll_twice:
        checks.append(any(d.copy and d.poll for d in rehearsal.lambda_faults.deliveries))
    if cell.drop_polls:
        checks.append(rehearsal.lambda_faults.dropped_polls > 0)
    if cell.job_events.loss:
        checks.append(rehearsal.event_bus.lost > 0 and rehearsal.event_bus.delivered == 0)
    if cell.job_events.duplicate_after_seconds is not None:
        checks.append(any("delivered again" in e.detail for e in rehearsal.timeline.where("lambda", "invoked")))
    if cell.job_events.delay_seconds:
        checks.append(rehearsal.event_bus.delivered > 0)
    if cell.refuse_responses_until is not None:
        checks.append(_answer_waited_for_the_listener(rehearsal, cell.refuse_responses_until))
    if cell.response_failures:
        ids = [r.request_id for r in (rehearsal.cloudformation.requests if rehearsal.cloudformation else [])]
        checks.append(any(rehearsal.endpoint.attempts_for(i) > len(rehearsal.endpoint.responses_for(i)) for i in ids))
    return all(checks) and bool(checks)


def _answer_waited_for_the_listener(rehearsal: FaultRehearsal, until: float) -> bool:
    """The job ended before the response URL's host listened, and its answer landed only after."""
    origin = rehearsal.timeline.origin
    ended = min(job["ModifiedAt"].timestamp() for job in rehearsal.emulator.jobs()) - origin
    requests = rehearsal.cloudformation.requests if rehearsal.cloudformation else []
    answered = [r.answered_at - origin for r in requests if r.request_type == "Create" and r.answered_at]
    return bool(answered) and ended < until <= answered[0]


# Judging a cell ----------------------------------------------------------------------------------------------


def problems(cell: Cell, outcome: CellRun) -> list[str]:
    """Everything a user would notice going wrong; empty when the cell passes."""
    found: list[str] = []
    if not outcome.injected:
        found.append("the fault was never injected")
    if outcome.statuses != list(cell.expect):
        found.append(f"stack ended {outcome.statuses}, expected {list(cell.expect)}")
    for request_id, logical_id, request_type in outcome.requests:
        bodies = outcome.answers[request_id]
        if len(bodies) != 1:
            found.append(f"{logical_id} {request_type}: {len(bodies)} answers, expected exactly one")
        for body in bodies:
            found += _reason_problems(cell, outcome, f"{logical_id} {request_type}", body)
    if len(outcome.jobs) > 1:
        found.append(f"{len(outcome.jobs)} harvest jobs: {[j['HarvestJobName'] for j in outcome.jobs]}")
    if cell.job_ends and [j["Status"] for j in outcome.jobs] != [cell.job_ends]:
        found.append(f"the job ended {[j['Status'] for j in outcome.jobs]}, expected {cell.job_ends}")
    if outcome.rules_left:
        found.append(f"EventBridge rules left behind: {outcome.rules_left}")
    if outcome.internal_errors:
        found.append(f"emulator errors: {outcome.internal_errors}")
    if outcome.leaked:
        found.append(f"the ResponseURL reached the logs: {outcome.leaked[0]}")
    if cell.lambda_timeouts != bool(outcome.timed_out_invocations):
        found.append(f"{outcome.timed_out_invocations} invocations ended at Lambda's timeout")
    return found


def _reason_problems(cell: Cell, outcome: CellRun, what: str, body: dict[str, Any]) -> list[str]:
    if body.get("Status") != "FAILED":
        return []
    reason = str(body.get("Reason", ""))
    found = []
    if len(reason) > REASON_MAX:
        found.append(f"{what}: Reason of {len(reason)} characters")
    if not any(name in reason for name in outcome.job_names):
        found.append(f"{what}: Reason names no job: {reason!r}")
    if cell.cause not in reason:
        found.append(f"{what}: Reason does not name the cause {cell.cause!r}: {reason!r}")
    return found


# The table ---------------------------------------------------------------------------------------------------


def table(results: dict[str, bool]) -> str:
    """Cells tried and passed, one row per fault, a column per attempt pattern ("known": a KNOWN_LIMITS cell)."""
    rows: dict[str, dict[str, str]] = {}
    for cell in CELLS:
        if cell.id in results:
            mark = "pass" if results[cell.id] else "known" if cell.id in KNOWN_LIMITS else "FAIL"
            rows.setdefault(cell.what, {})[cell.when or "once"] = mark
    width = max((len(what) for what in rows), default=10) + 2
    lines = [f"{'fault':<{width}}{FIRST:<16}{EVERY:<16}once", "-" * (width + 40)]
    for what, columns in rows.items():
        lines.append(
            f"{what:<{width}}{columns.get(FIRST, ''):<16}{columns.get(EVERY, ''):<16}{columns.get('once', '')}"
        )
    passed = sum(results.values())
    known = sum(1 for cell_id, ok in results.items() if not ok and cell_id in KNOWN_LIMITS)
    lines.append(f"{len(results)} cells tried, {passed} passed" + (f", {known} known limit" if known else ""))
    return "\n".join(lines)


def level_for(cell: Cell) -> str:
    """Cells take turns at the handler's log levels, so every level meets every kind of fault."""
    return LOG_LEVELS[CELLS.index(cell) % len(LOG_LEVELS)]


def main(argv: list[str] | None = None) -> int:
    """Run every cell (or those whose id contains an argument) and print the table and each failure."""
    wanted = argv if argv is not None else sys.argv[1:]
    stacks = synthesize()
    load_handler_module()
    for handler in logging.getLogger(importlib.import_module("harvest_handler.logs").logger.name).handlers:
        handler.setLevel(logging.CRITICAL + 1)  # print the verdicts, not the handler's JSON lines
    results: dict[str, bool] = {}
    for cell in CELLS:
        if wanted and not any(w in cell.id for w in wanted):
            continue
        outcome = run(cell, stacks, level_for(cell))
        found = problems(cell, outcome)
        results[cell.id] = not found
        print(f"{'pass' if not found else 'FAIL'} {cell.id} ({outcome.seconds:.2f} s)", *found, sep="\n    ")
    print(table(results))
    for cell_id, why in KNOWN_LIMITS.items():
        print(f"known limit {cell_id}: {why}")
    return 0 if all(ok or cell_id in KNOWN_LIMITS for cell_id, ok in results.items()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
