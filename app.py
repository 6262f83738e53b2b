#!/usr/bin/env python3
"""Example app: one MediaPackage v2 harvest job writing to a new, private bucket.

Synthesizes without AWS credentials. Name an existing origin endpoint and a window inside its startover window
with context, e.g. ``npx cdk deploy -c channelGroup=live -c channel=main -c originEndpoint=hls
-c manifestName=index -c startTime=2026-11-20T18:00:00Z -c endTime=2026-11-20T18:30:00Z``.
The origin endpoint's policy must allow the harvester (``harvester_origin_endpoint_policy_statement``).
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, CfnOutput, RemovalPolicy, Stack, Validations
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mediapackage_harvest import HarvestJob
from mediapackage_harvest.spec import parse_timestamp

# Also in cdk.json; here so that `python app.py` alone synthesizes the same template. Fixed past times keep the
# template deterministic (never now()).
DEFAULTS = {
    "channelGroup": "example-channel-group",
    "channel": "example-channel",
    "originEndpoint": "example-hls-endpoint",
    "manifestName": "index",
    "startTime": "2026-01-15T10:00:00Z",
    "endTime": "2026-01-15T10:30:00Z",
    "destinationPath": "harvests/example",
}


class MediaPackageHarvestExample(Stack):
    """A private, encrypted bucket and one harvest job into it."""

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id, description="cdk-mediapackage-harvest example: one harvest job to S3")

        def context(key: str) -> str:
            return str(self.node.try_get_context(key) or DEFAULTS[key])

        # Log delivery through a bucket policy (the logging service principal), not the legacy ACL.
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        access_logs = s3.Bucket(
            self,
            "AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,  # the record of who read the media outlives the stack too
        )
        Validations.of(access_logs).acknowledge(
            Acknowledgment(
                id="AwsSolutions-S1",
                reason="This bucket receives the harvest bucket's server access logs; logging its own access would "
                "need yet another bucket, and so on.",
            )
        )
        bucket = s3.Bucket(
            self,
            "HarvestBucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            versioned=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="harvest-bucket/",
            removal_policy=RemovalPolicy.RETAIN,  # harvested media outlives the stack
        )
        job = HarvestJob(
            self,
            "Clip",
            channel_group_name=context("channelGroup"),
            channel_name=context("channel"),
            origin_endpoint_name=context("originEndpoint"),
            hls_manifests=[context("manifestName")],
            start_time=parse_timestamp(context("startTime")),
            end_time=parse_timestamp(context("endTime")),
            destination_bucket=bucket,
            destination_path=context("destinationPath"),
            description="Example harvest from cdk-mediapackage-harvest",
        )
        CfnOutput(self, "HarvestJobArn", value=job.harvest_job_arn)
        CfnOutput(self, "HarvestJobETag", value=job.etag)
        CfnOutput(self, "HarvestBucketName", value=bucket.bucket_name)


app = App()
MediaPackageHarvestExample(app, "MediaPackageHarvestExample")
if str(app.node.try_get_context("nag")).lower() == "true":  # `npx cdk synth -c nag=true`
    from cdk_nag import AwsSolutionsChecks  # a development tool: only imported when asked for

    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
app.synth()
