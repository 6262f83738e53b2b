"""The picture: the four approaches' timelines for a job that ends after 3 minutes.

Rehearses the 3-minute Create under (a), (a'), (b) and (c) exactly as bench/lifecycle.py does and draws, per
approach, the job's status over time, each Lambda invocation, each GetHarvestJob and the CloudFormation response.
Prints the figures it drew as a table.

    python -m bench.plot_timelines                        # writes docs/performance-timelines.png
    python -m bench.plot_timelines --out /tmp/timelines.png
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.lifecycle import APPROACHES, CaseResult, Templates, run_create
from bench.tables import markdown_table
from mediapackage_harvest.rehearsal.lambda_runtime import load_handler_module

LIFETIME_LABEL, LIFETIME = "3 min", 180.0
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "docs" / "performance-timelines.png"
STATUS_COLOURS = {"QUEUED": "#d9d9d9", "IN_PROGRESS": "#9ecae1", "COMPLETED": "#a1d99b"}
FAILED_COLOUR = "#fc9272"
INVOCATION_MIN_WIDTH = 0.8  # seconds drawn for an invocation that took ~0 s of virtual time
NOTES = {
    "a": "inline checks 2 s apart for 8 s; the job's end event answers at once (a poll every 300 s is the fallback)",
    "a'": "inline checks 2 s apart for 8 s, then an EventBridge poll every 300 s (every job event lost)",
    "b": "no inline checks; an EventBridge poll every 120 s",
    "c": "Step Functions runs isComplete at once, then every 5 s (framework + user function per check)",
}


def rehearse(workdir: Path) -> list[tuple[str, CaseResult]]:
    """The 3-minute Create under every approach, by approach key."""
    load_handler_module()
    templates = Templates.synthesize(workdir)
    return [(a.key, run_create(a, templates, LIFETIME_LABEL, LIFETIME, delete=False)[0]) for a in APPROACHES]


def draw(results: Sequence[tuple[str, CaseResult]], out: Path) -> None:
    """One row per approach: status band, Lambda invocations, GetHarvestJob ticks, job end and response."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    x_end = max(r.trace.response or 0.0 for _, r in results) + 25.0
    figure, axes = plt.subplots(len(results), 1, figsize=(12, 2.3 * len(results) + 1.2), sharex=True)
    titles = {a.key: a.title for a in APPROACHES}
    for ax, (key, result) in zip(axes, results, strict=True):
        trace = result.trace
        ax.text(0, 2.62, NOTES[key], fontsize=8, style="italic", va="center")
        changes = [*trace.statuses, (x_end, "")]
        for (start, status), (end, _) in itertools.pairwise(changes):
            colour = STATUS_COLOURS.get(status, FAILED_COLOUR)
            ax.broken_barh([(start, end - start)], (1.65, 0.7), facecolors=colour, edgecolors="none")
            if end - start > 12:
                ax.text(start + 1.5, 2.0, status, va="center", fontsize=8)
        spans = [(start, max(end - start, INVOCATION_MIN_WIDTH)) for start, end, _ in trace.invocations]
        ax.broken_barh(spans, (0.75, 0.5), facecolors="#fdae6b", edgecolors="#e6550d", linewidth=0.5)
        ax.vlines(trace.gets, -0.3, 0.3, colors="#3182bd", linewidth=1.2)
        ax.axvline(LIFETIME, color="#31a354", linestyle=":", linewidth=1.5)
        if trace.response is not None:
            ax.axvline(trace.response, color="#de2d26", linewidth=2)
            ax.annotate(
                f"response +{trace.response - LIFETIME:.0f} s",
                (trace.response, 2.45),
                xytext=(4, 0),
                textcoords="offset points",
                color="#de2d26",
                fontsize=9,
                va="bottom",
            )
        ax.set_ylim(-0.6, 2.9)
        ax.set_yticks([0, 1, 2], ["GetHarvestJob", "Lambda running", "job status"], fontsize=8)
        billed = result.billed_ms / 1000
        ax.set_title(
            f"{titles[key]}: {result.get_calls} GetHarvestJob, {result.invocations} Lambda invocations, "
            f"{billed:.3g} billed s" + (f", {result.transitions} SFN transitions" if result.transitions else ""),
            fontsize=10,
            loc="left",
        )
        ax.grid(axis="x", linestyle=":", linewidth=0.5)
    axes[-1].set_xlim(-5, x_end)
    axes[-1].set_xlabel("seconds since CloudFormation sent the Create (virtual clock)")
    legend = [
        *(Patch(facecolor=c, label=s) for s, c in STATUS_COLOURS.items()),
        Patch(facecolor="#fdae6b", edgecolor="#e6550d", label="Lambda invocation"),
        Line2D([], [], color="#3182bd", label="GetHarvestJob"),
        Line2D([], [], color="#31a354", linestyle=":", label="job ends (180 s)"),
        Line2D([], [], color="#de2d26", label="CloudFormation response"),
    ]
    figure.legend(handles=legend, loc="lower center", ncol=7, fontsize=8, frameon=False)
    figure.suptitle("A harvest job that ends after 3 minutes: when CloudFormation hears of it", fontsize=12)
    figure.tight_layout(rect=(0, 0.05, 1, 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.plot_timelines", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"PNG to write (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-plot-") as workdir:
        results = rehearse(Path(workdir))
    draw(results, args.out)
    print("## Timelines of a 3-minute job\n")
    titles = {a.key: a.title for a in APPROACHES}
    rows = [
        (
            titles[key],
            None if r.job_end_to_response is None else f"{r.job_end_to_response:.0f}",
            r.get_calls,
            r.invocations,
        )
        for key, r in results
    ]
    print(markdown_table(("approach", "job end → response (s)", "GetHarvestJob", "Lambda invocations"), rows))
    print(f"\npicture: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
