"""``mediapackage-harvest-rehearse``: deploy synthesized stacks on the local emulator, then destroy them.

Bad input (no cloud assembly, an unknown stack, a bad scenario file, a deploy time without a timezone) and a
missing ``[rehearsal]`` extra end with one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mediapackage_harvest.rehearsal.cloudformation import StackResult
    from mediapackage_harvest.rehearsal.harness import Rehearsal
    from mediapackage_harvest.rehearsal.template import Template

PROG = "mediapackage-harvest-rehearse"
INSTALL_EXTRA = 'pip install "cdk-mediapackage-harvest[rehearsal]"'
# Modules only the [rehearsal] extra brings; a missing one means the extra is not installed.
_EXTRA_MODULES = {"boto3", "botocore", "moto", "trustme", "werkzeug", "flask", "cryptography"}

DESCRIPTION = """\
Deploy each synthesized stack that holds harvest jobs on a local MediaPackage emulator (with moto for
EventBridge and a local HTTPS endpoint for CloudFormation's responses), on a virtual clock, then destroy it.
Deploys at the current time (as `cdk deploy` would) unless --deploy-time says otherwise. Prints each stack's
timeline, a summary naming every failed resource and its reason, what was assumed about resources outside the
stack and the synth warnings, and the stack outputs; writes the timeline (assumptions included) as JSON. Needs
no AWS account or credentials.

exit status: 0 every stack deployed and was destroyed cleanly; 1 a rehearsal failed; 2 bad input."""


class UsageError(Exception):
    """Bad input: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    """The command line, with each option's default in its help."""
    parser = argparse.ArgumentParser(
        prog=PROG, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "source",
        type=Path,
        nargs="?",
        default=Path("cdk.out"),
        help="a cloud assembly folder or one *.template.json (default: cdk.out)",
    )
    parser.add_argument(
        "--stack",
        action="append",
        metavar="NAME",
        help="rehearse only this stack; repeat for several (default: every stack with a harvest job)",
    )
    parser.add_argument(
        "--deploy-time",
        metavar="ISO",
        help="virtual time of the deploy, ISO 8601 with a timezone, e.g. 2026-11-20T19:00:00Z "
        "(default: now, as a real deploy)",
    )
    parser.add_argument(
        "--scenario",
        type=Path,
        metavar="FILE",
        help="a scenario JSON file: job durations, outcomes, faults (default: every job completes after 35 s)",
    )
    parser.add_argument("--keep", action="store_true", help="stop after the deploy; do not rehearse the destroy")
    parser.add_argument("--handler-logs", action="store_true", help="print the handler's INFO logs too")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("rehearsal-out"),
        metavar="DIR",
        help="where to write <stack>.timeline.json (default: rehearsal-out)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return _rehearse(args)
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] not in _EXTRA_MODULES:
            raise
        print(f"{PROG}: needs the [rehearsal] extra (no module {error.name!r}): {INSTALL_EXTRA}", file=sys.stderr)
        return 2
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2


def _rehearse(args: argparse.Namespace) -> int:
    from mediapackage_harvest.rehearsal.harness import Rehearsal
    from mediapackage_harvest.rehearsal.scenario import Scenario, ScenarioError
    from mediapackage_harvest.rehearsal.template import Environment, Template, UnresolvableError

    deploy_time = _deploy_time(args.deploy_time)
    stacks = select_stacks(args.source, args.stack)
    try:
        scenario = Scenario.load(args.scenario) if args.scenario else Scenario()
    except ScenarioError as error:
        raise UsageError(f"scenario {error}") from error
    except OSError as error:
        raise UsageError(f"scenario {args.scenario}: {error.strerror}") from error
    args.out.mkdir(parents=True, exist_ok=True)
    ok = True
    for stack_name, path in stacks.items():
        template = Template.load(path, Environment(stack_name=stack_name))
        start = deploy_time or datetime.now(UTC)
        try:
            with Rehearsal(scenario, start=start, handler_logs=args.handler_logs) as rehearsal:
                ok = _rehearse_stack(rehearsal, template, stack_name, args, _warnings(args.source, stack_name)) and ok
        except UnresolvableError as error:
            raise UsageError(f"{path}: the rehearsal cannot resolve {error}") from error
    return 0 if ok else 1


def _rehearse_stack(
    rehearsal: Rehearsal, template: Template, stack_name: str, args: argparse.Namespace, warnings: list[str]
) -> bool:
    for warning in warnings:
        path, _, text = warning.partition(": ")
        rehearsal.timeline.add(rehearsal.clock.time(), "synth", path, "warning", text)
    deployed = rehearsal.deploy(template)
    results = [deployed]
    if not args.keep and deployed.status == "CREATE_COMPLETE":
        results.append(rehearsal.destroy())
    print(f"\n== {stack_name}: rehearsal timeline (virtual seconds) ==")
    print(rehearsal.timeline.table())
    print(f"\n== {stack_name}: " + ", ".join(r.status for r in results) + " ==")
    for line in summary(results):
        print(line)
    for assumption in rehearsal.assumptions:
        print(f"ASSUMED {assumption}")
    for warning in warnings:
        print(f"SYNTH WARNING {warning}")
    for name, value in deployed.outputs.items():
        print(f"Output {name} = {value}")
    figures = rehearsal.figures()
    print(
        f"Lambda invocations {figures.lambda_invocations}, billed {figures.billed_lambda_ms} ms, "
        f"MediaPackage calls {json.dumps(figures.mediapackage_calls)}, "
        f"EventBridge polls {figures.eventbridge_polls}, rules left {figures.rules_left}"
    )
    out = args.out / f"{stack_name}.timeline.json"
    rehearsal.timeline.write_json(out)
    print(f"Timeline JSON: {out}")
    expected = ["CREATE_COMPLETE"] + ([] if args.keep else ["DELETE_COMPLETE"])
    return [r.status for r in results] == expected and figures.rules_left == 0


def summary(results: list[StackResult]) -> list[str]:
    """One line per failed request, naming the resource, the request type and the full reason (never cut)."""
    return [
        f"FAILED {request.request_type} {request.logical_id}: {request.reason}"
        for result in results
        for request in result.failures
    ]


def select_stacks(source: Path, names: list[str] | None) -> dict[str, Path]:
    """The stacks to rehearse, by name: ``source`` itself, or the named (else every) stack with a harvest job in
    a cloud assembly folder. Raises :class:`UsageError` naming what is missing."""
    from mediapackage_harvest.rehearsal.template import Template

    if not source.exists():
        raise UsageError(f"{source} not found: synthesize first (cdk synth), or name a cdk.out folder or a template")
    found = {p.name.removesuffix(".template.json"): p for p in _templates(source)}
    if not found:
        raise UsageError(f"{source}: no *.template.json; synthesize first (cdk synth)")
    try:
        with_jobs = {name: path for name, path in found.items() if Template.load(path).harvest_job_ids()}
    except (OSError, ValueError) as error:
        raise UsageError(f"{source}: a template cannot be read: {error}") from error
    for name in names or []:
        if name not in found:
            raise UsageError(f"no stack {name!r} in {source}; stacks there: {', '.join(sorted(found))}")
        if name not in with_jobs:
            raise UsageError(f"stack {name!r} holds no HarvestJob or MediaPackageV1HarvestJob")
    if not with_jobs:
        raise UsageError(f"{source}: no stack holds a HarvestJob or MediaPackageV1HarvestJob")
    return {name: with_jobs[name] for name in names} if names else with_jobs


def _warnings(source: Path, stack_name: str) -> list[str]:
    """The stack's synth warnings from the cloud assembly's manifest.json (none for a lone template)."""
    from mediapackage_harvest.rehearsal.surroundings import synth_warnings

    return synth_warnings(source, stack_name) if source.is_dir() else []


def _templates(source: Path) -> list[Path]:
    return [source] if source.is_file() else sorted(source.glob("*.template.json"))


def _deploy_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise UsageError(f"--deploy-time {value!r}: not an ISO 8601 time, e.g. 2026-11-20T19:00:00Z") from error
    if moment.tzinfo is None:
        raise UsageError(f"--deploy-time {value!r}: give a timezone, e.g. 2026-11-20T19:00:00Z")
    return moment


if __name__ == "__main__":
    raise SystemExit(main())
