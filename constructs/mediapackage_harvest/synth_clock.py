"""Clock warnings at synth: a window judged against the synth-time clock, which is not the deploy-time clock.

Only warnings: a template is deployed later than it is synthesized (a window ahead now may be fine then), so
they say what a deploy right now would meet and from when a deploy can succeed. Times in the messages are the
props' own, never the synth time, so the cloud assembly stays the same from one synth to the next.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aws_cdk import Annotations, Duration
from constructs import Construct


def synth_time() -> datetime:
    """Now, as the synth-time checks see it."""
    return datetime.now(UTC)


def warn_v2(
    scope: Construct, *, start_time: datetime, end_time: datetime, timeout: Duration, wait_for_completion: bool
) -> None:
    """A v2 start in the future; a real-time harvest whose end lies beyond the deadline of a deploy now."""
    now = synth_time()
    if start_time > now:
        Annotations.of(scope).add_warning_v2(
            "mediapackage-harvest:startInFuture",
            f"start_time {start_time.isoformat()} is in the future: MediaPackage refuses a harvest job whose start "
            f"is not yet in the past, so a deploy can succeed only after {start_time.isoformat()}.",
        )
    # A window already ended (the usual clip) needs no timeout: reading it is a jsii round trip.
    if wait_for_completion and end_time > now and (end_time - now).total_seconds() > timeout.to_seconds():
        Annotations.of(scope).add_warning_v2(
            "mediapackage-harvest:endBeyondTimeout",
            f"end_time {end_time.isoformat()} is more than timeout ({timeout.to_human_string()}) ahead: a real-time "
            "harvest runs until its end, so a deploy now would reach the deadline and cancel the job; deploy no "
            "more than timeout before end_time, or set wait_for_completion=False.",
        )


def warn_v1(scope: Construct, *, end_time: datetime) -> None:
    """A v1 window that has not ended: MediaPackage v1 harvests only the past."""
    if end_time > synth_time():
        Annotations.of(scope).add_warning_v2(
            "mediapackage-harvest:v1WindowNotEnded",
            f"end_time {end_time.isoformat()} has not passed yet: MediaPackage v1 harvests only a window that has "
            f"ended, so a deploy can succeed only after {end_time.isoformat()}.",
        )
