"""``mediapackage-harvest-rehearse``: deploy a synthesized stack on the local emulator, then destroy it.

Prints the timeline and the stack outputs; writes the timeline as JSON. Needs no AWS account or credentials.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from mediapackage_harvest.rehearsal.harness import Rehearsal, default_start
from mediapackage_harvest.rehearsal.scenario import Scenario
from mediapackage_harvest.rehearsal.template import Environment, Template


def find_templates(source: Path) -> list[Path]:
    """Templates holding harvest jobs: ``source`` itself, or every one in a cloud assembly folder."""
    candidates = [source] if source.is_file() else sorted(source.glob("*.template.json"))
    return [p for p in candidates if Template.load(p).harvest_job_ids()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mediapackage-harvest-rehearse", description=__doc__)
    parser.add_argument(
        "source",
        type=Path,
        nargs="?",
        default=Path("cdk.out"),
        help="a cloud assembly folder (cdk.out) or one *.template.json (default: cdk.out)",
    )
    parser.add_argument("--scenario", type=Path, help="a scenario JSON file (job durations, outcomes, faults)")
    parser.add_argument("--keep", action="store_true", help="stop after the deploy; do not rehearse the destroy")
    parser.add_argument("--handler-logs", action="store_true", help="print the handler's INFO logs too")
    parser.add_argument("--out", type=Path, default=Path("rehearsal-out"), help="where to write timeline JSON")
    args = parser.parse_args(argv)

    templates = find_templates(args.source)
    if not templates:
        print(f"no template with a harvest job under {args.source}; run `npx cdk synth` first", file=sys.stderr)
        return 2
    if not args.handler_logs:  # read when the handler is first imported: keep the timeline readable
        os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    scenario = Scenario.load(args.scenario) if args.scenario else Scenario()
    args.out.mkdir(parents=True, exist_ok=True)
    ok = True
    for path in templates:
        stack_name = path.name.removesuffix(".template.json")
        template = Template.load(path, Environment(stack_name=stack_name))
        with Rehearsal(scenario, start=default_start(template)) as rehearsal:
            deployed = rehearsal.deploy(template)
            results = [deployed]
            if not args.keep and deployed.status == "CREATE_COMPLETE":
                results.append(rehearsal.destroy())
            print(f"\n== {stack_name}: rehearsal timeline (virtual seconds) ==")
            print(rehearsal.timeline.table())
            print(f"\n== {stack_name}: " + ", ".join(r.status for r in results) + " ==")
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
            ok = ok and [r.status for r in results] == expected and figures.rules_left == 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
