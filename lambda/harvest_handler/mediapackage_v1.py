"""The MediaPackage v1 flavour of a harvest job, behind the model's HarvestService protocol.

Translates the custom resource's properties (CloudFormation's strings, checked by ``spec.validate_v1``) into
CreateHarvestJob / DescribeHarvestJob calls of the ``mediapackage`` 2017-10-12 API, and its answers into the
lifecycle's terms: SUCCEEDED -> COMPLETED, NotFoundException -> gone. v1 harvest jobs can be neither cancelled nor
deleted (``can_cancel`` is False, so the lifecycle makes no call on Delete or at the deadline), carry no tags,
and say nothing about why they failed (the reason is only in the HarvestJob notification event).

v1's CreateHarvestJob has no client token. The Id (derived per request when not given) makes a redelivered
request safe instead: when the create is refused because the Id exists and that job is the one these
properties describe, it is taken as this request's job; any other job under the Id is a name clash.
Throttling (TooManyRequests) and 5xx errors are retried by botocore (aws_clients).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from harvest_handler import aws_clients, preflight
from harvest_handler.logs import logger
from harvest_handler.model import Job, JobStatus, NameInUse, error_code
from mediapackage_harvest.contract import spec

if TYPE_CHECKING:
    from mypy_boto3_mediapackage import MediaPackageClient

ARN_PATTERN = re.compile(
    r"arn:[\w-]+:mediapackage:(?P<region>[\w-]+):\d{12}:harvest_jobs/(?P<id>" + spec.NAME_PATTERN.pattern + ")"
)
STATUSES = {"IN_PROGRESS": JobStatus.IN_PROGRESS, "SUCCEEDED": JobStatus.COMPLETED, "FAILED": JobStatus.FAILED}
NO_REASON = (
    "MediaPackage v1 does not say why in DescribeHarvestJob; the reason is in the 'MediaPackage HarvestJob "
    "Notification' event (EventBridge)"
)


def mediapackage_client() -> MediaPackageClient:
    return cast("MediaPackageClient", aws_clients.client("mediapackage"))


@dataclass(frozen=True)
class V1Job(Job):
    """A v1 job: its attributes are v1's own (spec.V1_ATTRIBUTES), Status as v1 spells it."""

    def attributes(self) -> dict[str, str]:
        return {
            "Arn": self.arn,
            "Id": self.name,
            "Status": str(self.details.get("Status", "")),
            "ChannelId": str(self.details.get("ChannelId", "")),
            "CreatedAt": str(self.details.get("CreatedAt", "")),
        }


class MediaPackageV1:
    """HarvestService for MediaPackage v1. The client is fetched on first use (Delete never builds one)."""

    name_property = spec.V1_JOB_ID
    name_prop = "harvest_job_id"
    can_cancel = False

    def __init__(self, client: Callable[[], MediaPackageClient] = mediapackage_client) -> None:
        self._client = client

    def problems(self, props: Mapping[str, Any]) -> list[spec.Violation]:
        return spec.validate_v1(props)

    def is_job_id(self, physical_id: str) -> bool:
        return ARN_PATTERN.fullmatch(physical_id) is not None

    def preflight(self, props: Mapping[str, Any], *, name: str, now: float) -> str | None:
        return preflight.check_v1(self._client(), props, now)

    def wake_pattern(self, props: Mapping[str, Any], job_arn: str, function_arn: str) -> dict[str, Any] | None:
        return None  # v1 refuses no create for a quota of active jobs

    def create(self, props: Mapping[str, Any], *, name: str, token: str) -> Job:
        """``token`` is unused: v1 has no client token; the Id plays its part (see the module docstring)."""
        try:
            response = self._client().create_harvest_job(**create_params(props, name=name))
        except ClientError as error:
            if error_code(error) != "UnprocessableEntityException":
                raise
            existing = self._describe(name)
            if existing is None:
                raise  # refused for another reason (the window, the endpoint, the role): the message says which
            if self.matches(existing, {**props, spec.V1_JOB_ID: name}):
                logger.info("Harvest job already created by an earlier delivery of this request")
                return existing
            raise NameInUse(f"{error_code(error)}: {_message(error)}") from error
        return _job(cast("Mapping[str, Any]", response))

    def get(self, job_id: str) -> Job | None:
        return self._describe(_id(job_id))

    def cancel(self, job_id: str) -> bool:
        """v1 has no way to stop a harvest job."""
        return False

    def retag(self, job_id: str, *, add: Mapping[str, str], remove: Sequence[str]) -> None:
        """v1 harvest jobs carry no tags; the v1 properties have none to change."""

    def matches(self, job: Job, props: Mapping[str, Any]) -> bool:
        wanted_id = props.get(spec.V1_JOB_ID)
        if wanted_id and wanted_id != job.name:
            return False
        return configuration(job.details) == configuration(props)

    def name_clash(self, job: Job, props: Mapping[str, Any]) -> str | None:
        """IDs are unique per Region, and a v1 job keeps its Id until its record expires (90 days)."""
        if props.get(spec.V1_JOB_ID) != job.name:
            return None
        match = ARN_PATTERN.fullmatch(job.arn)
        return f"Region {match['region']}" if match else "this Region"

    def _describe(self, job_id: str) -> Job | None:
        try:
            response = self._client().describe_harvest_job(Id=job_id)
        except ClientError as error:
            if error_code(error) == "NotFoundException":
                return None
            raise
        return _job(cast("Mapping[str, Any]", response))


def create_params(props: Mapping[str, Any], *, name: str) -> dict[str, Any]:
    """CreateHarvestJob's parameters from validated properties (v1 takes its timestamps as strings)."""
    s3: Mapping[str, str] = props[spec.V1_DESTINATION]
    return {
        "Id": name,
        "OriginEndpointId": props[spec.V1_ORIGIN_ENDPOINT],
        "StartTime": props[spec.V1_START],
        "EndTime": props[spec.V1_END],
        "S3Destination": {"BucketName": s3["BucketName"], "ManifestKey": s3["ManifestKey"], "RoleArn": s3["RoleArn"]},
    }


def configuration(source: Mapping[str, Any]) -> tuple[object, ...]:
    """What makes two v1 jobs the same job, from properties or from DescribeHarvestJob (same member names)."""
    s3: Mapping[str, Any] = source.get(spec.V1_DESTINATION) or {}
    return (
        source.get(spec.V1_ORIGIN_ENDPOINT),
        _instant(source.get(spec.V1_START)),
        _instant(source.get(spec.V1_END)),
        s3.get("BucketName"),
        s3.get("ManifestKey"),
        s3.get("RoleArn"),
    )


def _instant(value: object) -> datetime | str | None:
    """The moment a timestamp string names, so that '...Z' and '...+00:00' compare equal."""
    if not isinstance(value, str):
        return None
    try:
        return spec.parse_timestamp(value)
    except ValueError:
        return value


def _job(response: Mapping[str, Any]) -> V1Job:
    """CreateHarvestJob and DescribeHarvestJob answer with the same shape."""
    status = STATUSES[response["Status"]]
    created = _instant(response.get("CreatedAt"))
    return V1Job(
        arn=response["Arn"],
        name=response["Id"],
        status=status,
        error_message=NO_REASON if status == JobStatus.FAILED else "",
        created_at=created if isinstance(created, datetime) else None,
        details={key: value for key, value in response.items() if key != "ResponseMetadata"},
    )


def _id(job_id: str) -> str:
    match = ARN_PATTERN.fullmatch(job_id)
    if match is None:
        raise ValueError(f"not a MediaPackage v1 harvest job ARN: {job_id!r}")
    return match["id"]


def _message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", ""))
