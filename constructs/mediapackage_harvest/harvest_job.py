"""``HarvestJob``: a MediaPackage v2 harvest job (a live-to-VOD clip written to S3) declared in a stack."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from aws_cdk import Annotations, CustomResource, Duration
from aws_cdk import aws_mediapackagev2 as mediapackagev2
from aws_cdk import aws_s3 as s3
from constructs import Construct, IDependable

from mediapackage_harvest import long_wait
from mediapackage_harvest.contract import spec
from mediapackage_harvest.errors import InvalidHarvestJob
from mediapackage_harvest.origin_endpoint import Endpoint, resolve_endpoint
from mediapackage_harvest.props import DEFAULT_TIMEOUT, Rendering, combine, is_unresolved, per_object
from mediapackage_harvest.provider import HarvestJobProvider
from mediapackage_harvest.synth_clock import synth_time, warn_v2

if TYPE_CHECKING:  # the alpha L2 module is an optional extra (`cdk-mediapackage-harvest[alpha]`)
    from aws_cdk.aws_mediapackagev2_alpha import IOriginEndpoint


class HarvestJob(Construct):
    """A MediaPackage v2 harvest job: MediaPackage copies a past window of a live origin endpoint to S3.

    Deploying creates the job and, by default, waits until MediaPackage has finished it (``wait_for_completion``)
    so that the files exist when the stack is complete; past ``timeout`` the job is cancelled and the deploy fails.
    Deleting the resource cancels a job that is still running; harvested files stay in the bucket.
    Changing only ``tags``, ``wait_for_completion`` or ``timeout`` updates in place; any other change harvests
    again as a new job (replacement).

    The origin endpoint must allow MediaPackage to harvest it: given as ``origin_endpoint``, its one policy gets
    the statement here; named, add :func:`~mediapackage_harvest.harvester_origin_endpoint_policy_statement` to
    its policy yourself. When ``destination_bucket`` is a bucket of this app, the bucket policy statement
    MediaPackage needs is added here.

    :param origin_endpoint: the origin endpoint to harvest, a ``CfnOriginEndpoint`` or the alpha L2
        ``IOriginEndpoint``; replaces the three names below. Its manifests and startover window are checked at
        synth (see origin_endpoint.py).
    :param channel_group_name: the origin endpoint's channel group.
    :param channel_name: the origin endpoint's channel.
    :param origin_endpoint_name: the origin endpoint to harvest (its startover window must cover the times).
    :param start_time: start of the window to harvest; timezone-aware.
    :param end_time: end of the window; after ``start_time``, at most 24 hours later; timezone-aware.
    :param destination_bucket: the bucket to write to, as a bucket construct or a bucket name.
    :param destination_path: the key prefix to write under.
    :param hls_manifests: names of the endpoint's HLS manifests to harvest.
    :param dash_manifests: names of the endpoint's DASH manifests to harvest.
    :param low_latency_hls_manifests: names of the endpoint's Low-Latency HLS manifests to harvest.
        Name at least one manifest across the three.
    :param description: the job's description.
    :param harvest_job_name: the job's name; when absent the handler derives a unique, deterministic one
        from the request (``<logical id, 48 chars at most>-<12 hex characters>``), which replacement can never
        collide with. A fixed name cannot be replaced by a new job of the same name while the old one exists.
    :param tags: tags for the harvest job.
    :param wait_for_completion: finish the deploy only when the job has completed (default); otherwise as soon
        as MediaPackage has accepted it.
    :param timeout: how long the deploy waits for the job, 1 minute to 12 hours (default 1 hour). Up to one hour
        the job's custom resource waits; past one hour (with ``wait_for_completion``) the job's resource is
        answered once the job exists and an ``AWS::CloudFormation::WaitCondition`` waits for the handler's signal
        (the long-wait mode; a replacement or a new timeout waits again on a new condition).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        origin_endpoint: mediapackagev2.CfnOriginEndpoint | IOriginEndpoint | None = None,
        channel_group_name: str | None = None,
        channel_name: str | None = None,
        origin_endpoint_name: str | None = None,
        start_time: datetime,
        end_time: datetime,
        destination_bucket: s3.IBucket | str,
        destination_path: str,
        hls_manifests: Sequence[str] | None = None,
        dash_manifests: Sequence[str] | None = None,
        low_latency_hls_manifests: Sequence[str] | None = None,
        description: str | None = None,
        harvest_job_name: str | None = None,
        tags: Mapping[str, str] | None = None,
        wait_for_completion: bool = True,
        timeout: Duration = DEFAULT_TIMEOUT,
    ) -> None:
        # Validated before the construct joins the tree: invalid props leave nothing behind to synthesize.
        endpoint, endpoint_violations = resolve_endpoint(
            origin_endpoint, (channel_group_name, channel_name, origin_endpoint_name)
        )
        if endpoint is not None:
            channel_group_name, channel_name, origin_endpoint_name = endpoint.names
        properties, violations = self._plan(
            endpoint=endpoint,
            endpoint_violations=endpoint_violations,
            channel_group_name=channel_group_name,
            channel_name=channel_name,
            origin_endpoint_name=origin_endpoint_name,
            start_time=start_time,
            end_time=end_time,
            destination_bucket=destination_bucket,
            destination_path=destination_path,
            manifests=(hls_manifests, dash_manifests, low_latency_hls_manifests),
            description=description,
            harvest_job_name=harvest_job_name,
            tags=tags,
            wait_for_completion=wait_for_completion,
            timeout=timeout,
        )
        if violations:
            raise InvalidHarvestJob(f"{scope.node.path}/{id}".lstrip("/"), violations)
        assert channel_group_name is not None and channel_name is not None and origin_endpoint_name is not None

        super().__init__(scope, id)
        provider = HarvestJobProvider.of(scope)
        provider.grant_endpoint(channel_group_name, channel_name, origin_endpoint_name)

        properties.update(self._lifecycle_properties())
        long = long_wait.is_long(properties)
        if long:  # past CloudFormation's hour for a custom resource: a wait condition waits (long_wait.py)
            handle = long_wait.declare_handle(self, properties)
            properties[spec.SIGNAL_URL] = handle.ref
        self.resource = CustomResource(
            self,
            "Resource",
            resource_type=spec.RESOURCE_TYPE,
            service_token=provider.service_token,
            service_timeout=timeout if _within_an_hour(properties) else Duration.hours(1),
            properties=properties,
        )
        self._attributes_of = self.resource
        """The resource whose Fn::GetAtt are the job's attributes: in long-wait mode, the result read at the end."""
        self._starting: tuple[Construct, ...] = (self.resource,)
        """What CloudFormation creates as the job starts, so all of it waits for the same resources: the job's
        resource and, in long-wait mode, its handle (the handle's URL expires a fixed time after its creation)."""
        if long:
            self._attributes_of = long_wait.declare_wait(
                self, self.resource, handle, properties, provider.service_token
            )
            self._starting = (handle, self.resource)
        waits_for: list[IDependable] = [provider.permission, *self._starts_after()]
        if endpoint is not None:
            endpoint.grant_harvester(self, *self._starting)
            endpoint.warn_created_by_the_deploy(self, start_time)
        warn_v2(
            self, start_time=start_time, end_time=end_time, timeout=timeout, wait_for_completion=wait_for_completion
        )
        if not isinstance(destination_bucket, str):
            policy = provider.allow_harvester_writes(
                destination_bucket, destination_path, channel_group_name, channel_name, origin_endpoint_name
            )
            if policy is not None:
                waits_for.append(policy)  # MediaPackage writes as soon as the job runs
            else:
                Annotations.of(self).add_warning_v2(
                    "mediapackage-harvest:bucketPolicy",
                    "The destination bucket is imported, so its policy cannot be changed here: add "
                    "harvester_bucket_policy_statement(...) to it yourself, or MediaPackage cannot write the harvest.",
                )
            if _encrypted(destination_bucket):
                Annotations.of(self).add_warning_v2(
                    "mediapackage-harvest:bucketKey",
                    "The destination bucket is encrypted with a KMS key: its key policy must let mediapackagev2."
                    "amazonaws.com use it (kms:GenerateDataKey, kms:Decrypt), or MediaPackage cannot write.",
                )
        for starting in self._starting:
            starting.node.add_dependency(*waits_for)

    def _plan(self, **props: Any) -> tuple[dict[str, Any], list[spec.Violation]]:
        """:func:`plan_properties` (a ClipSet's clip was planned, and checked, with its set)."""
        return plan_properties(**props)

    def _lifecycle_properties(self) -> dict[str, str]:
        """Lifecycle properties besides the props' (none here; a ClipSet's clip asks to be retried as soon as a
        slot of its channel group frees)."""
        return {}

    def _starts_after(self) -> list[IDependable]:
        """What the job's resource and handle wait for besides the provider, the endpoint and the bucket (none here;
        a ClipSet's clip waits for the one before it in its lane)."""
        return []

    @property
    def _completion(self) -> IDependable:
        """What has answered once the job has completed: the job's resource, or in long-wait mode its result."""
        return self._attributes_of

    # The attributes are read from the custom resource when first used: most jobs' are never read.
    @cached_property
    def harvest_job_arn(self) -> str:
        """The job's ARN (also the resource's physical id)."""
        return self._attributes_of.get_att_string("Arn")

    @cached_property
    def etag(self) -> str:
        """The job's ETag."""
        return self._attributes_of.get_att_string("ETag")

    @cached_property
    def status(self) -> str:
        """COMPLETED when waiting for completion; QUEUED or IN_PROGRESS possible otherwise."""
        return self._attributes_of.get_att_string("Status")

    @cached_property
    def harvest_job_name(self) -> str:
        """The job's name (the one given, or the one the handler derived)."""
        return self._attributes_of.get_att_string("HarvestJobName")

    @cached_property
    def created_at(self) -> str:
        """When MediaPackage created the job."""
        return self._attributes_of.get_att_string("CreatedAt")

    @cached_property
    def modified_at(self) -> str:
        """When MediaPackage last modified the job."""
        return self._attributes_of.get_att_string("ModifiedAt")


def _within_an_hour(properties: Mapping[str, Any]) -> bool:
    """Whether CloudFormation can wait the whole timeout for the custom resource (its ServiceTimeout)."""
    return int(properties[spec.TIMEOUT]) <= spec.SERVICE_TIMEOUT_MAX_SECONDS


@per_object
def _encrypted(bucket: s3.IBucket) -> bool:
    return bucket.encryption_key is not None


def plan_properties(
    *,
    endpoint: Endpoint | None,
    endpoint_violations: Sequence[spec.Violation],
    **props: Any,
) -> tuple[dict[str, Any], list[spec.Violation]]:
    """A job's custom resource properties and every rule its props break (what ``InvalidHarvestJob`` lists):
    rendering, the origin endpoint's checks, then the contract's rules (tokens skipped). ``props`` are
    :func:`render_properties`'s; shared by ``HarvestJob`` and the clips of a ``ClipSet``."""
    properties, violations = render_properties(**props)
    violations += [*endpoint_violations, *(endpoint.check(properties, synth_time()) if endpoint else [])]
    # origin_endpoint given wrongly: its problem is reported, not three missing names.
    named_by_endpoint = {spec.CHANNEL_GROUP, spec.CHANNEL, spec.ORIGIN_ENDPOINT} if endpoint_violations else set()
    validated = [v for v in spec.validate(properties, is_unresolved) if v.field not in named_by_endpoint]
    return properties, combine(violations, validated)


def render_properties(
    *,
    channel_group_name: object,
    channel_name: object,
    origin_endpoint_name: object,
    start_time: object,
    end_time: object,
    destination_bucket: object,
    destination_path: object,
    manifests: tuple[object, object, object],
    description: object,
    harvest_job_name: object,
    tags: object,
    wait_for_completion: object,
    timeout: object,
) -> tuple[dict[str, Any], list[spec.Violation]]:
    """The custom resource's properties (docs/design.md) and the violations only Python types can show.

    Arguments are typed ``object`` on purpose: this is where values a type checker did not see get checked.
    """
    rendering = Rendering()
    properties: dict[str, Any] = {
        spec.CHANNEL_GROUP: channel_group_name,
        spec.CHANNEL: channel_name,
        spec.ORIGIN_ENDPOINT: origin_endpoint_name,
    }
    if harvest_job_name is not None:
        properties[spec.JOB_NAME] = harvest_job_name

    harvested: dict[str, list[dict[str, object]]] = {}
    for kind, names in zip(spec.MANIFEST_KINDS, manifests, strict=True):
        if isinstance(names, str) or (names is not None and not isinstance(names, Sequence)):
            rendering.fail(f"{spec.MANIFESTS}.{kind}", f"must be a list of manifest names, got {names!r}")
        elif names:
            harvested[kind] = [{"ManifestName": name} for name in names]
    properties[spec.MANIFESTS] = harvested
    properties[spec.SCHEDULE] = {
        "StartTime": rendering.timestamp(f"{spec.SCHEDULE}.StartTime", start_time),
        "EndTime": rendering.timestamp(f"{spec.SCHEDULE}.EndTime", end_time),
    }
    bucket_name = rendering.bucket_name(f"{spec.DESTINATION}.S3Destination.BucketName", destination_bucket)
    properties[spec.DESTINATION] = {"S3Destination": {"BucketName": bucket_name, "DestinationPath": destination_path}}
    if description is not None:
        properties[spec.DESCRIPTION] = description
    if tags:
        properties[spec.TAGS] = dict(tags) if isinstance(tags, Mapping) else tags
    properties[spec.WAIT_FOR_COMPLETION] = rendering.wait_for_completion(wait_for_completion)
    properties[spec.TIMEOUT] = rendering.timeout(timeout)
    return properties, rendering.violations
