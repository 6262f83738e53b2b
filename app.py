#!/usr/bin/env python3
"""Example app: a live origin endpoint, one MediaPackage v2 harvest job from it into a new, private bucket, and a
small highlight reel (a ``ClipSet`` of three clips of the same window).

The stack declares its channel group, channel and HLS origin endpoint (a one-day startover window, manifest
``index``) and passes the endpoint as ``origin_endpoint=``: the harvester statement goes into the endpoint's
policy, and the job's manifest and window are checked against the endpoint at synth. Synthesizes without AWS
credentials. Names and window come from context, e.g. ``npx cdk deploy -c channelGroup=live -c channel=main
-c originEndpoint=hls -c manifestName=index -c startTime=2026-11-20T18:00:00Z -c endTime=2026-11-20T18:30:00Z``.

Without ``startTime``/``endTime`` the window is the most recent whole half hour that ended at least 10 minutes
before synth (synthesized at 14:05 UTC: 13:00-13:30), so the example synthesizes and rehearses on any day, and
gives the same template for as long as that stays the most recent one.

MediaPackage harvests what the endpoint received during the window: a channel created by this deploy has nothing
yet. In AWS, deploy with ``-c harvest=false`` first (the channel, the endpoint, the bucket), send the live stream
to the channel, then deploy again without it to harvest a window the endpoint has.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aws_cdk import Acknowledgment, App, CfnOutput, RemovalPolicy, Stack, Validations
from aws_cdk import aws_mediapackagev2 as mediapackagev2
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mediapackage_harvest import Clip, ClipSet, HarvestJob
from mediapackage_harvest.contract.spec import parse_timestamp

# Also in cdk.json; here so that `python app.py` alone synthesizes the same template.
DEFAULTS = {
    "channelGroup": "example-channel-group",
    "channel": "example-channel",
    "originEndpoint": "example-hls-endpoint",
    "manifestName": "index",
    "destinationPath": "harvests/example",
}
STARTOVER_WINDOW_SECONDS = 86400  # one day: room between synthesizing and deploying (MediaPackage allows 14 days)
# The highlight reel: clip name, start and end in minutes into the job's window.
HIGHLIGHTS = (("kick-off", 0, 2), ("goal", 12, 14), ("final-whistle", 28, 30))


def default_window(now: datetime) -> tuple[datetime, datetime]:
    """The most recent whole half hour that ended at least 10 minutes before ``now``."""
    latest = now.astimezone(UTC) - timedelta(minutes=10)
    end = latest.replace(minute=latest.minute // 30 * 30, second=0, microsecond=0)
    return end - timedelta(minutes=30), end


class MediaPackageHarvestExample(Stack):
    """A channel with an HLS origin endpoint, a private, encrypted bucket and one harvest job into it."""

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id, description="cdk-mediapackage-harvest example: one harvest job to S3")

        def context(key: str, default: str = "") -> str:
            return str(self.node.try_get_context(key) or DEFAULTS.get(key, default))

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
        channel_group = mediapackagev2.CfnChannelGroup(self, "ChannelGroup", channel_group_name=context("channelGroup"))
        channel = mediapackagev2.CfnChannel(
            self,
            "Channel",
            channel_group_name=channel_group.channel_group_name,
            channel_name=context("channel"),
            input_type="HLS",
        )
        channel.node.add_dependency(channel_group)
        endpoint = mediapackagev2.CfnOriginEndpoint(
            self,
            "OriginEndpoint",
            channel_group_name=channel.channel_group_name,
            channel_name=channel.channel_name,
            origin_endpoint_name=context("originEndpoint"),
            container_type="TS",
            hls_manifests=[
                mediapackagev2.CfnOriginEndpoint.HlsManifestConfigurationProperty(manifest_name=context("manifestName"))
            ],
            startover_window_seconds=STARTOVER_WINDOW_SECONDS,
        )
        endpoint.node.add_dependency(channel)
        CfnOutput(self, "HarvestBucketName", value=bucket.bucket_name)
        if context("harvest", "true").lower() == "false":  # the endpoint first: it needs a stream to harvest
            return
        start, end = default_window(datetime.now(UTC))
        start_time = parse_timestamp(context("startTime", start.isoformat()))
        job = HarvestJob(
            self,
            "Clip",
            origin_endpoint=endpoint,
            hls_manifests=[context("manifestName")],
            start_time=start_time,
            end_time=parse_timestamp(context("endTime", end.isoformat())),
            destination_bucket=bucket,
            destination_path=context("destinationPath"),
            description="Example harvest from cdk-mediapackage-harvest",
        )
        CfnOutput(self, "HarvestJobArn", value=job.harvest_job_arn)
        CfnOutput(self, "HarvestJobETag", value=job.etag)
        # Each clip a job named after it, at most 10 at once (the channel group's quota); output HighlightsClips.
        ClipSet(
            self,
            "Highlights",
            clips=[
                Clip(name, start_time + timedelta(minutes=begin), start_time + timedelta(minutes=finish))
                for name, begin, finish in HIGHLIGHTS
            ],
            origin_endpoint=endpoint,
            hls_manifests=[context("manifestName")],
            destination_bucket=bucket,
            destination_path=f"{context('destinationPath')}/highlights",
        )


app = App()
MediaPackageHarvestExample(app, "MediaPackageHarvestExample")
if str(app.node.try_get_context("nag")).lower() == "true":  # `npx cdk synth -c nag=true`
    from cdk_nag import AwsSolutionsChecks  # a development tool: only imported when asked for

    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
app.synth()
