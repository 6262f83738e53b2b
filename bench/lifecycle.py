"""Lifecycle latency and cost on the rehearsal's virtual clock, four ways in one run.

(a) this project's handler as shipped, through ``Rehearsal``, MediaPackage's job events delivered
``EVENT_DELAY_SECONDS`` after each status change (an assumption: EventBridge documents no delivery latency);
(a') the same with every job event lost (polling alone); (b) the same handler logic under crhelper's default
configuration (bench/crhelper_defaults.py; no events); (c) a model of the CDK Provider framework's default waiter
(bench/provider_model.py; no events) against the same emulator. Each case deploys a one-job stack (synthesized
here with the default 1-hour timeout) on a fresh rehearsal whose scenario makes the job end after the given
lifetime (QUEUED for 5 s, IN_PROGRESS for the rest), then, for the Delete cases, destroys it.

Figures per case: job terminal -> CloudFormation response, the worst case (had the job ended just after the
previous status check; for an answer a job event triggered, the event's own delay, whenever the job ends; the
goals are judged on it), request -> response (s, virtual), GetHarvestJob calls, Lambda invocations, billed
Lambda seconds (virtual: waits on the clock, at least 1 ms per invocation), Step Functions state transitions. On
the virtual clock AWS calls take no time, the same for every approach.

    python -m bench.lifecycle            # every case
    python -m bench.lifecycle --quick    # the 10 s job and the Delete cases
    python -m bench.lifecycle --json     # one JSON object per Create case and approach, one a line
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar

from bench.records import InvocationRecord
from bench.tables import markdown_table
from mediapackage_harvest.rehearsal.cloudformation import LambdaFunction, Request, StackResult
from mediapackage_harvest.rehearsal.harness import Rehearsal, default_start
from mediapackage_harvest.rehearsal.lambda_runtime import load_handler_module
from mediapackage_harvest.rehearsal.scenario import EventDelivery, JobScript, Scenario
from mediapackage_harvest.rehearsal.template import Environment, Template

if TYPE_CHECKING:
    from bench.provider_model import ProviderFramework as ProviderFrameworkModel

QUEUED_SECONDS = 5.0
LIFETIMES = {"10 s": 10.0, "40 s": 40.0, "3 min": 180.0, "20 min": 1200.0, "59 min": 3540.0}
QUICK_LIFETIMES = {"10 s": 10.0}
IN_PROGRESS_JOB_LIFETIME = 1200.0  # the job a Delete cancels: 20 minutes, deleted 10 s after it was created
DELETE_AFTER_SECONDS = 10.0
WAIT_STACK, NO_WAIT_STACK = "BenchLifecycle", "BenchLifecycleNoWait"
SETTLE_SECONDS = 600.0

EVENT_DELAY_SECONDS = 1.0  # job status change -> event delivered to the handler (assumed)
EVENT_TRIGGER = "job event"  # how the records name an invocation a job event triggered

# This project's goals (issue 10): with events, at most 5 s at every job length and at most 10 GetHarvestJob
# calls for a 20-minute job; every event lost, at most 300 s.
RESPONSE_SECONDS, EVENTS_LOST_RESPONSE_SECONDS = 5.0, 300.0
DELETE_HANDLER_SECONDS = 1.0
GETS_FOR_20_MINUTES = 10
TWENTY_MINUTES = 1200.0


# Measurements ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Trace:
    """What the picture draws, in seconds since the request was sent."""

    statuses: list[tuple[float, str]]
    gets: list[float]
    invocations: list[tuple[float, float, str]]
    response: float | None


@dataclass(frozen=True)
class CaseResult:
    """One request of one case under one approach."""

    case: str
    request_type: str
    outcome: str
    request_to_response: float | None
    job_end_to_response: float | None
    worst_case: float | None  # had the job ended just after the last check before it did
    get_calls: int
    invocations: int
    billed_ms: int
    transitions: int | None
    wall_seconds: float
    lifetime: float | None
    trace: Trace
    approach: str = "this"

    def goal(self) -> tuple[str, bool] | None:
        """This project's goal for the case, and whether it is met; None when the case has none."""
        if self.request_type == "Create" and self.lifetime is not None:
            lost = self.approach == EventsLost.name
            limit = EVENTS_LOST_RESPONSE_SECONDS if lost else RESPONSE_SECONDS
            fast_enough = self.outcome == "SUCCESS" and self.worst_case is not None and self.worst_case <= limit
            if self.lifetime == TWENTY_MINUTES:
                few_calls = self.get_calls <= GETS_FOR_20_MINUTES
                return f"≤ {limit:.0f} s, ≤ {GETS_FOR_20_MINUTES} Gets", fast_enough and few_calls
            return f"≤ {limit:.0f} s", fast_enough
        if self.case == "Delete, job COMPLETED":
            return f"handler ≤ {DELETE_HANDLER_SECONDS:.0f} s", self.outcome == "SUCCESS" and (
                self.billed_ms / 1000 <= DELETE_HANDLER_SECONDS
            )
        return None


# Rehearsal with per-approach wiring ------------------------------------------------------------------------------
class BenchRehearsal(Rehearsal):
    """A Rehearsal that records every Lambda invocation and lets an approach rewire the handler."""

    def __init__(self, approach: Approach, scenario: Scenario, *, start: datetime) -> None:
        super().__init__(scenario, start=start)
        self.approach = approach
        self.records: list[InvocationRecord] = []
        self.extras = ExitStack()
        self.provider: ProviderFrameworkModel | None = None  # approach (c) only

    def __enter__(self) -> BenchRehearsal:
        super().__enter__()
        try:
            self.extras.enter_context(_quiet_handler_logs())
            self.approach.setup(self)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        try:
            self.extras.close()
        finally:
            super().__exit__(kind, error, trace)

    def _function(self, template: Template, function_id: str) -> LambdaFunction:
        function = super()._function(template, function_id)
        self.approach.adapt(self, function)
        function.handler = self._recorded(function.handler, self.approach.entry_function)
        return function

    def _recorded(
        self, handler: Callable[[dict[str, Any], Any], Any], name: str
    ) -> Callable[[dict[str, Any], Any], Any]:
        def run(event: dict[str, Any], context: Any) -> Any:
            start, wall = self.clock.time(), time.perf_counter()
            called = f"{name} ({EVENT_TRIGGER})" if "detail-type" in event else name
            try:
                return handler(event, context)
            finally:
                self.records.append(InvocationRecord(called, start, self.clock.time(), time.perf_counter() - wall))

        return run


@contextmanager
def _quiet_handler_logs() -> Iterator[None]:
    """The handler's JSON log lines would bury the tables: its logger stays at ERROR while the bench runs."""
    logger = importlib.import_module("harvest_handler.logs").logger
    level = logger.log_level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


# Approaches ------------------------------------------------------------------------------------------------------
class Approach:
    """How one approach wires the rehearsal; the base class is the handler as shipped."""

    key: ClassVar[str] = "a"
    name: ClassVar[str] = "this"  # the ``approach`` of the JSON rows
    title: ClassVar[str] = "(a) this project's handler as shipped, job events delivered 1 s after each change"
    entry_function: ClassVar[str] = "handler"
    events: ClassVar[EventDelivery] = EventDelivery(delay_seconds=EVENT_DELAY_SECONDS)

    def setup(self, rehearsal: BenchRehearsal) -> None:
        """Runs once the rehearsal (and the handler module) is up."""

    def adapt(self, rehearsal: BenchRehearsal, function: LambdaFunction) -> None:
        """Runs for each function the template's custom resources call."""

    def transitions(self, rehearsal: BenchRehearsal) -> int | None:
        return None


class EventsLost(Approach):
    key = "a'"
    name = "this-events-lost"
    title = "(a') this project's handler as shipped, every job event lost (polling alone)"
    events = EventDelivery(loss=1.0)


class CrhelperDefaults(Approach):
    key = "b"
    name = "crhelper"
    title = "(b) the same handler logic under crhelper's defaults (no job events)"
    events = EventDelivery(loss=1.0)

    def setup(self, rehearsal: BenchRehearsal) -> None:
        from bench import crhelper_defaults  # the asset's modules are importable only now

        rehearsal.extras.enter_context(crhelper_defaults.configured())


class ProviderFramework(Approach):
    key = "c"
    name = "provider"
    title = "(c) model of the CDK Provider framework's waiter (isComplete every 5 s; no job events)"
    events = EventDelivery(loss=1.0)
    entry_function = "framework-onEvent"

    def setup(self, rehearsal: BenchRehearsal) -> None:
        from bench.provider_model import MAX_TOTAL_TIMEOUT
        from bench.provider_model import ProviderFramework as Model

        # total_timeout raised from the 30-minute default to the 1-hour maximum, or the 59-minute job fails.
        rehearsal.provider = Model(rehearsal.clock, rehearsal.records.append, total_timeout=MAX_TOTAL_TIMEOUT)

    def adapt(self, rehearsal: BenchRehearsal, function: LambdaFunction) -> None:
        assert rehearsal.provider is not None
        function.handler = rehearsal.provider.on_event

    def transitions(self, rehearsal: BenchRehearsal) -> int | None:
        return rehearsal.provider.transitions if rehearsal.provider else None


APPROACHES: tuple[Approach, ...] = (Approach(), EventsLost(), CrhelperDefaults(), ProviderFramework())


# Cases -----------------------------------------------------------------------------------------------------------
@dataclass
class Templates:
    """The synthesized one-job stacks: waiting for completion (default) and not waiting."""

    folder: Path

    @classmethod
    def synthesize(cls, folder: Path) -> Templates:
        from bench.stacks import synth_stack

        synth_stack(folder / "wait", WAIT_STACK, 1)
        synth_stack(folder / "no-wait", NO_WAIT_STACK, 1, wait_for_completion=False)
        return cls(folder)

    def fresh(self, name: str) -> Template:
        """A new Template each time: a rehearsal writes physical ids and attributes into it."""
        sub = "wait" if name == WAIT_STACK else "no-wait"
        return Template.load(self.folder / sub / f"{name}.template.json", Environment(stack_name=name))


def scenario_for(lifetime: float, events: EventDelivery | None = None) -> Scenario:
    script = JobScript(queued_seconds=QUEUED_SECONDS, in_progress_seconds=lifetime - QUEUED_SECONDS)
    return Scenario(default_job=script, events=events or EventDelivery())


def run_create(
    approach: Approach, templates: Templates, label: str, lifetime: float, *, delete: bool
) -> list[CaseResult]:
    """Deploy a job that ends after ``lifetime``; with ``delete``, then destroy the stack (a COMPLETED job)."""
    template = templates.fresh(WAIT_STACK)
    with BenchRehearsal(approach, scenario_for(lifetime, approach.events), start=default_start(template)) as rehearsal:
        mark = _mark(rehearsal)
        deployed = rehearsal.deploy(template)
        rehearsal.settle(SETTLE_SECONDS)  # what the Create still costs after its answer (a poll still watching)
        results = [_measure(rehearsal, approach, deployed, mark, f"Create, job ends after {label}", lifetime)]
        if delete:
            mark = _mark(rehearsal)
            destroyed = rehearsal.destroy()
            results.append(_measure(rehearsal, approach, destroyed, mark, "Delete, job COMPLETED", None))
    return results


def run_delete_in_progress(approach: Approach, templates: Templates) -> CaseResult:
    """Deploy without waiting, let the job run 10 s, destroy: the Delete cancels an IN_PROGRESS job."""
    template = templates.fresh(NO_WAIT_STACK)
    scenario = scenario_for(IN_PROGRESS_JOB_LIFETIME, approach.events)
    with BenchRehearsal(approach, scenario, start=default_start(template)) as rehearsal:
        rehearsal.deploy(template)
        rehearsal.clock.call_later(DELETE_AFTER_SECONDS, lambda: None)
        rehearsal.clock.run()
        mark = _mark(rehearsal)
        destroyed = rehearsal.destroy()
        return _measure(rehearsal, approach, destroyed, mark, "Delete, job IN_PROGRESS", None)


def _mark(rehearsal: BenchRehearsal) -> tuple[int, int, int]:
    """Where the next request's calls, invocations and transitions start."""
    return len(rehearsal.emulator.calls), len(rehearsal.records), rehearsal.approach.transitions(rehearsal) or 0


def _measure(
    rehearsal: BenchRehearsal,
    approach: Approach,
    result: StackResult,
    mark: tuple[int, int, int],
    case: str,
    lifetime: float | None,
) -> CaseResult:
    request: Request = result.requests[0]
    calls = rehearsal.emulator.calls[mark[0] :]
    records = rehearsal.records[mark[1] :]
    transitions = approach.transitions(rehearsal)
    origin = request.sent_at
    statuses = [
        (entry.at + rehearsal.timeline.origin - origin, entry.detail.split(" ")[0])
        for entry in rehearsal.timeline.where("mediapackage", "status")
    ]
    answered = None if request.answered_at is None else request.answered_at - origin
    job_end = next((at for at, status in statuses if status in ("COMPLETED", "FAILED", "CANCELLED")), None)
    checks = [call.at - origin for call in calls if call.operation in ("CreateHarvestJob", "GetHarvestJob")]
    before = [at for at in checks if job_end is not None and at < job_end]
    answering = [
        r
        for r in records
        if answered is not None and r.start - origin <= answered + 1e-6 and answered <= r.end - origin
    ]
    latest = max(answering, key=lambda r: r.start, default=None)  # the invocation that answered
    by_event = latest is not None and latest.function.endswith(f"({EVENT_TRIGGER})")
    worst = None if answered is None or lifetime is None else answered - max(before, default=answered)
    if by_event and answered is not None and job_end is not None:
        worst = answered - job_end  # the event comes when the job ends, whenever that is
    return CaseResult(
        case=case,
        request_type=request.request_type,
        outcome=str(request.response.get("Status")) if request.response else "TIMED OUT",
        request_to_response=answered,
        job_end_to_response=None if answered is None or job_end is None or lifetime is None else answered - job_end,
        worst_case=worst,
        get_calls=sum(call.operation == "GetHarvestJob" for call in calls),
        invocations=len(records),
        billed_ms=sum(record.billed_ms for record in records),
        transitions=None if transitions is None else transitions - mark[2],
        wall_seconds=sum(record.wall_seconds for record in records),
        lifetime=lifetime,
        approach=approach.name,
        trace=Trace(
            statuses=statuses,
            gets=[call.at - origin for call in calls if call.operation == "GetHarvestJob"],
            invocations=[(r.start - origin, r.end - origin, r.function) for r in records],
            response=answered,
        ),
    )


def run_approach(approach: Approach, templates: Templates, lifetimes: dict[str, float]) -> list[CaseResult]:
    """Every case of one approach, in table order."""
    results: list[CaseResult] = []
    for index, (label, lifetime) in enumerate(lifetimes.items()):
        results += run_create(approach, templates, label, lifetime, delete=index == 0)
    creates = [r for r in results if r.request_type == "Create"]
    deletes = [r for r in results if r.request_type == "Delete"]
    return [*creates, *deletes, run_delete_in_progress(approach, templates)]


def run_all(lifetimes: dict[str, float], workdir: Path) -> dict[str, list[CaseResult]]:
    """Synthesize the stacks once, then every approach's cases, in one process."""
    load_handler_module()
    templates = Templates.synthesize(workdir)
    return {approach.key: run_approach(approach, templates, lifetimes) for approach in APPROACHES}


# Report ----------------------------------------------------------------------------------------------------------
HEADERS = (
    "case",
    "CFN result",
    "job end → response (s)",
    "worst case (s)",
    "request → response (s)",
    "GetHarvestJob calls",
    "Lambda invocations",
    "billed Lambda s",
    "SFN transitions",
    "goal",
)


def table(results: Sequence[CaseResult]) -> str:
    rows = []
    for r in results:
        goal = r.goal()
        rows.append(
            (
                r.case,
                r.outcome,
                _seconds(r.job_end_to_response),
                _seconds(r.worst_case),
                _seconds(r.request_to_response),
                r.get_calls,
                r.invocations,
                f"{r.billed_ms / 1000:.3f}",
                r.transitions,
                None if goal is None else f"{goal[0]}: {'met' if goal[1] else 'MISSED'}",
            )
        )
    return markdown_table(HEADERS, rows, numeric_from=2)


def goals_summary(results: Sequence[CaseResult]) -> str:
    goals = [g for g in (r.goal() for r in results) if g is not None]
    return f"goals met: {sum(ok for _, ok in goals)} of {len(goals)}"


def report(all_results: dict[str, list[CaseResult]]) -> str:
    parts = []
    for approach in APPROACHES:
        results = all_results[approach.key]
        parts.append(f"### {approach.title}\n\n{table(results)}\n\n{goals_summary(results)}")
    wall = {
        a.key: {r.case: r.wall_seconds * 1000 for r in all_results[a.key] if r.request_type == "Delete"}
        for a in APPROACHES
    }
    lines = [
        f"({key}) " + ", ".join(f"{case}: {ms:.0f} ms" for case, ms in cases.items()) for key, cases in wall.items()
    ]
    parts.append("Delete handler wall time on this machine (local endpoints, varies run to run): " + "; ".join(lines))
    return "\n\n".join(parts)


def _seconds(value: float | None) -> str | None:
    return None if value is None else f"{value:.1f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.lifecycle", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="only the 10 s job and the Deletes")
    parser.add_argument("--json", action="store_true", help="one JSON object per Create case and approach")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-lifecycle-") as workdir:
        results = run_all(QUICK_LIFETIMES if args.quick else LIFETIMES, Path(workdir))
    if args.json:
        for row in json_rows(results):
            print(json.dumps(row))
        return 0
    print("## Lifecycle latency and cost (virtual clock)\n")
    print(report(results))
    print("\n### Worst response and GetHarvestJob calls by job length\n")
    print(figures_table(results))
    return 0


def json_rows(all_results: dict[str, list[CaseResult]]) -> list[dict[str, object]]:
    """One row per Create case and approach: the figures the goals are judged on."""
    rows: list[dict[str, object]] = []
    for approach in APPROACHES:
        for r in all_results[approach.key]:
            if r.request_type != "Create" or r.lifetime is None:
                continue
            goal = r.goal()
            rows.append(
                {
                    "approach": approach.name,
                    "job_seconds": r.lifetime,
                    "worst_response_s": None if r.worst_case is None else round(r.worst_case, 1),
                    "response_s": None if r.job_end_to_response is None else round(r.job_end_to_response, 1),
                    "get_calls": r.get_calls,
                    "invocations": r.invocations,
                    "billed_lambda_s": round(r.billed_ms / 1000, 3),
                    "outcome": r.outcome,
                    "goal_met": None if goal is None else goal[1],
                }
            )
    return rows


def figures_table(all_results: dict[str, list[CaseResult]]) -> str:
    """Approach by job length: the worst response (s) and the GetHarvestJob calls."""
    rows = json_rows(all_results)
    lengths = sorted({float(str(row["job_seconds"])) for row in rows})
    labels = {seconds: label for label, seconds in LIFETIMES.items()}
    table_rows = []
    for approach in APPROACHES:
        cells: list[object] = [approach.name]
        for seconds in lengths:
            row = next(r for r in rows if r["approach"] == approach.name and r["job_seconds"] == seconds)
            cells.append(f"{row['worst_response_s']} s / {row['get_calls']}")
        table_rows.append(tuple(cells))
    headers = ("approach", *(f"job {labels.get(seconds, f'{seconds:g} s')}" for seconds in lengths))
    return markdown_table(headers, table_rows, numeric_from=1)


if __name__ == "__main__":
    raise SystemExit(main())
