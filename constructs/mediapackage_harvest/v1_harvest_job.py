"""``MediaPackageV1HarvestJob``: a MediaPackage v1 harvest job (a live-to-VOD clip written to S3) in a stack."""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from typing import Any

from aws_cdk import Acknowledgment, Annotations, ArnFormat, CustomResource, Duration, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mediapackage_harvest.contract import spec
from mediapackage_harvest.contract.services import V1
from mediapackage_harvest.errors import InvalidV1HarvestJob
from mediapackage_harvest.props import DEFAULT_TIMEOUT, Rendering, is_unresolved, raise_if_invalid
from mediapackage_harvest.provider import HarvestJobProvider, nag_arn
from mediapackage_harvest.synth_clock import warn_v1


class MediaPackageV1HarvestJob(Construct):
    """A MediaPackage v1 harvest job: MediaPackage copies a past window of a live origin endpoint to S3.

    Deploying creates the job and, by default, waits until MediaPackage reports SUCCEEDED
    (``wait_for_completion``) so that the files exist when the stack is complete; a FAILED job, or one still
    running after ``timeout``, fails the deploy. v1 harvest jobs can be neither cancelled nor deleted: deleting
    the resource (or replacing it, which any change but ``wait_for_completion`` / ``timeout`` does) leaves the job
    record in MediaPackage, which keeps it for 90 days, and the harvested files in the bucket.

    MediaPackage v1 writes to S3 with an IAM role it assumes. Without ``role``, one is created: trusted by
    ``mediapackage.amazonaws.com`` for this account's harvest jobs only, allowed ``s3:PutObject`` under the
    manifest key's folder, ``s3:ListBucket`` of that folder and ``s3:GetBucketLocation``.

    :param origin_endpoint_id: the v1 origin endpoint to harvest (startover must be enabled and its window must
        cover the times).
    :param start_time: start of the window to harvest; timezone-aware.
    :param end_time: end of the window; after ``start_time``, at most 24 hours later, in the past; timezone-aware.
    :param destination_bucket: the bucket to write to, as a bucket construct or a bucket name (same Region).
    :param manifest_key: the object key of the top-level manifest, e.g. ``clips/2026-11-20/index.m3u8``;
        MediaPackage writes the rest of the asset beside it.
    :param role: the role MediaPackage writes with; when absent one is created (see above).
    :param harvest_job_id: the job's ID, unique in the account and Region for the 90 days MediaPackage keeps
        a job; when absent the handler derives a unique, deterministic one (``<logical id, 48 chars at most>-
        <12 hex characters>``), which a replacement can never collide with.
    :param wait_for_completion: finish the deploy only when the job has succeeded (default); otherwise as soon
        as MediaPackage has accepted it.
    :param timeout: how long CloudFormation waits for the resource, 1 minute to 1 hour (default 1 hour).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        origin_endpoint_id: str,
        start_time: datetime,
        end_time: datetime,
        destination_bucket: s3.IBucket | str,
        manifest_key: str,
        role: iam.IRole | None = None,
        harvest_job_id: str | None = None,
        wait_for_completion: bool = True,
        timeout: Duration = DEFAULT_TIMEOUT,
    ) -> None:
        # Validated before the construct joins the tree: invalid props leave nothing behind to synthesize.
        properties, violations = render_v1_properties(
            origin_endpoint_id=origin_endpoint_id,
            start_time=start_time,
            end_time=end_time,
            destination_bucket=destination_bucket,
            manifest_key=manifest_key,
            role=role,
            harvest_job_id=harvest_job_id,
            wait_for_completion=wait_for_completion,
            timeout=timeout,
        )
        raise_if_invalid(InvalidV1HarvestJob, scope, id, properties, violations, spec.validate_v1)

        super().__init__(scope, id)
        stack = Stack.of(self)
        bucket_name = destination_bucket if isinstance(destination_bucket, str) else destination_bucket.bucket_name
        bucket_arn = (
            f"arn:{stack.partition}:s3:::{destination_bucket}"
            if isinstance(destination_bucket, str)
            else destination_bucket.bucket_arn
        )
        if role is None:
            role = self._writer_role(stack, bucket_arn, manifest_key)
        self.role: iam.IRole = role
        """The role MediaPackage writes the harvest with."""
        properties[spec.V1_DESTINATION] = {
            "BucketName": bucket_name,
            "ManifestKey": manifest_key,
            "RoleArn": role.role_arn,
        }

        provider = HarvestJobProvider.of(scope)
        provider.grant_v1_job(role)
        provider.grant_v1_endpoint(origin_endpoint_id)
        self.resource = CustomResource(
            self,
            "Resource",
            resource_type=spec.V1_RESOURCE_TYPE,
            service_token=provider.service_token,
            service_timeout=timeout,
            properties=properties,
        )
        self.resource.node.add_dependency(provider.permission)
        warn_v1(self, end_time=end_time)
        # MediaPackage writes as soon as the job runs: wait for the role's policy too (the role itself is ordered
        # by the RoleArn GetAtt; depending on it as well is what cfn-lint's W3005 flags).
        policy = role.node.try_find_child("DefaultPolicy")
        if policy is not None:
            self.resource.node.add_dependency(policy)

        if not isinstance(destination_bucket, str) and destination_bucket.encryption_key is not None:
            Annotations.of(self).add_warning_v2(
                "mediapackage-harvest:v1BucketKey",
                "The destination bucket is encrypted with a KMS key: the role MediaPackage writes with needs "
                "kms:GenerateDataKey on it (and the key policy must allow that), or MediaPackage cannot write.",
            )

    # The attributes are read from the custom resource when first used: most jobs' are never read.
    @cached_property
    def harvest_job_arn(self) -> str:
        """The job's ARN (also the resource's physical id)."""
        return self.resource.get_att_string("Arn")

    @cached_property
    def harvest_job_id(self) -> str:
        """The job's ID (the one given, or the one the handler derived)."""
        return self.resource.get_att_string("Id")

    @cached_property
    def status(self) -> str:
        """SUCCEEDED when waiting for completion; IN_PROGRESS possible otherwise."""
        return self.resource.get_att_string("Status")

    @cached_property
    def channel_id(self) -> str:
        """The ID of the channel the origin endpoint belongs to."""
        return self.resource.get_att_string("ChannelId")

    @cached_property
    def created_at(self) -> str:
        """When MediaPackage created the job."""
        return self.resource.get_att_string("CreatedAt")

    def _writer_role(self, stack: Stack, bucket_arn: str, manifest_key: str) -> iam.Role:
        """A role only MediaPackage may assume, for this account's harvest jobs, writing under the key's folder.

        The trust conditions follow MediaPackage's confused-deputy guidance for harvest jobs: the account, and
        a source ARN among its harvest jobs (``harvest_jobs/*``, as an Id may only be known at deploy time).
        """
        jobs = stack.format_arn(
            service="mediapackage", resource="harvest_jobs", resource_name="*", arn_format=ArnFormat.SLASH_RESOURCE_NAME
        )
        folder = manifest_folder(manifest_key)
        role = iam.Role(
            self,
            "WriterRole",
            description="cdk-mediapackage-harvest: MediaPackage v1 writes a harvest job's files to S3",
            assumed_by=iam.ServicePrincipal(V1.principal).with_conditions(
                {"StringEquals": {"aws:SourceAccount": stack.account}, "ArnLike": {"aws:SourceArn": jobs}}
            ),
        )
        objects = f"{bucket_arn}/{folder}/*" if folder else f"{bucket_arn}/*"
        role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[objects]))
        role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:GetBucketLocation"], resources=[bucket_arn]))
        listing: dict[str, Any] = {"StringLike": {"s3:prefix": [folder, f"{folder}/*"]}} if folder else {}
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket_arn], conditions=listing or None)
        )
        Validations.of(role.node.try_find_child("DefaultPolicy") or role).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::{nag_arn(objects, stack)}]",
                reason="MediaPackage names the files of a harvested asset itself (child manifests, segments) and "
                "writes them beside the manifest: s3:PutObject is granted on the manifest key's folder only.",
            )
        )
        if not folder:
            Annotations.of(self).add_warning_v2(
                "mediapackage-harvest:v1WholeBucket",
                "manifest_key has no folder (or is a token), so the role MediaPackage writes with may write "
                "anywhere in the bucket: put the manifest under a folder, e.g. 'clips/game/index.m3u8'.",
            )
        return role


def manifest_folder(manifest_key: str) -> str:
    """The folder the manifest (and the asset beside it) goes to; empty for a key at the top or a token."""
    if is_unresolved(manifest_key) or "/" not in manifest_key:
        return ""
    return manifest_key.rsplit("/", 1)[0]


def render_v1_properties(
    *,
    origin_endpoint_id: object,
    start_time: object,
    end_time: object,
    destination_bucket: object,
    manifest_key: object,
    role: object,
    harvest_job_id: object,
    wait_for_completion: object,
    timeout: object,
) -> tuple[dict[str, Any], list[spec.Violation]]:
    """The v1 custom resource's properties and the violations only Python types can show.

    Arguments are typed ``object`` on purpose: this is where values a type checker did not see get checked.
    The role's ARN stands in as given (or absent) here; the construct fills in the one it uses.
    """
    rendering = Rendering()
    properties: dict[str, Any] = {}
    if harvest_job_id is not None:
        properties[spec.V1_JOB_ID] = harvest_job_id
    properties[spec.V1_ORIGIN_ENDPOINT] = origin_endpoint_id
    properties[spec.V1_START] = rendering.timestamp(spec.V1_START, start_time)
    properties[spec.V1_END] = rendering.timestamp(spec.V1_END, end_time)
    bucket_name = rendering.bucket_name(f"{spec.V1_DESTINATION}.BucketName", destination_bucket)
    role_arn: object = "arn:aws:iam::000000000000:role/to-be-created"  # stands in for the role made later
    if role is not None:
        role_arn = getattr(role, "role_arn", None)
        if role_arn is None:
            rendering.fail(f"{spec.V1_DESTINATION}.RoleArn", f"must be an iam.IRole, got {type(role).__name__}")
    properties[spec.V1_DESTINATION] = {"BucketName": bucket_name, "ManifestKey": manifest_key, "RoleArn": role_arn}
    properties[spec.WAIT_FOR_COMPLETION] = rendering.wait_for_completion(wait_for_completion)
    properties[spec.TIMEOUT] = rendering.timeout(timeout)
    return properties, rendering.violations
