"""Lifecycle latency and cost on the rehearsal's virtual clock, three ways in one run.

(a) this project's handler as shipped, through ``Rehearsal``; (b) the same handler logic under crhelper's
default configuration (bench/crhelper_defaults.py); (c) a model of the CDK Provider framework's default waiter
(bench/provider_model.py) against the same emulator. Each case deploys a one-job stack (synthesized here with
the default 1-hour timeout) on a fresh rehearsal whose scenario makes the job end after the given lifetime
(QUEUED for 5 s, IN_PROGRESS for the rest), then, for the Delete cases, destroys it.

Figures per case: job terminal -> CloudFormation response, the worst case (had the job ended just after the
previous status check; the goals are judged on it), request -> response (s, virtual), GetHarvestJob calls,
Lambda invocations, billed Lambda seconds (virtual: waits on the clock, at least 1 ms per invocation), Step
Functions state transitions. On the virtual clock AWS calls take no time, the same for every approach.

    python -m bench.lifecycle            # every case
    python -m bench.lifecycle --quick    # the 10 s job and the Delete cases
"""

from __future__ import annotations

import argparse
import importlib
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
from mediapackage_harvest.rehearsal.scenario import JobScript, Scenario
from mediapackage_harvest.rehearsal.template import Environment, Template

if TYPE_CHECKING:
    from bench.provider_model import ProviderFramework as ProviderFrameworkModel

QUEUED_SECONDS = 5.0
LIFETIMES = {"10 s": 10.0, "40 s": 40.0, "3 min": 180.0, "20 min": 1200.0, "59 min": 3540.0}
QUICK_LIFETIMES = {"10 s": 10.0}
IN_PROGRESS_JOB_LIFETIME = 1200.0  # the job a Delete cancels: 20 minutes, deleted 10 s after it was created
DELETE_AFTER_SECONDS = 10.0
WAIT_STACK, NO_WAIT_STACK = "BenchLifecycle", "BenchLifecycleNoWait"

# This project's goals.
FAST_JOB_SECONDS, FAST_RESPONSE_SECONDS = 40.0, 5.0
SLOW_RESPONSE_SECONDS = 60.0
DELETE_HANDLER_SECONDS = 1.0
GETS_FOR_20_MINUTES = 40
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

    def goal(self) -> tuple[str, bool] | None:
        """This project's goal for the case, and whether it is met; None when the case has none."""
        if self.request_type == "Create" and self.lifetime is not None:
            limit = FAST_RESPONSE_SECONDS if self.lifetime <= FAST_JOB_SECONDS else SLOW_RESPONSE_SECONDS
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
            try:
                return handler(event, context)
            finally:
                self.records.append(InvocationRecord(name, start, self.clock.time(), time.perf_counter() - wall))

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
    title: ClassVar[str] = "(a) this project's handler as shipped"
    entry_function: ClassVar[str] = "handler"

    def setup(self, rehearsal: BenchRehearsal) -> None:
        """Runs once the rehearsal (and the handler module) is up."""

    def adapt(self, rehearsal: BenchRehearsal, function: LambdaFunction) -> None:
        """Runs for each function the template's custom resources call."""

    def transitions(self, rehearsal: BenchRehearsal) -> int | None:
        return None


class CrhelperDefaults(Approach):
    key = "b"
    title = "(b) the same handler logic under crhelper's defaults"

    def setup(self, rehearsal: BenchRehearsal) -> None:
        from bench import crhelper_defaults  # the asset's modules are importable only now

        rehearsal.extras.enter_context(crhelper_defaults.configured())

    def adapt(self, rehearsal: BenchRehearsal, function: LambdaFunction) -> None:
        from bench.crhelper_defaults import RateScheduler

        old = rehearsal.schedulers.pop()
        scheduler = RateScheduler(old.clock, old.events, old.prefix, old.function, old.timeline)
        function.after_invocation = scheduler.notice_new_rules
        rehearsal.schedulers.append(scheduler)


class ProviderFramework(Approach):
    key = "c"
    title = "(c) model of the CDK Provider framework's waiter (isComplete every 5 s)"
    entry_function = "framework-onEvent"

    def setup(self, rehearsal: BenchRehearsal) -> None:
        from bench.provider_model import MAX_TOTAL_TIMEOUT
        from bench.provider_model import ProviderFramework as Model

        # total_timeout raised from the 30-minute default to the 1-hour maximum, or the 59-minute job fails.
        rehearsal.provider = Model(rehearsal.clock, rehearsal.records.append, total_timeout=MAX_TOTAL_TIMEOUT)

    def adapt(self, rehearsal: BenchRehearsal, function: LambdaFunction) -> None:
        assert rehearsal.provider is not None
        function.handler = rehearsal.provider.on_event
        rehearsal.schedulers.pop()  # no EventBridge rules in this approach

    def transitions(self, rehearsal: BenchRehearsal) -> int | None:
        return rehearsal.provider.transitions if rehearsal.provider else None


APPROACHES: tuple[Approach, ...] = (Approach(), CrhelperDefaults(), ProviderFramework())


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


def scenario_for(lifetime: float) -> Scenario:
    return Scenario(default_job=JobScript(queued_seconds=QUEUED_SECONDS, in_progress_seconds=lifetime - QUEUED_SECONDS))


def run_create(
    approach: Approach, templates: Templates, label: str, lifetime: float, *, delete: bool
) -> list[CaseResult]:
    """Deploy a job that ends after ``lifetime``; with ``delete``, then destroy the stack (a COMPLETED job)."""
    template = templates.fresh(WAIT_STACK)
    with BenchRehearsal(approach, scenario_for(lifetime), start=default_start(template)) as rehearsal:
        mark = _mark(rehearsal)
        deployed = rehearsal.deploy(template)
        results = [_measure(rehearsal, approach, deployed, mark, f"Create, job ends after {label}", lifetime)]
        if delete:
            mark = _mark(rehearsal)
            destroyed = rehearsal.destroy()
            results.append(_measure(rehearsal, approach, destroyed, mark, "Delete, job COMPLETED", None))
    return results


def run_delete_in_progress(approach: Approach, templates: Templates) -> CaseResult:
    """Deploy without waiting, let the job run 10 s, destroy: the Delete cancels an IN_PROGRESS job."""
    template = templates.fresh(NO_WAIT_STACK)
    with BenchRehearsal(approach, scenario_for(IN_PROGRESS_JOB_LIFETIME), start=default_start(template)) as rehearsal:
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
    return CaseResult(
        case=case,
        request_type=request.request_type,
        outcome=str(request.response.get("Status")) if request.response else "TIMED OUT",
        request_to_response=answered,
        job_end_to_response=None if answered is None or job_end is None or lifetime is None else answered - job_end,
        worst_case=None if answered is None or not before or lifetime is None else answered - max(before),
        get_calls=sum(call.operation == "GetHarvestJob" for call in calls),
        invocations=len(records),
        billed_ms=sum(record.billed_ms for record in records),
        transitions=None if transitions is None else transitions - mark[2],
        wall_seconds=sum(record.wall_seconds for record in records),
        lifetime=lifetime,
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
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-lifecycle-") as workdir:
        results = run_all(QUICK_LIFETIMES if args.quick else LIFETIMES, Path(workdir))
    print("## Lifecycle latency and cost (virtual clock)\n")
    print(report(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
