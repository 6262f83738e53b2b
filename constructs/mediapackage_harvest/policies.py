"""ARNs and policy statements a harvest job needs outside its own resource.

MediaPackage reads the origin endpoint and writes to S3 as the service principal ``mediapackagev2.amazonaws.com``,
so two resource policies must allow it: the origin endpoint's (added by the user, who owns that resource) and
the destination bucket's (added by ``HarvestJob`` when the bucket belongs to the app). Every ARN part defaults
to the deploying stack's pseudo parameters; all names may be tokens.
"""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam

from mediapackage_harvest.contract.services import BUCKET_WRITE_ACTIONS, ENDPOINT_HARVEST_ACTIONS, V2


def origin_endpoint_arn(
    channel_group_name: str,
    channel_name: str,
    origin_endpoint_name: str,
    *,
    partition: str | None = None,
    region: str | None = None,
    account: str | None = None,
) -> str:
    """The ARN of a MediaPackage v2 origin endpoint."""
    return (
        f"arn:{partition or Aws.PARTITION}:mediapackagev2:{region or Aws.REGION}:{account or Aws.ACCOUNT_ID}:"
        f"channelGroup/{channel_group_name}/channel/{channel_name}/originEndpoint/{origin_endpoint_name}"
    )


def endpoint_and_parents(endpoint_arn: str) -> tuple[str, str, str]:
    """The channel group's, the channel's and the origin endpoint's ARNs, from the endpoint's (names may be tokens):
    what IAM judges a request about the endpoint or its jobs against, besides the job itself."""
    channel = endpoint_arn.rsplit("/originEndpoint/", 1)[0]
    return channel.rsplit("/channel/", 1)[0], channel, endpoint_arn


def harvest_job_arn_pattern(
    channel_group_name: str,
    channel_name: str,
    origin_endpoint_name: str,
    *,
    partition: str | None = None,
    region: str | None = None,
    account: str | None = None,
) -> str:
    """An ARN pattern matching every harvest job of one origin endpoint (the handler's IAM scope)."""
    endpoint = origin_endpoint_arn(
        channel_group_name, channel_name, origin_endpoint_name, partition=partition, region=region, account=account
    )
    return f"{endpoint}/harvestJob/*"


def harvester_origin_endpoint_policy_statement(
    channel_group_name: str,
    channel_name: str,
    origin_endpoint_name: str,
    *,
    account: str | None = None,
    partition: str | None = None,
    region: str | None = None,
) -> iam.PolicyStatement:
    """The statement to add to the origin endpoint's policy so MediaPackage may harvest from it.

    Without it, ``CreateHarvestJob`` is refused. Use it in ``CfnOriginEndpointPolicy`` (or the console)::

        aws_mediapackagev2.CfnOriginEndpointPolicy(
            self, "EndpointPolicy", channel_group_name=..., channel_name=..., origin_endpoint_name=...,
            policy=iam.PolicyDocument(statements=[harvester_origin_endpoint_policy_statement(...)]).to_json(),
        )
    """
    account = account or Aws.ACCOUNT_ID
    return iam.PolicyStatement(
        sid="AllowMediaPackageHarvester",
        principals=[iam.ServicePrincipal(V2.principal)],
        actions=list(ENDPOINT_HARVEST_ACTIONS),
        resources=[
            origin_endpoint_arn(
                channel_group_name,
                channel_name,
                origin_endpoint_name,
                partition=partition,
                region=region,
                account=account,
            )
        ],
        conditions={"StringEquals": {"AWS:SourceAccount": account}},
    )


def harvester_bucket_policy_statement(
    bucket_arn: str,
    destination_path: str,
    channel_group_name: str,
    channel_name: str,
    origin_endpoint_name: str,
    *,
    account: str | None = None,
    partition: str | None = None,
    region: str | None = None,
) -> iam.PolicyStatement:
    """The bucket-policy statement letting MediaPackage write one endpoint's harvests under ``destination_path``.

    ``HarvestJob`` adds it to buckets the app owns; add it yourself to an imported bucket's policy.
    """
    account = account or Aws.ACCOUNT_ID
    endpoint = origin_endpoint_arn(
        channel_group_name, channel_name, origin_endpoint_name, partition=partition, region=region, account=account
    )
    return iam.PolicyStatement(
        principals=[iam.ServicePrincipal(V2.principal)],
        actions=list(BUCKET_WRITE_ACTIONS),
        resources=[destination_objects_arn(bucket_arn, destination_path)],
        conditions={
            "StringEquals": {"aws:SourceAccount": account},
            "ArnLike": {"aws:SourceArn": [endpoint, f"{endpoint}/*"]},
        },
    )


def destination_objects_arn(bucket_arn: str, destination_path: str) -> str:
    """The objects a harvest writes under ``destination_path`` (the bucket policy statement's resource)."""
    prefix = destination_path.rstrip("/")
    return f"{bucket_arn}/{prefix}/*" if prefix else f"{bucket_arn}/*"
