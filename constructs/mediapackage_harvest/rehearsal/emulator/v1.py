"""MediaPackage v1 harvest jobs (``mediapackage`` 2017-10-12), reached through ``AWS_ENDPOINT_URL_MEDIAPACKAGE``.

What v1 differs in: jobs are named by an ``Id`` unique per account and Region, IN_PROGRESS from creation until
SUCCEEDED or FAILED (no QUEUED, no cancel, no delete, no tags), timestamps are ISO-8601 strings, every
CreateHarvestJob rule is the user guide's (the model constrains no member) and bad input is a 422.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from copy import deepcopy
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from mediapackage_harvest.contract.services import V1
from mediapackage_harvest.rehearsal.emulator import endpoints
from mediapackage_harvest.rehearsal.emulator.base import (
    MAX_WINDOW,
    Clock,
    ScriptedJob,
    ScriptedJobsEmulator,
    job_event,
)
from mediapackage_harvest.rehearsal.emulator.protocol import ApiDict, ApiError, RestJsonApi
from mediapackage_harvest.rehearsal.scenario import JobScript, Scenario
from mediapackage_harvest.rehearsal.surroundings import Surroundings

V1_OPERATIONS = ("CreateHarvestJob", "DescribeHarvestJob", "ListHarvestJobs", "DescribeOriginEndpoint")
V1_STATUSES = ("IN_PROGRESS", "SUCCEEDED", "FAILED")
# A scenario's outcome as v1 reports it. v1 knows neither QUEUED nor CANCELLED: a job is IN_PROGRESS from its
# creation until the script ends it, and a script ending CANCELLED (the service stopping the job) reads FAILED.
_V1_OUTCOMES = {"COMPLETED": "SUCCEEDED", "FAILED": "FAILED", "CANCELLED": "FAILED"}
# Scenarios script v2's error codes; v1 answers each with its own error of the same kind.
_V1_FAULT_CODES: Mapping[str, str] = {
    "ThrottlingException": "TooManyRequestsException",
    "InternalServerException": "InternalServerErrorException",
    "AccessDeniedException": "ForbiddenException",
    "ValidationException": "UnprocessableEntityException",
    "ConflictException": "UnprocessableEntityException",
    "ResourceNotFoundException": "NotFoundException",
    "ServiceQuotaExceededException": "UnprocessableEntityException",
}
# Scenarios name v2's operations: faults and throttles for GetHarvestJob also cover v1's DescribeHarvestJob.
_V1_SCENARIO_OPERATIONS: Mapping[str, str] = {
    "DescribeHarvestJob": "GetHarvestJob",
    "DescribeOriginEndpoint": "GetOriginEndpoint",
}
# The model constrains no member; these are the user guide's rules (IDs: letters, digits, '_' and '-').
_V1_ID = re.compile(r"[a-zA-Z0-9_-]{1,256}")
_V1_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/\S+")
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


@dataclass
class _V1Job:
    """A v1 harvest job's state; ``status`` is only as current as the last advance."""

    arn: str
    name: str  # the job's Id
    endpoint: str
    channel: str
    start_time: str  # as the request gave them: v1's timestamps are strings
    end_time: str
    destination: ApiDict  # S3Destination as created
    script: JobScript
    created_at: float
    status: str = "IN_PROGRESS"
    error_message: str | None = None  # for the timeline only: DescribeHarvestJob carries no reason

    def next_change(self) -> tuple[float, str] | None:
        if self.status == "IN_PROGRESS":
            return self.created_at + self.script.finishes_after, _V1_OUTCOMES[self.script.outcome]
        return None

    def change(self, at: float, status: str) -> None:
        self.status = status
        if status == "FAILED":
            scripted = self.script.outcome == "FAILED"
            self.error_message = self.script.error_message if scripted else "stopped by the service (script: CANCELLED)"

    def describe(self) -> ApiDict:
        """The job as DescribeHarvestJob returns it (member names; every value a string)."""
        return {
            "Arn": self.arn,
            "ChannelId": self.channel,
            "CreatedAt": _v1_time(self.created_at),
            "EndTime": self.end_time,
            "Id": self.name,
            "OriginEndpointId": self.endpoint,
            "S3Destination": dict(self.destination),
            "StartTime": self.start_time,
            "Status": self.status,
        }


class MediaPackageV1Emulator(ScriptedJobsEmulator):
    """MediaPackage v1 harvest jobs over HTTP (``AWS_ENDPOINT_URL_MEDIAPACKAGE``) on ``clock``'s time.

    The same :class:`Scenario` scripts it as the v2 emulator: a job's :class:`JobScript` keeps it IN_PROGRESS for
    ``queued_seconds + in_progress_seconds``, then SUCCEEDED (outcome COMPLETED) or FAILED. Faults and throttles
    apply by v2 operation name (GetHarvestJob stands for DescribeHarvestJob), answered with v1's error codes.
    v1 jobs cannot be cancelled or deleted, so nothing here does either.

    IDs are unique per account and Region; a second CreateHarvestJob with a taken Id is refused with
    UnprocessableEntityException (the service's exact answer is undocumented). ``channels`` maps origin endpoint
    IDs to their channel's ID for ChannelId; an endpoint not in it gets the stand-in ``<endpoint>-channel``.
    """

    service = "mediapackage"
    iam_prefix = V1.iam_prefix
    api_version = "2017-10-12"
    name_member = "Id"
    throttle_code = "TooManyRequestsException"
    internal_code = "InternalServerErrorException"
    fault_codes = _V1_FAULT_CODES
    scenario_operations = _V1_SCENARIO_OPERATIONS

    def __init__(
        self,
        clock: Clock,
        scenario: Scenario | None = None,
        account: str = "123456789012",
        region: str = "us-east-1",
        channels: Mapping[str, str] | None = None,
    ) -> None:
        api = RestJsonApi.load(
            self.service, self.api_version, V1_OPERATIONS, validation_code="UnprocessableEntityException"
        )
        super().__init__(clock, scenario, account, region, api)
        self.channels = dict(channels or {})
        self._jobs: dict[str, _V1Job] = {}  # by Id
        self._handlers = {
            "CreateHarvestJob": self._create,
            "DescribeHarvestJob": self._describe,
            "ListHarvestJobs": self._list,
            "DescribeOriginEndpoint": lambda params, now: endpoints.describe_origin_endpoint(
                self.surroundings, str(params["Id"]), self.region, self.account
            ),
        }
        # Origin endpoints (the rehearsal sets the stack's); CreateHarvestJob is judged against them.
        self.surroundings = Surroundings.from_scenario(self.scenario)

    def _job_records(self) -> Iterable[ScriptedJob]:
        return self._jobs.values()

    def _what_was_sent(self, operation: str, params: ApiDict) -> str | None:
        """CreateHarvestJob's request in one line: endpoint, window (as sent), destination and role. v1 jobs
        have no manifest list (the endpoint's manifest goes to ManifestKey) and no tags."""
        if operation in self.endpoint_operations:
            return f"endpoint {params.get('Id')}"
        if operation != "CreateHarvestJob":
            return None
        s3 = params.get("S3Destination", {})
        return "; ".join(
            [
                f"endpoint {params.get('OriginEndpointId', '?')}",
                f"window {params.get('StartTime', '?')} to {params.get('EndTime', '?')}",
                f"destination s3://{s3.get('BucketName', '?')}/{s3.get('ManifestKey', '')}",
                f"role {s3.get('RoleArn', '?')}",
            ]
        )

    def _status_event(self, job: ScriptedJob, at: float) -> dict[str, object] | None:
        """``MediaPackage HarvestJob Notification`` when a job SUCCEEDED or FAILED (the user guide's shape:
        ``detail.harvest_job`` in snake case, ``detail.message`` saying why a job failed)."""
        if job.status not in ("SUCCEEDED", "FAILED"):
            return None
        described = job.describe()
        s3 = described["S3Destination"]
        harvest_job = {
            "id": job.name,
            "arn": job.arn,
            "status": job.status,
            "origin_endpoint_id": described["OriginEndpointId"],
            "start_time": described["StartTime"],
            "end_time": described["EndTime"],
            "s3_destination": {
                "bucket_name": s3["BucketName"],
                "manifest_key": s3["ManifestKey"],
                "role_arn": s3["RoleArn"],
            },
            "created_at": described["CreatedAt"],
        }
        detail: dict[str, object] = {"harvest_job": harvest_job}
        if job.status == "FAILED":
            detail["message"] = job.error_message or "The harvest job failed."
        return job_event(self, V1.event_source, V1.event_detail_type, job.arn, at, detail)

    def channel_of(self, endpoint: str) -> str:
        return self.channels.get(endpoint, f"{endpoint}-channel")

    # Service hooks -------------------------------------------------------------------------------------------
    def _job_name_of(self, params: ApiDict) -> str | None:
        return str(params["Id"]) if params.get("Id") else None

    # Operations ----------------------------------------------------------------------------------------------
    def _authorize_more(self, headers: Mapping[str, str], operation: str, params: ApiDict) -> None:
        """CreateHarvestJob hands MediaPackage the role it writes with: the caller needs ``iam:PassRole`` on it."""
        role = params.get("S3Destination", {}).get("RoleArn") if operation == "CreateHarvestJob" else None
        if role and self.authorizer is not None:
            self.authorizer.pass_role(headers, str(role), V1.principal)

    def _create(self, params: ApiDict, now: float) -> ApiDict:
        self._check_job_request(params, now)
        job_id, endpoint = str(params["Id"]), str(params["OriginEndpointId"])
        if job_id in self._jobs:
            raise ApiError("UnprocessableEntityException", f"HarvestJob with id {job_id} already exists")
        arn = f"arn:{self.partition}:mediapackage:{self.region}:{self.account}:harvest_jobs/{job_id}"
        job = _V1Job(
            arn=arn,
            name=job_id,
            endpoint=endpoint,
            channel=self.channel_of(endpoint),
            start_time=params["StartTime"],
            end_time=params["EndTime"],
            destination=deepcopy(params["S3Destination"]),
            script=self._script(job_id, params, arn),
            created_at=now,
        )
        self._jobs[job_id] = job
        self._emit_status(job, now)
        return self._advance(job, now).describe()

    def _script(self, job_id: str, params: ApiDict, arn: str) -> JobScript:
        """The scenario's script, unless the role cannot write: then the job fails as it starts writing."""
        script = self.scenario.script_for(job_id)
        refusal = endpoints.v1_write_refusal(self.surroundings, params["S3Destination"], self.partition, arn)
        if refusal is None:
            return script
        return replace(script, in_progress_seconds=0.0, outcome="FAILED", error_message=refusal)

    def _check_job_request(self, params: ApiDict, now: float) -> None:
        """CreateHarvestJob's rules (the user guide's; the model has none): one 422 naming every problem."""
        problems: list[str] = []
        if not _V1_ID.fullmatch(params["Id"]):
            problems.append("id: 1 to 256 letters, digits, '_' and '-'")
        start = _v1_instant(params["StartTime"])
        end = _v1_instant(params["EndTime"])
        if start is None:
            problems.append(f"startTime: {params['StartTime']!r} is not an ISO-8601 time with an offset")
        if end is None:
            problems.append(f"endTime: {params['EndTime']!r} is not an ISO-8601 time with an offset")
        if start is not None and end is not None:
            if end <= start:
                problems.append("endTime: must be later than startTime")
            elif end - start > MAX_WINDOW:
                problems.append("endTime: the harvest window is at most 24 hours")
            if end.timestamp() > now:
                problems.append("endTime: must be in the past")
        destination = params["S3Destination"]
        bucket = destination["BucketName"]
        if not _BUCKET_NAME.fullmatch(bucket) or ".." in bucket:
            problems.append(f"s3Destination.bucketName: {bucket!r} is not a valid bucket name")
        if not destination["ManifestKey"] or destination["ManifestKey"].startswith("/"):
            problems.append("s3Destination.manifestKey: must be an object key (not starting with '/')")
        if not _V1_ROLE_ARN.fullmatch(destination["RoleArn"]):
            problems.append(f"s3Destination.roleArn: {destination['RoleArn']!r} is not an IAM role ARN")
        if problems:
            raise ApiError("UnprocessableEntityException", "Invalid harvest job: " + "; ".join(problems))
        endpoints.refuse_v1_create(self.surroundings, params, start, now)

    def _describe(self, params: ApiDict, now: float) -> ApiDict:
        job = self._jobs.get(str(params["Id"]))
        if job is None:
            raise ApiError("NotFoundException", f"HarvestJob {params['Id']} not found")
        return self._advance(job, now).describe()

    def _list(self, params: ApiDict, now: float) -> ApiDict:
        filters = {"IncludeChannelId": params.get("IncludeChannelId"), "IncludeStatus": params.get("IncludeStatus")}
        matching = [
            job
            for job in self._jobs.values()
            if filters["IncludeChannelId"] in (None, job.channel)
            and filters["IncludeStatus"] in (None, self._advance(job, now).status)
        ]
        page, following = self._page(matching, params, filters)
        output: ApiDict = {"HarvestJobs": [self._advance(job, now).describe() for job in page]}
        if following is not None:
            output["NextToken"] = following
        return output


def _v1_time(seconds: float) -> str:
    """v1's timestamps are ISO-8601 strings (UTC, 'Z')."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _v1_instant(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
