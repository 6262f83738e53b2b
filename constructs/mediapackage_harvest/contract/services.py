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
