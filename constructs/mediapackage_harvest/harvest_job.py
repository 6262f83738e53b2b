"""``HarvestJob``: a MediaPackage v2 harvest job (a live-to-VOD clip written to S3) declared in a stack."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from aws_cdk import Annotations, CustomResource, Duration, Stack, Token
from aws_cdk import aws_mediapackagev2 as mediapackagev2
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mediapackage_harvest import spec
from mediapackage_harvest.origin_endpoint import BOTH_FIELD, ENDPOINT_FIELD, resolve_endpoint
from mediapackage_harvest.policies import harvester_bucket_policy_statement
from mediapackage_harvest.provider import HarvestJobProvider
from mediapackage_harvest.synth_clock import synth_time, warn_v2

if TYPE_CHECKING:  # the alpha L2 module is an optional extra (`cdk-mediapackage-harvest[alpha]`)
    from aws_cdk.aws_mediapackagev2_alpha import IOriginEndpoint

DEFAULT_TIMEOUT = Duration.hours(1)

# Custom resource property paths (spec's field names) -> the Python prop a user wrote; most specific first.
PropsByField = tuple[tuple[str, str], ...]
_PROPS_BY_FIELD: PropsByField = (
    (f"{spec.CHANNEL_GROUP}+", "channel_group_name + channel_name + origin_endpoint_name + harvest_job_name"),
    (spec.CHANNEL_GROUP, "channel_group_name"),
    (spec.CHANNEL, "channel_name"),
    (spec.ORIGIN_ENDPOINT, "origin_endpoint_name"),
    (spec.JOB_NAME, "harvest_job_name"),
    (f"{spec.MANIFESTS}.HlsManifests", "hls_manifests"),
    (f"{spec.MANIFESTS}.DashManifests", "dash_manifests"),
    (f"{spec.MANIFESTS}.LowLatencyHlsManifests", "low_latency_hls_manifests"),
    (spec.MANIFESTS, "hls_manifests / dash_manifests / low_latency_hls_manifests"),
    (f"{spec.SCHEDULE}.StartTime", "start_time"),
    (f"{spec.SCHEDULE}.EndTime", "end_time"),
    (spec.SCHEDULE, "start_time / end_time"),
    (f"{spec.DESTINATION}.S3Destination.BucketName", "destination_bucket"),
    (f"{spec.DESTINATION}.S3Destination.DestinationPath", "destination_path"),
    (spec.DESTINATION, "destination_bucket / destination_path"),
    (spec.DESCRIPTION, "description"),
    (spec.TAGS, "tags"),
    (spec.WAIT_FOR_COMPLETION, "wait_for_completion"),
    (spec.TIMEOUT, "timeout"),
    (BOTH_FIELD, "origin_endpoint + channel_group_name / channel_name / origin_endpoint_name"),
    (ENDPOINT_FIELD, "origin_endpoint"),
)


class InvalidHarvestJob(spec.InvalidProperties):
    """A ``HarvestJob`` declared with invalid props; the message names each Python prop and the rule it breaks.

    A subclass serves another construct by naming it and giving its own property-path-to-prop table.
    """

    construct: ClassVar[str] = "HarvestJob"
    props_by_field: ClassVar[PropsByField] = _PROPS_BY_FIELD

    def __init__(self, path: str, violations: Sequence[spec.Violation]) -> None:
        super().__init__(violations)
        self.path = path
        details = "; ".join(f"{python_prop(v.field, self.props_by_field)} ({v.field}) {v.rule}" for v in violations)
        self.args = (f"{self.construct} '{path}': {details}",)


def python_prop(field: str, props_by_field: PropsByField = _PROPS_BY_FIELD) -> str:
    """The Python prop behind a custom resource property path, e.g. ``hls_manifests[0]``."""
    for prefix, prop in props_by_field:
        if field.startswith(prefix):
            rest = field[len(prefix) :].removesuffix(".ManifestName")
            return prop + rest if rest.startswith("[") else prop  # keep an index or a tag key
    return field


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
    :param timeout: how long CloudFormation waits for the resource, 1 minute to 1 hour (default 1 hour).
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
        properties, violations = render_properties(
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
        seen = {v.field for v in violations}  # a construct check replaces the spec's rule for the same field
        if endpoint_violations:  # origin_endpoint was given: its problem, not three missing names
            seen |= {spec.CHANNEL_GROUP, spec.CHANNEL, spec.ORIGIN_ENDPOINT}
        violations += [v for v in spec.validate(properties, Token.is_unresolved) if v.field not in seen]
        violations += endpoint_violations + (endpoint.check(properties, synth_time()) if endpoint else [])
        if violations:
            raise InvalidHarvestJob(f"{scope.node.path}/{id}".lstrip("/"), violations)
        assert channel_group_name is not None and channel_name is not None and origin_endpoint_name is not None

        super().__init__(scope, id)
        stack = Stack.of(self)
        provider = HarvestJobProvider.of(self)
        provider.grant_endpoint(channel_group_name, channel_name, origin_endpoint_name)

        self.resource = CustomResource(
            self,
            "Resource",
            resource_type=spec.RESOURCE_TYPE,
            service_token=provider.function.function_arn,
            service_timeout=timeout,
            properties=properties,
        )
        self.resource.node.add_dependency(provider.permission)
        if endpoint is not None:
            endpoint.grant_harvester(self, self.resource)
        warn_v2(
            self, start_time=start_time, end_time=end_time, timeout=timeout, wait_for_completion=wait_for_completion
        )

        if not isinstance(destination_bucket, str):
            # Jobs that write to one bucket from one endpoint share one statement (one more object ARN each), so
            # the bucket policy stays far below S3's 20 KB limit however many clips a stack declares.
            key = (destination_bucket.node.path, channel_group_name, channel_name, origin_endpoint_name)
            statement = harvester_bucket_policy_statement(
                destination_bucket.bucket_arn,
                destination_path,
                channel_group_name,
                channel_name,
                origin_endpoint_name,
                account=stack.account,
                region=stack.region,
                partition=stack.partition,
            )
            shared = provider.bucket_statements.get(key)
            if shared is not None:
                shared.add_resources(*statement.resources)
                added = True
            else:
                added = destination_bucket.add_to_resource_policy(statement).statement_added
                if added:
                    provider.bucket_statements[key] = statement
            if added and destination_bucket.policy:
                self.resource.node.add_dependency(destination_bucket.policy)  # MediaPackage writes at once
            else:
                Annotations.of(self).add_warning_v2(
                    "mediapackage-harvest:bucketPolicy",
                    "The destination bucket is imported, so its policy cannot be changed here: add "
                    "harvester_bucket_policy_statement(...) to it yourself, or MediaPackage cannot write the harvest.",
                )
            if destination_bucket.encryption_key is not None:
                Annotations.of(self).add_warning_v2(
                    "mediapackage-harvest:bucketKey",
                    "The destination bucket is encrypted with a KMS key: its key policy must let mediapackagev2."
                    "amazonaws.com use it (kms:GenerateDataKey, kms:Decrypt), or MediaPackage cannot write.",
                )

        self.harvest_job_arn: str = self.resource.get_att_string("Arn")
        """The job's ARN (also the resource's physical id)."""
        self.etag: str = self.resource.get_att_string("ETag")
        self.status: str = self.resource.get_att_string("Status")
        """COMPLETED when waiting for completion; QUEUED or IN_PROGRESS possible otherwise."""
        self.harvest_job_name: str = self.resource.get_att_string("HarvestJobName")
        self.created_at: str = self.resource.get_att_string("CreatedAt")
        self.modified_at: str = self.resource.get_att_string("ModifiedAt")


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
    violations: list[spec.Violation] = []
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
            violations.append(
                spec.Violation(f"{spec.MANIFESTS}.{kind}", f"must be a list of manifest names, got {names!r}")
            )
        elif names:
            harvested[kind] = [{"ManifestName": name} for name in names]
    properties[spec.MANIFESTS] = harvested

    schedule: dict[str, object] = {}
    for key, value in (("StartTime", start_time), ("EndTime", end_time)):
        if isinstance(value, datetime) and value.utcoffset() is not None:
            schedule[key] = value.isoformat()
        else:
            # Only strings reach jsii's token check: a date (not a datetime) would crash it instead of being named.
            schedule[key] = value.isoformat() if isinstance(value, datetime) else str(value)
            kind = "naive datetime (no tzinfo)" if isinstance(value, datetime) else type(value).__name__
            violations.append(
                spec.Violation(f"{spec.SCHEDULE}.{key}", f"must be a timezone-aware datetime, got a {kind}")
            )
    properties[spec.SCHEDULE] = schedule

    bucket_name = (
        destination_bucket if isinstance(destination_bucket, str) else getattr(destination_bucket, "bucket_name", None)
    )
    if bucket_name is None:
        violations.append(
            spec.Violation(
                f"{spec.DESTINATION}.S3Destination.BucketName",
                f"must be an s3.IBucket or a bucket name, got {type(destination_bucket).__name__}",
            )
        )
    properties[spec.DESTINATION] = {"S3Destination": {"BucketName": bucket_name, "DestinationPath": destination_path}}

    if description is not None:
        properties[spec.DESCRIPTION] = description
    if tags:
        properties[spec.TAGS] = dict(tags) if isinstance(tags, Mapping) else tags
    properties[spec.WAIT_FOR_COMPLETION] = (
        str(wait_for_completion).lower() if isinstance(wait_for_completion, bool) else wait_for_completion
    )
    properties[spec.TIMEOUT], problem = _timeout_seconds(timeout)
    if problem:
        violations.append(spec.Violation(spec.TIMEOUT, problem))
    return properties, violations


def _timeout_seconds(timeout: object) -> tuple[str | None, str | None]:
    """``timeout`` in whole seconds as CloudFormation sends it (a string), or why it has none."""
    if not isinstance(timeout, Duration):
        return None, f"must be a Duration, got {type(timeout).__name__}"
    if timeout.is_unresolved():
        return None, "must be a concrete Duration, not a token (it is also the custom resource's ServiceTimeout)"
    try:
        return str(int(timeout.to_seconds())), None
    except Exception:  # jsii raises a plain RuntimeError for a fractional number of seconds
        return None, f"must be a whole number of seconds, got {timeout.to_human_string()}"
