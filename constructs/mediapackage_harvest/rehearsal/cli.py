"""``mediapackage-harvest-rehearse``: deploy synthesized stacks on the local emulator, then destroy them.

Bad input (no cloud assembly, an unknown stack, a bad scenario file, a deploy time without a timezone) and a
missing ``[rehearsal]`` extra end with one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import fnmatch
import importlib.metadata
import json
import os
import sys
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mediapackage_harvest.rehearsal.cloudformation import StackResult
    from mediapackage_harvest.rehearsal.harness import Rehearsal
    from mediapackage_harvest.rehearsal.template import Template

PROG = "mediapackage-harvest-rehearse"
DISTRIBUTION = "cdk-mediapackage-harvest"
# Modules only the [rehearsal] extra brings; a missing one means the extra is not installed.
_EXTRA_MODULES = {"boto3", "botocore", "moto", "trustme", "werkzeug", "flask", "cryptography"}

DESCRIPTION = """\
Deploy each synthesized stack that holds harvest jobs on a local MediaPackage emulator (with moto for
EventBridge and a local HTTPS endpoint for CloudFormation's responses), on a virtual clock, then destroy it.
Deploys at the current time (as `cdk deploy` would) unless --deploy-time says otherwise; so does the Python API
(Rehearsal(start=...)). Prints each stack's timeline (virtual seconds and the time of day, UTC), a summary naming
every failed resource and its reason, what was assumed about resources outside the stack and the synth warnings,
and the stack outputs; writes the timeline (assumptions included) as JSON; says when the cloud assembly is older
than the app's sources. Needs no AWS account or credentials.

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
    parser.add_argument(
        "--handler-logs",
        action="store_true",
        help="print the handler's log lines (JSON, every level); its warnings and errors are timeline rows anyway",
    )
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
        print(f"{PROG}: needs the [rehearsal] extra (no module {error.name!r}): {install_hint()}", file=sys.stderr)
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
        start = deploy_time or datetime.now(UTC).replace(microsecond=0)
        try:
            with Rehearsal(scenario, start=start, handler_logs=args.handler_logs) as rehearsal:
                warnings = _warnings(args.source, stack_name)
                chosen = "--deploy-time" if deploy_time else "now"
                ok = _rehearse_stack(rehearsal, template, stack_name, args, warnings, chosen) and ok
        except UnresolvableError as error:
            raise UsageError(f"{path}: the rehearsal cannot resolve {error}") from error
    note = stale_assembly_note(args.source, datetime.now(UTC))
    if note:
        print(note)
    return 0 if ok else 1


def _rehearse_stack(
    rehearsal: Rehearsal,
    template: Template,
    stack_name: str,
    args: argparse.Namespace,
    warnings: list[str],
    chosen: str,
) -> bool:
    for warning in warnings:
        path, _, text = warning.partition(": ")
        rehearsal.timeline.add(rehearsal.clock.time(), "synth", path, "warning", text)
    deployed = rehearsal.deploy(template)
    results = [deployed]
    if not args.keep and deployed.status == "CREATE_COMPLETE":
        results.append(rehearsal.destroy())
    deployed_at = f"{rehearsal.timeline.started:%Y-%m-%d %H:%M:%S} UTC ({chosen})"
    print(f"\n== {stack_name}: rehearsal timeline, deploy at {deployed_at}; t in virtual seconds since ==")
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


def install_hint(extra: str = "rehearsal") -> str:
    """How to add ``extra`` to this installation: from the wheel file or the folder it was installed from (pip
    records it; the package is not on an index), else by name."""
    try:
        recorded = importlib.metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
        origin: dict[str, Any] = json.loads(recorded or "{}")
    except (importlib.metadata.PackageNotFoundError, ValueError):
        origin = {}
    url = urllib.parse.urlparse(str(origin.get("url", "")))
    if url.scheme != "file":
        return f'pip install "{DISTRIBUTION}[{extra}]"'
    editable = "-e " if origin.get("dir_info", {}).get("editable") else ""
    return f'pip install {editable}"{urllib.parse.unquote(url.path)}[{extra}]"'


# What the app's sources are, when cdk.json does not say (its "watch" settings do): Python and the CDK's JSON.
_SOURCE_SUFFIXES = (".py",)
_SOURCE_NAMES = ("cdk.json", "cdk.context.json")
_NEVER_SOURCES = ("node_modules", "__pycache__", "cdk.out", "rehearsal-out")
_MOST_FILES = 20000  # a project bigger than this is not walked any further


def stale_assembly_note(source: Path, now: datetime) -> str | None:
    """A line saying how old the cloud assembly is when one of the app's sources changed after it was synthesized
    (then the rehearsal shows what an earlier synth would deploy); None when it is current, or unknown.

    The app is the folder holding ``cdk.json`` next to the assembly (or the working folder); its sources are its
    Python files and the CDK's JSON, less what ``cdk.json``'s ``watch.exclude`` excludes, virtual environments,
    hidden folders and the assembly itself.
    """
    manifest = source / "manifest.json"
    project = next((p for p in (source.resolve().parent, Path.cwd()) if (p / "cdk.json").is_file()), None)
    if not manifest.is_file() or project is None:
        return None
    synthesized = manifest.stat().st_mtime
    newest = _newest_source(project, source.resolve(), _watch_exclude(project / "cdk.json"))
    if newest is None or newest[0] <= synthesized:
        return None
    changed, path = newest
    return (
        f"NOTE {source} was synthesized {_age(now.timestamp() - synthesized)} ago ({_utc(synthesized)}), before "
        f"{path.relative_to(project)} changed ({_utc(changed)}): synthesize again (npx cdk synth) to rehearse what "
        "a deploy would deploy"
    )


def _watch_exclude(cdk_json: Path) -> list[str]:
    try:
        settings = json.loads(cdk_json.read_text())
    except (OSError, ValueError):
        return []
    watch = settings.get("watch") if isinstance(settings, dict) else None
    exclude = watch.get("exclude", []) if isinstance(watch, dict) else []
    return [str(pattern) for pattern in exclude] if isinstance(exclude, list) else []


def _excluded(relative: str, patterns: list[str]) -> bool:
    name = relative.rsplit("/", 1)[-1]
    return any(
        fnmatch.fnmatch(relative, p) or fnmatch.fnmatch(name, p.removeprefix("**/")) or relative.startswith(f"{p}/")
        for p in patterns
    )


def _newest_source(project: Path, assembly: Path, exclude: list[str]) -> tuple[float, Path] | None:
    newest: tuple[float, Path] | None = None
    seen = 0
    for folder, subfolders, files in os.walk(project):
        here = Path(folder)
        subfolders[:] = [
            name
            for name in subfolders
            if not name.startswith(".")
            and name not in _NEVER_SOURCES
            and here / name != assembly
            and not (here / name / "pyvenv.cfg").is_file()
            and not _excluded((here / name).relative_to(project).as_posix(), exclude)
        ]
        for name in files:
            seen += 1
            path = here / name
            if not (name.endswith(_SOURCE_SUFFIXES) or name in _SOURCE_NAMES):
                continue
            if _excluded(path.relative_to(project).as_posix(), exclude):
                continue
            changed = path.stat().st_mtime
            if newest is None or changed > newest[0]:
                newest = (changed, path)
        if seen > _MOST_FILES:
            break
    return newest


def _age(seconds: float) -> str:
    minutes = max(int(seconds // 60), 0)
    if minutes < 1:
        return "less than a minute"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours < 48 else f"{hours // 24} days"


def _utc(timestamp: float) -> str:
    return f"{datetime.fromtimestamp(timestamp, UTC):%Y-%m-%d %H:%M} UTC"


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
