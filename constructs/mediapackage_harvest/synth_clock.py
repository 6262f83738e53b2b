"""Clock warnings at synth: a window judged against the synth-time clock, which is not the deploy-time clock.

Only warnings: a template is deployed later than it is synthesized (a window ahead now may be fine then), so
they say what a deploy right now would meet and from when a deploy can succeed. Times in the messages are the
props' own, never the synth time, so the cloud assembly stays the same from one synth to the next.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aws_cdk import Annotations, Duration
from constructs import Construct

from mediapackage_harvest.contract import spec


def synth_time() -> datetime:
    """Now, as the synth-time checks see it."""
    return datetime.now(UTC)


def warn_v2(
    scope: Construct, *, start_time: datetime, end_time: datetime, timeout: Duration, wait_for_completion: bool
) -> None:
    """A v2 start in the future (only that: a start ahead is not a real-time harvest, and may be a mistyped date);
    else a real-time harvest whose end lies beyond the deadline of a deploy now, with a timeout that would do."""
    now = synth_time()
    if start_time > now:
        Annotations.of(scope).add_warning_v2(
            "mediapackage-harvest:startInFuture",
            f"start_time {start_time.isoformat()} is in the future: MediaPackage harvests only a window that has "
            f"started (a real-time harvest starts in the past and ends ahead), so a deploy fails until "
            f"{start_time.isoformat()}. Check the date; if it is right, deploy after it.",
        )
        return
    # A window already ended (the usual clip) needs no timeout: reading it is a jsii round trip.
    if wait_for_completion and end_time > now and (end_time - now).total_seconds() > timeout.to_seconds():
        Annotations.of(scope).add_warning_v2(
            "mediapackage-harvest:endBeyondTimeout",
            f"end_time {end_time.isoformat()} is more than timeout ({timeout.to_human_string()}) ahead: a real-time "
            f"harvest runs until its end_time, so a deploy now would reach timeout and cancel the job; "
            f"{_timeout_advice(end_time - start_time)}.",
        )


def _timeout_advice(window: timedelta) -> str:
    """A timeout that covers the window from any deploy after its start (so the advice is the same on every synth),
    or what else to do when no timeout can."""
    needed = spec.timeout_to_cover(window.total_seconds())
    if needed <= spec.TIMEOUT_MAX_SECONDS:
        return f"set timeout={spec.duration_expression(needed)} (up to 12 hours), or wait_for_completion=False"
    latest = spec.span(spec.TIMEOUT_MAX_SECONDS - spec.PACKAGING_ALLOWANCE_SECONDS)
    return (
        f"set timeout=Duration.hours(12) and deploy less than {latest} before end_time, or set "
        "wait_for_completion=False"
    )


def warn_v1(scope: Construct, *, end_time: datetime) -> None:
    """A v1 window that has not ended: MediaPackage v1 harvests only the past."""
    if end_time > synth_time():
        Annotations.of(scope).add_warning_v2(
            "mediapackage-harvest:v1WindowNotEnded",
            f"end_time {end_time.isoformat()} has not passed yet: MediaPackage v1 harvests only a window that has "
            f"ended, so a deploy can succeed only after {end_time.isoformat()}.",
        )
