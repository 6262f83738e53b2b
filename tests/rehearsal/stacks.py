"""Small stacks with ``HarvestJob`` for the rehearsal tests, synthesized in-process once per session.

jsii and asset bundling cost seconds per App, so every stack lives in one App that is synthesized once; each test
then gets a fresh :class:`Template` (the rehearsal's CloudFormation writes physical ids and attributes into it).
An update's second version is the same stack (same construct path and name) in a second App, as a redeploy is.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aws_cdk import App, CfnOutput, Duration, Stack
from constructs import Construct

from mediapackage_harvest import Clip, ClipSet, HarvestJob
from mediapackage_harvest.rehearsal import template as rehearsal_template

START = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
END = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)
# A real-time harvest: a three-hour window still running when the rehearsal deploys (see REAL_TIME_DEPLOY).
REAL_TIME_START = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
REAL_TIME_END = datetime(2026, 1, 15, 15, 0, tzinfo=UTC)
LONG_ID = "Clip" + "A" * 200  # a construct id whose CloudFormation logical id is over 200 characters
DOZEN = 12


JOB_PROPS: dict[str, Any] = {  # a valid harvest job on one origin endpoint
    "channel_group_name": "live",
    "channel_name": "main",
    "origin_endpoint_name": "hls",
    "hls_manifests": ["index"],
    "start_time": START,
    "end_time": END,
    "destination_bucket": "harvest-bucket",
    "destination_path": "clips/",
}


def job(scope: Construct, id: str, **overrides: Any) -> HarvestJob:
    """A valid harvest job on one origin endpoint; ``overrides`` change the props a stack is about."""
    return HarvestJob(scope, id, **{**JOB_PROPS, **overrides})


def _one(stack: Stack) -> None:
    job(stack, "Clip")


def _short_timeout(stack: Stack) -> None:
    job(stack, "Clip", timeout=Duration.minutes(5))


def _no_wait(stack: Stack) -> None:
    job(stack, "Clip", wait_for_completion=False)


def _tagged_v1(stack: Stack) -> None:
    job(stack, "Clip", tags={"team": "media", "tier": "gold"})


def _tagged_v2(stack: Stack) -> None:
    job(stack, "Clip", tags={"team": "video", "cost-centre": "42"})


def _replace_v1(stack: Stack) -> None:
    job(stack, "Clip", wait_for_completion=False)


def _replace_v2(stack: Stack) -> None:
    job(stack, "Clip", wait_for_completion=False, destination_path="clips/again/")


def _pair_v1(stack: Stack) -> None:
    job(stack, "First", harvest_job_name="first-1")
    job(stack, "Second", harvest_job_name="second-1")


def _pair_v2(stack: Stack) -> None:
    job(stack, "First", harvest_job_name="first-2", wait_for_completion=False)
    job(stack, "Second", harvest_job_name="second-2")


def _long_id(stack: Stack) -> None:
    job(stack, LONG_ID)


def _dozen(stack: Stack) -> None:
    for index in range(DOZEN):
        job(stack, f"Clip{index:02d}", destination_path=f"clips/{index:02d}/")


def _real_time(stack: Stack, timeout: Duration) -> None:
    clip = job(stack, "Clip", start_time=REAL_TIME_START, end_time=REAL_TIME_END, timeout=timeout)
    CfnOutput(stack, "Arn", value=clip.harvest_job_arn)
    CfnOutput(stack, "ETag", value=clip.etag)


def _long_v1(stack: Stack) -> None:
    clip = job(stack, "Clip", timeout=Duration.hours(2), tags={"team": "media"})
    CfnOutput(stack, "Arn", value=clip.harvest_job_arn)
    CfnOutput(stack, "ETag", value=clip.etag)


def _long_replaced(stack: Stack) -> None:
    clip = job(stack, "Clip", timeout=Duration.hours(2), tags={"team": "media"}, destination_path="clips/again/")
    CfnOutput(stack, "Arn", value=clip.harvest_job_arn)
    CfnOutput(stack, "ETag", value=clip.etag)


def _long_retagged(stack: Stack) -> None:
    clip = job(stack, "Clip", timeout=Duration.hours(2), tags={"team": "video"})
    CfnOutput(stack, "Arn", value=clip.harvest_job_arn)
    CfnOutput(stack, "ETag", value=clip.etag)


def _long_three_hours(stack: Stack) -> None:
    clip = job(stack, "Clip", timeout=Duration.hours(3), tags={"team": "media"})
    CfnOutput(stack, "Arn", value=clip.harvest_job_arn)
    CfnOutput(stack, "ETag", value=clip.etag)


# A highlight reel: clips of 60 to 120 s (names -> minutes into the match, length in seconds), two lanes.
REEL = {"goal-1": (4, 120), "save-1": (9, 60), "goal-2": (20, 120), "corner": (31, 90), "red-card": (40, 60)}
REEL_UPDATED = {**{k: v for k, v in REEL.items() if k != "save-1"}, "goal-3": (50, 90)}  # one removed, one added
REEL_QUOTA = 2


def _reel(stack: Stack, clips: dict[str, tuple[int, int]] = REEL) -> None:
    ClipSet(
        stack,
        "Reel",
        clips=[
            Clip(name, START + timedelta(minutes=minute), START + timedelta(minutes=minute, seconds=seconds))
            for name, (minute, seconds) in clips.items()
        ],
        channel_group_name="live",
        channel_name="main",
        origin_endpoint_name="hls",
        hls_manifests=["index"],
        destination_bucket="harvest-bucket",
        max_active_jobs=REEL_QUOTA,
    )


# A lane of three long clips (one after another): the last starts ~18 hours after the stack operation.
LONG_LANE = ("first", "second", "third")


def _long_lane(stack: Stack) -> None:
    ClipSet(
        stack,
        "Lane",
        clips=[
            Clip(name, START + timedelta(minutes=i), START + timedelta(minutes=i + 1))
            for i, name in enumerate(LONG_LANE)
        ],
        channel_group_name="live",
        channel_name="main",
        origin_endpoint_name="hls",
        hls_manifests=["index"],
        destination_bucket="harvest-bucket",
        max_active_jobs=1,
        timeout=Duration.hours(10),
    )


# Stack name -> what the stack holds at its first deploy.
STACKS: dict[str, Callable[[Stack], None]] = {
    "One": _one,
    "ShortTimeout": _short_timeout,
    "NoWait": _no_wait,
    "Tagged": _tagged_v1,
    "Replace": _replace_v1,
    "Pair": _pair_v1,
    "LongId": _long_id,
    "Dozen": _dozen,
    "RealTime": lambda stack: _real_time(stack, Duration.hours(4)),
    "RealTimeShort": lambda stack: _real_time(stack, Duration.hours(2)),
    "LongReplace": _long_v1,
    "LongRetag": _long_v1,
    "LongRetime": _long_v1,
    "Reel": _reel,
    "LongLane": _long_lane,
}
# Stack name -> what the next deploy of that stack holds (same construct path, so the same provider).
UPDATES: dict[str, Callable[[Stack], None]] = {
    "Tagged": _tagged_v2,
    "Replace": _replace_v2,
    "Pair": _pair_v2,
    "LongReplace": _long_replaced,
    "LongRetag": _long_retagged,
    "LongRetime": _long_three_hours,
    "Reel": lambda stack: _reel(stack, REEL_UPDATED),
}


@dataclass(frozen=True)
class Synthesized:
    """The synthesized bodies; :meth:`template` hands out an untouched copy each time."""

    first: dict[str, dict[str, Any]]
    updated: dict[str, dict[str, Any]]

    def template(self, stack_name: str, *, updated: bool = False) -> rehearsal_template.Template:
        body = copy.deepcopy((self.updated if updated else self.first)[stack_name])
        return rehearsal_template.Template(body, rehearsal_template.Environment(stack_name))


def synthesize(outdir: Path) -> Synthesized:
    """The first versions in one App, the updated versions in another (a stack's path must not change)."""
    return Synthesized(_synth(STACKS, outdir / "first"), _synth(UPDATES, outdir / "updated"))


def _synth(stacks: dict[str, Callable[[Stack], None]], outdir: Path) -> dict[str, dict[str, Any]]:
    app = App(outdir=str(outdir))
    for name, build in stacks.items():
        build(Stack(app, name))
    assembly = app.synth()
    return {name: assembly.get_stack_by_name(name).template for name in stacks}
