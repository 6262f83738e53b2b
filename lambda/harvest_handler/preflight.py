"""Preflight: what MediaPackage would refuse, found before CreateHarvestJob, with the fix in the Reason.

A first deploy most often fails outside the job: the endpoint does not exist, has no startover window or not
the manifest, its policy does not let MediaPackage harvest, or the window is not (or no longer) harvestable. The
adapters read the endpoint (v2: GetOriginEndpoint and GetOriginEndpointPolicy; v1: DescribeOriginEndpoint) and
the checks below say what is wrong and what to change, before any job exists. A read that is denied, throttled
past botocore's retries or fails otherwise is logged and skipped: MediaPackage stays the judge. The clock checks
need no read and always run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from harvest_handler.logs import logger
from harvest_handler.model import cause_of, error_code
from mediapackage_harvest.contract import iam_policy, spec
from mediapackage_harvest.contract.services import ENDPOINT_HARVEST_ACTIONS, V2, harvester_context

HARVESTER = V2.principal
NOT_FOUND_CODES = frozenset({"ResourceNotFoundException", "NotFoundException"})
GRANT_FIX = "pass origin_endpoint= to HarvestJob, or add harvester_origin_endpoint_policy_statement() to it"
# Manifest kinds: the property's key, the HarvestJob prop that names them, how people call them.
MANIFEST_PROPS = (
    ("HlsManifests", "hls_manifests", "HLS"),
    ("DashManifests", "dash_manifests", "DASH"),
    ("LowLatencyHlsManifests", "low_latency_hls_manifests", "Low-Latency HLS"),
)


class _Unread:
    """A read that failed for a reason other than "not found": nothing to judge by."""


UNREAD = _Unread()
Read = Mapping[str, Any] | None | _Unread


def read(operation: str, call: Callable[[], Mapping[str, Any]]) -> Read:
    """The service's answer; None when it says the resource does not exist; UNREAD (logged) on any other
    failure, which must not block the create."""
    try:
        return call()
    except Exception as error:
        if error_code(error) in NOT_FOUND_CODES:
            return None
        logger.warning(
            "Preflight read failed; creating the harvest job anyway (MediaPackage will judge it)",
            extra={"read": operation, "problem": cause_of(error)},
        )
        return UNREAD


# Checks: each returns the problem and its fix, or None -----------------------------------------------------
def start_in_future(start: datetime, now: datetime) -> str | None:
    if start <= now:
        return None
    return (
        f"StartTime {_iso(start)} is in the future: MediaPackage harvests only a window that has started; "
        f"deploy after {_iso(start)}, or choose an earlier start_time"
    )


def window_not_ended(end: datetime, now: datetime) -> str | None:
    """MediaPackage v1 harvests only the past."""
    if end <= now:
        return None
    return (
        f"EndTime {_iso(end)} has not passed: MediaPackage v1 harvests only a window that has ended; "
        f"deploy after {_iso(end)}, or choose an earlier end_time"
    )


def not_found(endpoint: str, what: str) -> str:
    return f"origin endpoint {endpoint} not found: check {what} (and the stack's account and Region)"


def startover(
    endpoint: str, window_seconds: object, start: datetime, now: datetime, end: datetime | None = None
) -> str | None:
    """The endpoint must have a startover window, the asset must not be longer than it, and it must still reach
    back to the start."""
    seconds = window_seconds if isinstance(window_seconds, int) else 0
    if seconds <= 0:
        return (
            f"origin endpoint {endpoint} has no startover window: MediaPackage harvests only from it; give the "
            "endpoint StartoverWindowSeconds covering the window (at most 14 days)"
        )
    if end is not None and (end - start).total_seconds() > seconds:
        return (
            f"the window {_iso(start)} to {_iso(end)} is longer than the startover window of origin endpoint "
            f"{endpoint} ({seconds} s): a harvested asset cannot be; harvest a shorter window or widen it"
        )
    oldest = now - timedelta(seconds=seconds)
    if start >= oldest:
        return None
    return (
        f"StartTime {_iso(start)} is outside the startover window of origin endpoint {endpoint} ({seconds} s, "
        f"back to {_iso(oldest)}): harvest a later window, or widen the endpoint's startover window"
    )


def manifests(endpoint: str, found: Mapping[str, Any], wanted: Mapping[str, Any]) -> str | None:
    """Every manifest the job names must be one the endpoint has, of the same kind, not filtered on time."""
    has = {kind: [str(m.get("ManifestName")) for m in found.get(kind) or []] for kind, _, _ in MANIFEST_PROPS}
    for kind, prop, label in MANIFEST_PROPS:
        for index, entry in enumerate(wanted.get(kind) or []):
            name = entry.get("ManifestName") if isinstance(entry, Mapping) else None
            if name not in has[kind]:
                listing = "; ".join(f"{lbl} {', '.join(has[k]) or 'none'}" for k, _, lbl in MANIFEST_PROPS)
                return (
                    f"origin endpoint {endpoint} has no {label} manifest {name!r} ({prop}[{index}]); it has: {listing}"
                )
            declared = next(m for m in found.get(kind) or [] if str(m.get("ManifestName")) == name)
            if _time_filtered(declared):
                return (
                    f"{label} manifest {name!r} of origin endpoint {endpoint} ({prop}[{index}]) is filtered on time "
                    "(start, end, clip start or time delay): MediaPackage harvests no such manifest"
                )
    return None


def _time_filtered(manifest: Mapping[str, Any]) -> bool:
    config = manifest.get("FilterConfiguration")
    return isinstance(config, Mapping) and any(
        config.get(key) is not None for key in ("Start", "End", "ClipStartTime", "TimeDelaySeconds")
    )


def grant(endpoint: str, endpoint_arn: str, policy: Mapping[str, Any] | None, job_name: str) -> str | None:
    """The endpoint's policy must let MediaPackage's harvester read it (both actions, judged with the request
    context the harvester carries for this job); a missing policy grants nothing."""
    if policy is None:
        return f"origin endpoint {endpoint} has no policy, so no harvester grant: {GRANT_FIX}"
    context = harvester_context(f"{endpoint_arn}/harvestJob/{job_name}")
    refused = [
        action.split(":")[1]
        for action in ENDPOINT_HARVEST_ACTIONS
        if not iam_policy.allows(
            policy.get("Policy"), service=HARVESTER, action=action, resource=endpoint_arn, context=context
        )
    ]
    if not refused:
        return None
    return f"origin endpoint {endpoint}'s policy does not allow {HARVESTER} {' or '.join(refused)}: {GRANT_FIX}"


# The flavours' preflights ----------------------------------------------------------------------------------
def check_v2(client: Any, props: Mapping[str, Any], name: str, now: float) -> str | None:
    """MediaPackage v2: the clock, then the endpoint (startover, manifests), then its policy's grant."""
    schedule: Mapping[str, str] = props[spec.SCHEDULE]
    start, moment = spec.parse_timestamp(schedule["StartTime"]), _moment(now)
    problem = start_in_future(start, moment)
    if problem:
        return problem
    key = {name: props[name] for name in (spec.CHANNEL_GROUP, spec.CHANNEL, spec.ORIGIN_ENDPOINT)}
    endpoint = "/".join(key.values())
    found = read("GetOriginEndpoint", lambda: client.get_origin_endpoint(**key))
    if found is None:
        return not_found(endpoint, "the channel group, channel and origin endpoint names")
    if isinstance(found, _Unread):
        return None  # the policy's grant is judged against the endpoint's ARN, which is unknown
    end = spec.parse_timestamp(schedule["EndTime"])
    problem = startover(endpoint, found.get("StartoverWindowSeconds"), start, moment, end) or manifests(
        endpoint, found, props[spec.MANIFESTS]
    )
    if problem:
        return problem
    policy = read("GetOriginEndpointPolicy", lambda: client.get_origin_endpoint_policy(**key))
    return None if isinstance(policy, _Unread) else grant(endpoint, str(found.get("Arn", "")), policy, name)


def check_v1(client: Any, props: Mapping[str, Any], now: float) -> str | None:
    """MediaPackage v1: the window has ended, the endpoint exists and its startover window covers the start."""
    start, end = spec.parse_timestamp(props[spec.V1_START]), spec.parse_timestamp(props[spec.V1_END])
    moment = _moment(now)
    problem = window_not_ended(end, moment)
    if problem:
        return problem
    endpoint = str(props[spec.V1_ORIGIN_ENDPOINT])
    found = read("DescribeOriginEndpoint", lambda: client.describe_origin_endpoint(Id=endpoint))
    if found is None:
        return not_found(endpoint, "origin_endpoint_id")
    if isinstance(found, _Unread):
        return None
    return startover(endpoint, found.get("StartoverWindowSeconds"), start, moment)


def _moment(now: float) -> datetime:
    return datetime.fromtimestamp(now, UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
