"""The MediaPackage v2 flavour of a harvest job, behind the model's HarvestService protocol.

Translates the custom resource's properties (CloudFormation's strings, checked by ``spec``) into
CreateHarvestJob / GetHarvestJob / CancelHarvestJob / TagResource / UntagResource calls, and the service's
errors into the lifecycle's: ServiceQuotaExceeded -> QuotaExceeded, Conflict on create -> NameInUse,
ResourceNotFound -> gone. Throttling and InternalServer errors are retried by botocore (aws_clients).
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
from harvest_handler.model import ENDED, Job, JobStatus, NameInUse, QuotaExceeded, error_code
from mediapackage_harvest.contract import spec
from mediapackage_harvest.contract.services import V2

if TYPE_CHECKING:
    from mypy_boto3_mediapackagev2 import Mediapackagev2Client

_NAME = r"[A-Za-z0-9_-]+"
ARN_PATTERN = re.compile(
    rf"arn:[\w-]+:mediapackagev2:[\w-]+:\d{{12}}:channelGroup/(?P<channel_group>{_NAME})/channel/(?P<channel>{_NAME})"
    rf"/originEndpoint/(?P<origin_endpoint>{_NAME})/harvestJob/(?P<name>{_NAME})"
)


@dataclass(frozen=True)
class JobKey:
    """What GetHarvestJob and CancelHarvestJob address a job by, read from its ARN."""

    channel_group: str
    channel: str
    origin_endpoint: str
    name: str

    @classmethod
    def from_arn(cls, arn: str) -> JobKey | None:
        """``arn:<p>:mediapackagev2:<r>:<a>:channelGroup/<cg>/channel/<ch>/originEndpoint/<oe>/harvestJob/<n>``."""
        match = ARN_PATTERN.fullmatch(arn)
        return cls(**match.groupdict()) if match else None

    def params(self) -> dict[str, str]:
        return {
            "ChannelGroupName": self.channel_group,
            "ChannelName": self.channel,
            "OriginEndpointName": self.origin_endpoint,
            "HarvestJobName": self.name,
        }


class MediaPackageV2:
    """HarvestService for MediaPackage v2. The client is fetched on first use (none built for a no-op Delete)."""

    name_property = spec.JOB_NAME
    name_prop = "harvest_job_name"
    can_cancel = True

    def __init__(self, client: Callable[[], Mediapackagev2Client] = aws_clients.mediapackagev2) -> None:
        self._client = client

    def problems(self, props: Mapping[str, Any]) -> list[spec.Violation]:
        return spec.validate(props)

    def is_job_id(self, physical_id: str) -> bool:
        return JobKey.from_arn(physical_id) is not None

    def preflight(self, props: Mapping[str, Any], *, name: str, now: float) -> str | None:
        return preflight.check_v2(self._client(), props, name, now)

    def wake_pattern(self, props: Mapping[str, Any], job_arn: str, function_arn: str) -> dict[str, Any] | None:
        """The quota is per channel group: the events of its jobs that end (MediaPackage's user guide: one when a
        job succeeds or fails, ``detail.harvestJob.status``), each a slot freed; once the job exists, its own."""
        pattern: dict[str, Any] = {"source": [V2.event_source], "detail-type": [V2.event_detail_type]}
        if job_arn:
            return {**pattern, "resources": [job_arn]}
        _, partition, _, region, account = function_arn.split(":")[:5]
        group = f"arn:{partition}:{V2.iam_prefix}:{region}:{account}:channelGroup/{props.get(spec.CHANNEL_GROUP)}/"
        ended = sorted(status.value for status in ENDED)
        return {**pattern, "resources": [{"prefix": group}], "detail": {"harvestJob": {"status": ended}}}

    def create(self, props: Mapping[str, Any], *, name: str, token: str) -> Job:
        try:
            response = self._client().create_harvest_job(**create_params(props, name=name, token=token))
        except ClientError as error:
            code, message = error_code(error), _message(error)
            if code == "ServiceQuotaExceededException":
                raise QuotaExceeded(f"{code}: {message}") from error
            if code == "ConflictException":
                raise NameInUse(f"{code}: {message}") from error
            raise
        return _job(cast("Mapping[str, Any]", response))

    def get(self, job_id: str) -> Job | None:
        key = _key(job_id)
        try:
            response = self._client().get_harvest_job(**key.params())
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return None
            raise
        return _job(cast("Mapping[str, Any]", response))

    def cancel(self, job_id: str) -> bool:
        """A job that ended meanwhile (Conflict) or is gone needs no cancel: both count as done."""
        try:
            self._client().cancel_harvest_job(**_key(job_id).params())
        except ClientError as error:
            if error_code(error) not in ("ConflictException", "ResourceNotFoundException"):
                raise
            logger.info("No cancel needed", extra={"problem": f"{error_code(error)}: {_message(error)}"})
        return True

    def retag(self, job_id: str, *, add: Mapping[str, str], remove: Sequence[str]) -> None:
        if add:
            self._client().tag_resource(ResourceArn=job_id, Tags=dict(add))
        if remove:
            self._client().untag_resource(ResourceArn=job_id, TagKeys=list(remove))

    def matches(self, job: Job, props: Mapping[str, Any]) -> bool:
        wanted_name = props.get(spec.JOB_NAME)
        if wanted_name and wanted_name != job.name:
            return False
        return configuration(job.details) == configuration(props)

    def name_clash(self, job: Job, props: Mapping[str, Any]) -> str | None:
        """Job names are unique within a channel."""
        channel = (props.get(spec.CHANNEL_GROUP), props.get(spec.CHANNEL))
        same_channel = channel == (job.details.get(spec.CHANNEL_GROUP), job.details.get(spec.CHANNEL))
        if props.get(spec.JOB_NAME) == job.name and same_channel:
            return f"channel {channel[0]}/{channel[1]}"
        return None


def create_params(props: Mapping[str, Any], *, name: str, token: str) -> dict[str, Any]:
    """CreateHarvestJob's parameters from validated properties (timestamps parsed, options only when given)."""
    manifests: Mapping[str, Any] = props[spec.MANIFESTS]
    schedule: Mapping[str, str] = props[spec.SCHEDULE]
    s3: Mapping[str, str] = props[spec.DESTINATION]["S3Destination"]
    params: dict[str, Any] = {
        "ChannelGroupName": props[spec.CHANNEL_GROUP],
        "ChannelName": props[spec.CHANNEL],
        "OriginEndpointName": props[spec.ORIGIN_ENDPOINT],
        "HarvestJobName": name,
        "HarvestedManifests": {
            kind: [{"ManifestName": entry["ManifestName"]} for entry in manifests[kind]]
            for kind in spec.MANIFEST_KINDS
            if manifests.get(kind)
        },
        "ScheduleConfiguration": {
            "StartTime": spec.parse_timestamp(schedule["StartTime"]),
            "EndTime": spec.parse_timestamp(schedule["EndTime"]),
        },
        "Destination": {"S3Destination": {"BucketName": s3["BucketName"], "DestinationPath": s3["DestinationPath"]}},
        "ClientToken": token,
    }
    if props.get(spec.DESCRIPTION):
        params["Description"] = props[spec.DESCRIPTION]
    if props.get(spec.TAGS):
        params["Tags"] = dict(props[spec.TAGS])
    return params


def configuration(source: Mapping[str, Any]) -> tuple[object, ...]:
    """What makes two jobs the same job, from properties or from GetHarvestJob (they share the field names)."""
    manifests: Mapping[str, Any] = source.get(spec.MANIFESTS) or {}
    schedule: Mapping[str, Any] = source.get(spec.SCHEDULE) or {}
    s3: Mapping[str, Any] = (source.get(spec.DESTINATION) or {}).get("S3Destination") or {}
    return (
        source.get(spec.CHANNEL_GROUP),
        source.get(spec.CHANNEL),
        source.get(spec.ORIGIN_ENDPOINT),
        tuple(sorted(entry["ManifestName"] for entry in manifests.get(kind) or []) for kind in spec.MANIFEST_KINDS),
        _instant(schedule.get("StartTime")),
        _instant(schedule.get("EndTime")),
        s3.get("BucketName"),
        s3.get("DestinationPath"),
        source.get(spec.DESCRIPTION) or "",
    )


def _instant(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    return spec.parse_timestamp(value) if isinstance(value, str) else None


def _job(response: Mapping[str, Any]) -> Job:
    """CreateHarvestJob and GetHarvestJob answer with the same shape."""
    return Job(
        arn=response["Arn"],
        name=response["HarvestJobName"],
        status=JobStatus(response["Status"]),
        error_message=response.get("ErrorMessage") or "",
        etag=response.get("ETag") or "",
        created_at=response.get("CreatedAt"),
        modified_at=response.get("ModifiedAt"),
        tags=response.get("Tags") or {},
        details={key: value for key, value in response.items() if key != "ResponseMetadata"},
    )


def _key(job_id: str) -> JobKey:
    key = JobKey.from_arn(job_id)
    if key is None:
        raise ValueError(f"not a MediaPackage v2 harvest job ARN: {job_id!r}")
    return key


def _message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", ""))
