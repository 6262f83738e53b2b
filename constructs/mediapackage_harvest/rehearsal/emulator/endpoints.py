"""Origin endpoints and destination buckets as MediaPackage sees them: reads, and the refusals of a create.

The emulators hold a :class:`~mediapackage_harvest.rehearsal.surroundings.Surroundings` (what the stack and the
scenario declare, the rest assumed). From it this module answers GetOriginEndpoint / GetOriginEndpointPolicy
(v2) and DescribeOriginEndpoint (v1), refuses CreateHarvestJob as MediaPackage does when the endpoint is
missing, lacks the manifest or a startover window that reaches the start, or its policy does not let the
harvester read it, and tells when a job fails writing to a bucket of the stack whose policy lacks the grant.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from mediapackage_harvest.contract import iam_policy
from mediapackage_harvest.contract.services import BUCKET_WRITE_ACTIONS, ENDPOINT_HARVEST_ACTIONS, V1, harvester_context
from mediapackage_harvest.rehearsal.emulator.protocol import ApiDict, ApiError
from mediapackage_harvest.rehearsal.surroundings import HARVESTER, MANIFEST_KINDS, OriginEndpoint, Surroundings

_LABELS = {"HlsManifests": "HLS", "DashManifests": "DASH", "LowLatencyHlsManifests": "LL-HLS"}


def _key(params: ApiDict) -> str:
    return "/".join(str(params[k]) for k in ("ChannelGroupName", "ChannelName", "OriginEndpointName"))


def _existing(surroundings: Surroundings, params: ApiDict) -> OriginEndpoint:
    endpoint = surroundings.endpoint(_key(params))
    if not endpoint.exists:
        raise ApiError(
            "ResourceNotFoundException",
            f"Origin endpoint {params['OriginEndpointName']} not found in channel {params['ChannelName']} of "
            f"channel group {params['ChannelGroupName']}",
            {"ResourceTypeNotFound": "ORIGIN_ENDPOINT"},
        )
    return endpoint


# v2 reads --------------------------------------------------------------------------------------------------
def get_origin_endpoint(surroundings: Surroundings, params: ApiDict, arn: str, now: float) -> ApiDict:
    """GetOriginEndpoint's answer (the members the model requires, plus startover and manifests)."""
    endpoint = _existing(surroundings, params)
    moment = datetime.fromtimestamp(now, UTC)
    output: ApiDict = {
        "Arn": arn,
        "ChannelGroupName": params["ChannelGroupName"],
        "ChannelName": params["ChannelName"],
        "OriginEndpointName": params["OriginEndpointName"],
        "ContainerType": "TS",
        "Segment": {},
        "CreatedAt": datetime.fromtimestamp(endpoint.created, UTC) if endpoint.created is not None else moment,
        "ModifiedAt": moment,
        "StartoverWindowSeconds": endpoint.startover_window_seconds,
    }
    for kind in MANIFEST_KINDS:
        names = endpoint.manifests.get(kind, ())
        if names:
            output[kind] = [_manifest(name, endpoint.time_filters.get(name)) for name in names]
    return output


def _manifest(name: str, time_filter: Mapping[str, Any] | None) -> ApiDict:
    manifest: ApiDict = {"ManifestName": name, "Url": f"https://origin.example/{name}.m3u8"}
    if time_filter:
        manifest["FilterConfiguration"] = {
            key: int(value) if key == "TimeDelaySeconds" else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            for key, value in time_filter.items()
        }
    return manifest


def get_origin_endpoint_policy(surroundings: Surroundings, params: ApiDict) -> ApiDict:
    endpoint = _existing(surroundings, params)
    if endpoint.policy is None:
        raise ApiError(
            "ResourceNotFoundException",
            f"Origin endpoint {params['OriginEndpointName']} has no policy",
            {"ResourceTypeNotFound": "ORIGIN_ENDPOINT"},
        )
    return {
        "ChannelGroupName": params["ChannelGroupName"],
        "ChannelName": params["ChannelName"],
        "OriginEndpointName": params["OriginEndpointName"],
        "Policy": json.dumps(endpoint.policy),
    }


# v2 create -------------------------------------------------------------------------------------------------
def refuse_create(surroundings: Surroundings, params: ApiDict, arn: str, now: float) -> None:
    """Raise what MediaPackage answers a CreateHarvestJob the endpoint cannot serve (checked in this order:
    the endpoint, its manifests, its startover window, its policy)."""
    endpoint = _existing(surroundings, params)
    if endpoint.source != "assumed" or endpoint.manifests:
        for kind in MANIFEST_KINDS:
            for manifest in params["HarvestedManifests"].get(kind) or []:
                if manifest["ManifestName"] not in endpoint.manifests.get(kind, ()):
                    raise _invalid(
                        f"HarvestedManifests.{kind}: {_LABELS[kind]} manifest {manifest['ManifestName']} not found "
                        f"on origin endpoint {params['OriginEndpointName']}",
                        "HARVESTED_MANIFEST_NOT_FOUND_ON_ENDPOINT",
                    )
                if manifest["ManifestName"] in endpoint.time_filters:
                    raise _invalid(
                        f"HarvestedManifests.{kind}: {_LABELS[kind]} manifest {manifest['ManifestName']} has a start, "
                        "end, clip start or time delay in its filter configuration",
                        "HARVESTED_MANIFEST_HAS_START_END_FILTER_CONFIGURATION",
                    )
    window = endpoint.startover_window_seconds
    if not window:
        raise _invalid(
            f"Origin endpoint {params['OriginEndpointName']} has no startover window; harvest jobs need one",
            "MEMBER_INVALID",
        )
    start = params["ScheduleConfiguration"]["StartTime"].timestamp()
    if params["ScheduleConfiguration"]["EndTime"].timestamp() - start > window:
        raise _invalid(
            f"ScheduleConfiguration: the asset cannot outlast the origin endpoint's startover window ({window} s)",
            "INVALID_HARVEST_JOB_DURATION",
        )
    if start < now - window:
        raise _invalid(
            f"ScheduleConfiguration.StartTime: must be within the origin endpoint's startover window ({window} s)",
            "MEMBER_INVALID",
        )
    if endpoint.created is not None and start < endpoint.created:
        name = params["OriginEndpointName"]
        message = f"ScheduleConfiguration.StartTime: origin endpoint {name} {_holds_nothing(endpoint)}"
        raise _invalid(message, "MEMBER_INVALID")
    context = harvester_context(f"{arn}/harvestJob/{params.get('HarvestJobName') or 'new'}")
    refused = [
        action.split(":")[1]
        for action in ENDPOINT_HARVEST_ACTIONS
        if endpoint.policy is None
        or not iam_policy.allows(endpoint.policy, service=HARVESTER, action=action, resource=arn, context=context)
    ]
    if refused:
        raise _invalid(
            f"MediaPackage cannot read origin endpoint {arn}: its policy does not allow {HARVESTER} "
            f"{' and '.join(refused)}",
            "HARVEST_JOB_CUSTOMER_ENDPOINT_READ_ACCESS_DENIED",
        )


def write_refusal(surroundings: Surroundings, params: ApiDict, partition: str, job_arn: str) -> str | None:
    """The S3 error a job meets when it starts writing to a bucket of the stack that does not grant the write
    (judged with the request context the harvester carries, over TLS); None when the write is allowed, or the
    bucket is not the stack's (assumed to take it)."""
    s3 = params["Destination"]["S3Destination"]
    bucket, path = s3["BucketName"], s3["DestinationPath"].strip("/")
    declared, policy = surroundings.bucket_policy(bucket)
    if not declared:
        return None
    manifest = next((m["ManifestName"] for k in MANIFEST_KINDS for m in params["HarvestedManifests"].get(k) or []), "x")
    key = f"{path}/{manifest}.m3u8" if path else f"{manifest}.m3u8"
    resource = f"arn:{partition}:s3:::{bucket}/{key}"
    context = {**harvester_context(job_arn), "aws:SecureTransport": "true"}
    allowed = policy is not None and all(
        iam_policy.allows(policy, service=HARVESTER, action=action, resource=resource, context=context)
        for action in BUCKET_WRITE_ACTIONS
    )
    if allowed:
        return None
    return (
        f"Access Denied writing s3://{bucket}/{key}: the bucket policy does not allow {HARVESTER} s3:PutObject "
        f"on {path or 'the bucket'}/*"
    )


# v1 read ---------------------------------------------------------------------------------------------------
def describe_origin_endpoint(surroundings: Surroundings, endpoint_id: str, region: str, account: str) -> ApiDict:
    endpoint = surroundings.endpoint(endpoint_id)
    if not endpoint.exists:
        raise ApiError("NotFoundException", f"Origin endpoint {endpoint_id} not found")
    output: ApiDict = {
        "Arn": f"arn:aws:mediapackage:{region}:{account}:origin_endpoints/{endpoint_id}",
        "Id": endpoint_id,
        "ChannelId": f"{endpoint_id}-channel",
    }
    if endpoint.startover_window_seconds:
        output["StartoverWindowSeconds"] = endpoint.startover_window_seconds
    return output


def refuse_v1_create(surroundings: Surroundings, params: ApiDict, start: datetime | None, now: float) -> None:
    """v1's refusals about the endpoint: missing, no startover window, a start outside it (422, as v1 answers)."""
    endpoint = surroundings.endpoint(str(params["OriginEndpointId"]))
    if not endpoint.exists:
        raise ApiError("NotFoundException", f"Origin endpoint {params['OriginEndpointId']} not found")
    window = endpoint.startover_window_seconds
    if not window:
        raise ApiError("UnprocessableEntityException", "Startover is not enabled on the origin endpoint")
    if start is not None and start.timestamp() < now - window:
        raise ApiError(
            "UnprocessableEntityException",
            f"startTime: must be within the origin endpoint's startover window ({window} s)",
        )
    if start is not None and endpoint.created is not None and start.timestamp() < endpoint.created:
        raise ApiError(
            "UnprocessableEntityException",
            f"startTime: origin endpoint {params['OriginEndpointId']} {_holds_nothing(endpoint)}",
        )


def v1_write_refusal(surroundings: Surroundings, destination: ApiDict, partition: str, job_arn: str) -> str | None:
    """The S3 error a v1 job meets when it starts writing with a role of the stack that MediaPackage may not assume
    or that may not write the manifest's key; None when it may, or the role is not the stack's (assumed to)."""
    role = surroundings.roles.get(str(destination["RoleArn"]))
    if role is None:
        return None
    context = {"aws:SourceAccount": job_arn.split(":")[4], "aws:SourceArn": job_arn}
    if not iam_policy.allows(role.trust, service=V1.principal, action="sts:AssumeRole", resource="*", context=context):
        return f"Access Denied: {V1.principal} may not assume role {destination['RoleArn']} (its trust policy)"
    key = f"arn:{partition}:s3:::{destination['BucketName']}/{destination['ManifestKey']}"
    verdict = iam_policy.evaluate(role.policies, iam_policy.Request("s3:PutObject", key))
    if verdict is not iam_policy.Verdict.ALLOW:
        return (
            f"Access Denied writing s3://{destination['BucketName']}/{destination['ManifestKey']}: role "
            f"{destination['RoleArn']} is not allowed s3:PutObject on it"
        )
    return None


NOTHING_BEFORE_CREATION = (
    "rehearsal: an origin endpoint a deploy creates holds nothing from before that deploy: a harvest window starting "
    "earlier is refused with ValidationException MEMBER_INVALID (v1: UnprocessableEntityException); MediaPackage "
    "does not document its answer, so this one is assumed"
)
"""The assumption behind that refusal, said once per rehearsal that can make it."""


def _holds_nothing(endpoint: OriginEndpoint) -> str:
    created = datetime.fromtimestamp(endpoint.created or 0.0, UTC).isoformat().replace("+00:00", "Z")
    return f"was created at {created} and holds nothing from before then"


def _invalid(message: str, kind: str) -> ApiError:
    return ApiError("ValidationException", message, {"ValidationExceptionType": kind})
