"""MediaPackage v2 harvest jobs (``mediapackagev2`` 2022-12-25), reached through ``AWS_ENDPOINT_URL_MEDIAPACKAGEV2``.

What v2 adds to the shared machinery: names unique per channel, ClientToken idempotency, QUEUED then
IN_PROGRESS (a real-time harvest at least until its EndTime) then COMPLETED, FAILED or CANCELLED, cancel with an
optional ETag check, the active-jobs quota per channel group, tags (with AWS's general tagging limits), and the
CreateHarvestJob rules the model cannot say.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from copy import deepcopy
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from mediapackage_harvest.contract.services import V2
from mediapackage_harvest.rehearsal.emulator import endpoints
from mediapackage_harvest.rehearsal.emulator.base import (
    MAX_WINDOW,
    Clock,
    ScriptedJob,
    ScriptedJobsEmulator,
    fingerprint,
    job_event,
)
from mediapackage_harvest.rehearsal.emulator.protocol import ApiDict, ApiError, RestJsonApi, Violation
from mediapackage_harvest.rehearsal.scenario import OPERATIONS, JobScript, Scenario
from mediapackage_harvest.rehearsal.surroundings import Surroundings

V2_OPERATIONS = tuple(sorted(OPERATIONS))  # the operations a scenario may script are the ones served
ACTIVE = frozenset({"QUEUED", "IN_PROGRESS"})
MANIFEST_KINDS = ("HlsManifests", "DashManifests", "LowLatencyHlsManifests")
_SPEC_MEMBERS = ("HarvestedManifests", "ScheduleConfiguration", "Destination", "Description")
# AWS's general tagging limits; the v2 model leaves TagMap unconstrained (a guess at what the service enforces).
TAGS_MAX, TAG_KEY_MAX, TAG_VALUE_MAX = 50, 128, 256
_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):mediapackagev2:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"channelGroup/(?P<group>[^/]+)/channel/(?P<channel>[^/]+)/originEndpoint/(?P<endpoint>[^/]+)"
    r"/harvestJob/(?P<name>[^/]+)"
)
# Extra members scripted faults carry so botocore's modeled parse sees what the service would send.
_FAULT_FIELDS: Mapping[str, Mapping[str, str]] = {
    "ConflictException": {"ConflictExceptionType": "CONFLICTING_OPERATION"},
    "ResourceNotFoundException": {"ResourceTypeNotFound": "HARVEST_JOB"},
    "ValidationException": {"ValidationExceptionType": "MEMBER_INVALID"},
}


@dataclass
class _Job:
    """A harvest job's state; ``status`` is only as current as the last :meth:`advance`."""

    arn: str
    group: str
    channel: str
    endpoint: str
    name: str
    spec: ApiDict  # HarvestedManifests, ScheduleConfiguration, Destination, Description as created
    script: JobScript
    created_at: float
    tags: dict[str, str]
    status: str = "QUEUED"
    revision: int = 1
    modified_at: float = 0.0
    error_message: str | None = None

    def next_change(self) -> tuple[float, str] | None:
        """The scripted next status and when it happens; None once the job has finished."""
        if self.status == "QUEUED":
            return self.created_at + self.script.queued_seconds, "IN_PROGRESS"
        if self.status == "IN_PROGRESS":
            return max(self.created_at + self.script.finishes_after, self.window_end), self.script.outcome
        return None

    @property
    def window_end(self) -> float:
        """A real-time harvest (EndTime still ahead) runs at least until EndTime, then its scripted time in
        progress; a past window ends as scripted."""
        end: datetime = self.spec["ScheduleConfiguration"]["EndTime"]
        return end.timestamp() + self.script.in_progress_seconds

    def change(self, at: float, status: str) -> None:
        self.status = status
        self.touch(at)
        if status == "FAILED":
            self.error_message = self.script.error_message

    def touch(self, at: float) -> None:
        """A modification: new ETag, ModifiedAt moves."""
        self.revision += 1
        self.modified_at = at

    @property
    def etag(self) -> str:
        """Deterministic per revision, so a rehearsal's figures are the same on every run."""
        return hashlib.sha256(f"{self.arn}#{self.revision}".encode()).hexdigest()[:32]

    def describe(self, *, with_tags: bool = True) -> ApiDict:
        """The job as GetHarvestJob returns it (member names; timestamps as aware datetimes)."""
        described: ApiDict = {
            "ChannelGroupName": self.group,
            "ChannelName": self.channel,
            "OriginEndpointName": self.endpoint,
            "Destination": deepcopy(self.spec["Destination"]),
            "HarvestJobName": self.name,
            "HarvestedManifests": deepcopy(self.spec["HarvestedManifests"]),
            "Description": self.spec.get("Description"),
            "ScheduleConfiguration": dict(self.spec["ScheduleConfiguration"]),
            "Arn": self.arn,
            "CreatedAt": datetime.fromtimestamp(self.created_at, UTC),
            "ModifiedAt": datetime.fromtimestamp(self.modified_at, UTC),
            "Status": self.status,
            "ErrorMessage": self.error_message,
            "ETag": self.etag,
        }
        if with_tags and self.tags:
            described["Tags"] = dict(self.tags)
        return {k: v for k, v in described.items() if v is not None}


class MediaPackageV2Emulator(ScriptedJobsEmulator):
    """MediaPackage v2 harvest jobs over HTTP on ``clock``'s time, as ``scenario`` scripts them.

    Use as a context manager (or ``start()`` / ``stop()``); point boto3 at ``url``. ``calls`` records every
    request, ``jobs()`` / ``job(arn)`` show the state, ``on_event`` reports calls and status changes.
    """

    service = "mediapackagev2"
    iam_prefix = V2.iam_prefix
    api_version = "2022-12-25"
    fault_fields = _FAULT_FIELDS

    def __init__(
        self,
        clock: Clock,
        scenario: Scenario | None = None,
        account: str = "123456789012",
        region: str = "us-east-1",
    ) -> None:
        api = RestJsonApi.load(
            self.service,
            self.api_version,
            V2_OPERATIONS,
            validation_code="ValidationException",
            violation_member="ValidationExceptionType",
        )
        super().__init__(clock, scenario, account, region, api)
        self._jobs: dict[tuple[str, str, str], _Job] = {}  # (group, channel, name): names are unique per channel
        self._tokens: dict[str, tuple[str, str]] = {}  # client token -> (request fingerprint, job ARN)
        self._handlers = {
            "CreateHarvestJob": self._create,
            "GetHarvestJob": self._get,
            "ListHarvestJobs": self._list,
            "CancelHarvestJob": self._cancel,
            "TagResource": self._tag,
            "UntagResource": self._untag,
            "ListTagsForResource": self._list_tags,
            "GetOriginEndpoint": self._get_endpoint,
            "GetOriginEndpointPolicy": lambda params, now: endpoints.get_origin_endpoint_policy(
                self.surroundings, params
            ),
        }
        # Origin endpoints and buckets (the rehearsal sets the stack's); CreateHarvestJob is judged against them.
        self.surroundings = Surroundings.from_scenario(self.scenario)

    def _job_records(self) -> Iterable[ScriptedJob]:
        return self._jobs.values()

    def _what_was_sent(self, operation: str, params: ApiDict) -> str | None:
        if operation in self.endpoint_operations:
            return "endpoint " + "/".join(
                str(params.get(k)) for k in ("ChannelGroupName", "ChannelName", "OriginEndpointName")
            )
        return _create_summary(params) if operation == "CreateHarvestJob" else None

    def _status_event(self, job: ScriptedJob, at: float) -> dict[str, object] | None:
        """``MediaPackageV2 HarvestJob Notification``, its detail as MediaPackage's user guide shows it (a
        ``harvestJob`` with its names, status and message). The guide has one when a job succeeds or fails; the
        emulator sends one on every status change, a superset the handler must take in its stride."""
        assert isinstance(job, _Job)
        harvest_job: dict[str, object] = {
            "harvestJobName": job.name,
            "arn": job.arn,
            "status": job.status,
            "channelGroupName": job.group,
            "channelName": job.channel,
            "originEndpointName": job.endpoint,
        }
        if job.error_message and job.status == "FAILED":
            harvest_job["message"] = job.error_message
        return job_event(self, V2.event_source, V2.event_detail_type, job.arn, at, {"harvestJob": harvest_job})

    def _job_name_of(self, params: ApiDict) -> str | None:
        if params.get("HarvestJobName"):
            return str(params["HarvestJobName"])
        found = _ARN.fullmatch(str(params.get("ResourceArn", "")))
        return found["name"] if found else None

    # Job lookup ----------------------------------------------------------------------------------------------
    def _find(self, params: ApiDict, now: float) -> _Job:
        key = (params["ChannelGroupName"], params["ChannelName"], params["HarvestJobName"])
        job = self._jobs.get(key)
        if job is None or job.endpoint != params["OriginEndpointName"]:
            raise ApiError(
                "ResourceNotFoundException",
                f"Harvest job {params['HarvestJobName']} not found",
                {"ResourceTypeNotFound": "HARVEST_JOB"},
            )
        return self._advance(job, now)

    def _by_arn(self, arn: str, now: float) -> _Job:
        """The job a tagging call names; the model lists only ValidationException for these operations."""
        found = _ARN.fullmatch(arn)
        if found is None or found["region"] != self.region or found["account"] != self.account:
            message = f"ResourceArn: {arn!r} is not a harvest job ARN of this account and Region"
            raise ApiError("ValidationException", message, {"ValidationExceptionType": "INVALID_ARN"})
        job = self._jobs.get((found["group"], found["channel"], found["name"]))
        if job is None or job.arn != arn:
            message = f"ResourceArn: no harvest job {arn}"
            raise ApiError("ValidationException", message, {"ValidationExceptionType": "INVALID_ARN"})
        return self._advance(job, now)

    def _arn(self, group: str, channel: str, endpoint: str, name: str) -> str:
        return (
            f"arn:{self.partition}:mediapackagev2:{self.region}:{self.account}:channelGroup/{group}/channel/{channel}"
            f"/originEndpoint/{endpoint}/harvestJob/{name}"
        )

    # Operations ----------------------------------------------------------------------------------------------
    def _create(self, params: ApiDict, now: float) -> ApiDict:
        self._check_job_request(params, now)
        self._check_tags(params.get("Tags", {}))
        endpoints.refuse_create(self.surroundings, params, self._endpoint_arn(params), now)
        token = params.get("ClientToken")
        digest = fingerprint({k: v for k, v in params.items() if k != "ClientToken"})
        if token is not None and token in self._tokens:
            earlier, arn = self._tokens[token]
            if earlier != digest:
                raise ApiError(
                    "ConflictException",
                    "ClientToken was already used with different parameters",
                    {"ConflictExceptionType": "IDEMPOTENT_PARAMETER_MISMATCH"},
                )
            job = next(j for j in self._jobs.values() if j.arn == arn)
            return self._advance(job, now).describe()
        group, channel, endpoint = params["ChannelGroupName"], params["ChannelName"], params["OriginEndpointName"]
        name = params.get("HarvestJobName") or self._generated_name(digest, token)
        if (group, channel, name) in self._jobs:
            raise ApiError(
                "ConflictException",
                f"HarvestJobName: a harvest job named {name} already exists in channel {channel}",
                {"ConflictExceptionType": "RESOURCE_ALREADY_EXISTS"},
            )
        self._check_quota(group, now)
        job = _Job(
            arn=self._arn(group, channel, endpoint, name),
            group=group,
            channel=channel,
            endpoint=endpoint,
            name=name,
            spec={k: deepcopy(params[k]) for k in _SPEC_MEMBERS if k in params},
            script=self._script(name, params, self._arn(group, channel, endpoint, name)),
            created_at=now,
            tags=dict(params.get("Tags", {})),
            modified_at=now,
        )
        self._jobs[(group, channel, name)] = job
        if token is not None:
            self._tokens[token] = (digest, job.arn)
        self._emit_status(job, now)
        return self._advance(job, now).describe()

    def _script(self, name: str, params: ApiDict, arn: str) -> JobScript:
        """The scenario's script, unless the bucket refuses the write: then the job fails as it starts writing."""
        script = self.scenario.script_for(name)
        refusal = endpoints.write_refusal(self.surroundings, params, self.partition, arn)
        if refusal is None:
            return script
        return replace(script, in_progress_seconds=0.0, outcome="FAILED", error_message=refusal)

    def _endpoint_arn(self, params: ApiDict) -> str:
        names = (params["ChannelGroupName"], params["ChannelName"], params["OriginEndpointName"])
        return self._arn(*names, "").removesuffix("/harvestJob/")

    def _get_endpoint(self, params: ApiDict, now: float) -> ApiDict:
        return endpoints.get_origin_endpoint(self.surroundings, params, self._endpoint_arn(params), now)

    def _check_job_request(self, params: ApiDict, now: float) -> None:
        """CreateHarvestJob's rules beyond the model's member constraints."""
        violations: list[Violation] = []
        manifests = params["HarvestedManifests"]
        if not any(manifests.get(kind) for kind in MANIFEST_KINDS):
            rule = f"must list at least one manifest ({', '.join(MANIFEST_KINDS)})"
            violations.append(Violation("HarvestedManifests", rule, "NUM_MANIFESTS_LOW"))
        schedule = params["ScheduleConfiguration"]
        start, end = schedule["StartTime"], schedule["EndTime"]
        if end <= start:
            rule = "must be later than StartTime"
            violations.append(Violation("ScheduleConfiguration.EndTime", rule, "END_TIME_EARLIER_THAN_START_TIME"))
        elif end - start > MAX_WINDOW:
            rule = "EndTime must be at most 24 hours after StartTime"
            violations.append(Violation("ScheduleConfiguration", rule, "INVALID_HARVEST_JOB_DURATION"))
        if start.timestamp() > now:
            violations.append(
                Violation("ScheduleConfiguration.StartTime", "must not be in the future", "MEMBER_INVALID")
            )
        if violations:
            raise self.api.invalid(violations)

    def _check_quota(self, group: str, now: float) -> None:
        active = sum(self._advance(job, now).status in ACTIVE for job in self._jobs.values() if job.group == group)
        if active >= self.scenario.active_jobs_quota:
            raise ApiError(
                "ServiceQuotaExceededException",
                f"Channel group {group} already has {active} queued or in-progress harvest jobs "
                f"(quota {self.scenario.active_jobs_quota})",
            )

    def _check_tags(self, tags: Mapping[str, str], existing: Mapping[str, str] | None = None) -> None:
        violations = [
            Violation(f"Tags key {key!r}", problem, "MEMBER_INVALID")
            for key, value in tags.items()
            for problem in _tag_problems(key, value)
        ]
        if len({**(existing or {}), **tags}) > TAGS_MAX:
            violations.append(Violation("Tags", f"a resource can have at most {TAGS_MAX} tags", "MEMBER_MAX_LENGTH"))
        if violations:
            raise self.api.invalid(violations)

    def _generated_name(self, request_digest: str, token: str | None) -> str:
        """A name for a job created without one (the service's naming rule is undocumented)."""
        digest = hashlib.sha256(f"{request_digest}#{token}#{len(self._jobs)}".encode()).hexdigest()
        return f"harvest-job-{digest[:16]}"

    def _get(self, params: ApiDict, now: float) -> ApiDict:
        return self._find(params, now).describe()

    def _list(self, params: ApiDict, now: float) -> ApiDict:
        filters = {k: params.get(k) for k in ("ChannelGroupName", "ChannelName", "OriginEndpointName", "Status")}
        matching = [
            job
            for job in self._jobs.values()
            if job.group == filters["ChannelGroupName"]
            and filters["ChannelName"] in (None, job.channel)
            and filters["OriginEndpointName"] in (None, job.endpoint)
            and filters["Status"] in (None, self._advance(job, now).status)
        ]
        page, following = self._page(matching, params, filters)
        output: ApiDict = {"Items": [job.describe(with_tags=False) for job in page]}
        if following is not None:
            output["NextToken"] = following
        return output

    def _cancel(self, params: ApiDict, now: float) -> ApiDict:
        job = self._find(params, now)
        if params.get("ETag") is not None and params["ETag"] != job.etag:
            raise ApiError(
                "ConflictException",
                "ETag: the harvest job has changed since that ETag was read",
                {"ConflictExceptionType": "CONFLICTING_OPERATION"},
            )
        if job.status not in ACTIVE:
            raise ApiError(
                "ConflictException",
                f"Harvest job {job.name} is {job.status}; only QUEUED or IN_PROGRESS jobs can be cancelled",
                {"ConflictExceptionType": "CONFLICTING_OPERATION"},
            )
        job.change(now, "CANCELLED")
        self._emit_status(job, now)
        return {}

    def _tag(self, params: ApiDict, now: float) -> ApiDict:
        job = self._by_arn(params["ResourceArn"], now)
        self._check_tags(params["Tags"], job.tags)
        merged = {**job.tags, **params["Tags"]}
        if merged != job.tags:
            job.tags = merged
            job.touch(now)
        return {}

    def _untag(self, params: ApiDict, now: float) -> ApiDict:
        job = self._by_arn(params["ResourceArn"], now)
        kept = {k: v for k, v in job.tags.items() if k not in params["TagKeys"]}
        if kept != job.tags:
            job.tags = kept
            job.touch(now)
        return {}

    def _list_tags(self, params: ApiDict, now: float) -> ApiDict:
        return {"Tags": dict(self._by_arn(params["ResourceArn"], now).tags)}


def _tag_problems(key: str, value: str) -> list[str]:
    problems = []
    if not 1 <= len(key) <= TAG_KEY_MAX:
        problems.append(f"must have 1 to {TAG_KEY_MAX} characters")
    if key.lower().startswith("aws:"):
        problems.append("must not start with the reserved prefix aws:")
    if len(value) > TAG_VALUE_MAX:
        problems.append(f"value must have at most {TAG_VALUE_MAX} characters")
    return problems


_MANIFEST_LABELS = {"HlsManifests": "HLS", "DashManifests": "DASH", "LowLatencyHlsManifests": "LL-HLS"}


def _create_summary(params: ApiDict) -> str:
    """CreateHarvestJob's request in one line: endpoint, manifests, window, destination, tags (what a person
    checks against the stack's props). Members may be missing: the request may be about to be refused."""
    endpoint = "/".join(str(params.get(k, "?")) for k in ("ChannelGroupName", "ChannelName", "OriginEndpointName"))
    manifests = params.get("HarvestedManifests", {})
    listed = [
        f"{label} {manifest.get('ManifestName', '?')}"
        for kind, label in _MANIFEST_LABELS.items()
        for manifest in manifests.get(kind, [])
    ]
    schedule = params.get("ScheduleConfiguration", {})
    s3 = params.get("Destination", {}).get("S3Destination", {})
    tags = params.get("Tags", {})
    return "; ".join(
        [
            f"endpoint {endpoint}",
            f"manifests {', '.join(listed) or 'none'}",
            f"window {_instant(schedule.get('StartTime'))} to {_instant(schedule.get('EndTime'))}",
            f"destination s3://{s3.get('BucketName', '?')}/{s3.get('DestinationPath', '')}",
            f"tags {', '.join(f'{key}={value}' for key, value in tags.items()) or 'none'}",
        ]
    )


def _instant(moment: datetime | None) -> str:
    return "?" if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
