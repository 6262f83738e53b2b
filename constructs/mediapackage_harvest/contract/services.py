"""The MediaPackage flavours a harvest job comes in, listed once: what each is called by CloudFormation, IAM,
the service itself and EventBridge.

The construct grants and routes by these (the handler's role, the job-event rule, the resource policies it writes),
the handler dispatches by them, and the rehearsal's stand-ins speak them.
"""

from __future__ import annotations

from dataclasses import dataclass

from mediapackage_harvest.contract import spec


@dataclass(frozen=True)
class Flavour:
    """One MediaPackage API a harvest job can be made with."""

    name: str  # "v2" or "v1"
    resource_type: str  # the custom resource type
    iam_prefix: str  # the IAM service prefix, also the botocore service name
    principal: str  # the service principal MediaPackage acts as (endpoint reads, S3 writes, role assumption)
    event_source: str  # the ``source`` of its EventBridge harvest-job events
    event_detail_type: str  # their ``detail-type``


V2 = Flavour(
    name="v2",
    resource_type=spec.RESOURCE_TYPE,
    iam_prefix="mediapackagev2",
    principal="mediapackagev2.amazonaws.com",
    event_source="aws.mediapackagev2",
    event_detail_type="MediaPackageV2 HarvestJob Notification",
)
V1 = Flavour(
    name="v1",
    resource_type=spec.V1_RESOURCE_TYPE,
    iam_prefix="mediapackage",
    principal="mediapackage.amazonaws.com",
    event_source="aws.mediapackage",
    event_detail_type="MediaPackage HarvestJob Notification",
)
FLAVOURS = (V2, V1)
# The long-wait mode's result resource re-reads a v2 job.
BY_RESOURCE_TYPE = {**{f.resource_type: f for f in FLAVOURS}, spec.RESULT_RESOURCE_TYPE: V2}
BY_EVENT_SOURCE = {f.event_source: f for f in FLAVOURS}

# What MediaPackage v2 must be allowed on an origin endpoint, in the endpoint's policy, to harvest it (the user
# guide's endpoint authorization: "The endpoint must grant MediaPackage v2 GetObject and HarvestObject access").
ENDPOINT_HARVEST_ACTIONS = ("mediapackagev2:HarvestObject", "mediapackagev2:GetObject")
# What it must be allowed in the destination bucket's policy (the live-to-VOD guide names PutObject only).
BUCKET_WRITE_ACTIONS = ("s3:PutObject",)


def harvester_context(job_arn: str) -> dict[str, str]:
    """The request context MediaPackage v2 carries when it reads an endpoint or writes a harvest for the job
    ``job_arn``: ``aws:SourceAccount`` (documented) and ``aws:SourceArn``, taken to be the job's ARN (undocumented;
    the bucket statement this library writes accepts the endpoint's ARN and anything under it)."""
    return {"aws:SourceAccount": job_arn.split(":")[4], "aws:SourceArn": job_arn}
