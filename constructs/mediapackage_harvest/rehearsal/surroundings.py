"""What surrounds the harvest jobs in a rehearsal: origin endpoints, destination buckets, and what is assumed.

A real deploy fails most often outside the job: the endpoint is missing, lacks the manifest or a startover
window, its policy does not let MediaPackage harvest, or the bucket refuses the write. The rehearsal knows:

- the origin endpoints the stack declares (``AWS::MediaPackageV2::OriginEndpoint`` manifests and
  ``StartoverWindowSeconds``, the ``AWS::MediaPackageV2::OriginEndpointPolicy`` document; v1's
  ``AWS::MediaPackage::OriginEndpoint``), with intrinsics resolved as :mod:`.template` does;
- the endpoints the scenario describes (``origin_endpoints``: endpoints outside the stack);
- the buckets the stack declares and their ``AWS::S3::BucketPolicy``.

Anything else a job names is *assumed* (it exists, has the manifests the job names, grants the harvester; an
imported bucket takes the write), and each assumption is said: :attr:`Surroundings.assumptions`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mediapackage_harvest.contract import spec
from mediapackage_harvest.contract.iam_policy import statements
from mediapackage_harvest.contract.services import V2
from mediapackage_harvest.rehearsal.authorization import role_policies
from mediapackage_harvest.rehearsal.scenario import EndpointScript, Scenario
from mediapackage_harvest.rehearsal.template import Template, UnresolvableError, placeholder_bucket_name

HARVESTER = V2.principal
MAX_STARTOVER_SECONDS = 14 * 24 * 3600  # MediaPackage's longest startover window
MANIFEST_KINDS = ("HlsManifests", "DashManifests", "LowLatencyHlsManifests")
V2_ENDPOINT = "AWS::MediaPackageV2::OriginEndpoint"
V2_ENDPOINT_POLICY = "AWS::MediaPackageV2::OriginEndpointPolicy"
V1_ENDPOINT = "AWS::MediaPackage::OriginEndpoint"


@dataclass(frozen=True)
class OriginEndpoint:
    """One origin endpoint as the emulators serve it; ``source`` says where it is known from."""

    key: str  # "<channel group>/<channel>/<endpoint>" (v2) or the endpoint's Id (v1)
    source: str  # "stack <LogicalId>", "scenario" or "assumed"
    exists: bool = True
    startover_window_seconds: int | None = MAX_STARTOVER_SECONDS
    manifests: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # by kind (HlsManifests, ...)
    policy: Mapping[str, Any] | None = None  # the endpoint's policy document; None: it has none
    # Manifests whose filter configuration sets a start, end, clip start or time delay (not harvestable), by name.
    time_filters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # When a deploy the rehearsal plays created it (virtual seconds since the epoch): it holds nothing from before
    # then. None: it existed before anything the rehearsal plays (outside the stack, or an earlier deploy's).
    created: float | None = None

    def arn(self, partition: str, region: str, account: str) -> str:
        group, channel, name = self.key.split("/")
        return (
            f"arn:{partition}:mediapackagev2:{region}:{account}:channelGroup/{group}/channel/{channel}"
            f"/originEndpoint/{name}"
        )


@dataclass(frozen=True)
class WriterRole:
    """A role of the stack that MediaPackage v1 assumes to write a harvest: its trust policy and its policies."""

    trust: Mapping[str, Any]
    policies: tuple[Mapping[str, Any], ...]


@dataclass
class Surroundings:
    """The endpoints, buckets and roles a rehearsal knows, and the assumptions it makes about the rest."""

    endpoints: dict[str, OriginEndpoint] = field(default_factory=dict)
    buckets: dict[str, Mapping[str, Any] | None] = field(default_factory=dict)  # stack's buckets: their policy
    roles: dict[str, WriterRole] = field(default_factory=dict)  # the stack's roles, by ARN
    assumptions: list[str] = field(default_factory=list)

    def endpoint(self, key: str) -> OriginEndpoint:
        """The endpoint under ``key``; one nobody described is assumed (exists, grants the harvester)."""
        return self.endpoints.get(key) or OriginEndpoint(key, "assumed", policy=harvester_policy(key))

    def bucket_policy(self, bucket: str) -> tuple[bool, Mapping[str, Any] | None]:
        """Whether ``bucket`` is one of the stack's, and its policy (None: it has none)."""
        return bucket in self.buckets, self.buckets.get(bucket)

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> Surroundings:
        """The endpoints the scenario describes (no stack)."""
        found = cls()
        for key, script in scenario.origin_endpoints.items():
            found.endpoints[key] = _scripted(key, script)
        return found

    @classmethod
    def from_template(
        cls, template: Template, scenario: Scenario, created: Mapping[str, float | None] | None = None
    ) -> Surroundings:
        """The stack's endpoints and buckets, the scenario's endpoints, and an assumption for anything else a
        harvest job of the template names. ``created`` says when a deploy the rehearsal plays created each of the
        stack's endpoints (by key; None or absent: an earlier deploy did, assumed and said so)."""
        found = cls.from_scenario(scenario)
        for key, endpoint in _declared_endpoints(template).items():
            found.endpoints.setdefault(key, replace(endpoint, created=(created or {}).get(key)))
        found.buckets = _declared_buckets(template)
        found.roles = _declared_roles(template)
        for logical_id in template.harvest_job_ids():
            try:
                props = template.properties(logical_id)
            except UnresolvableError:
                continue
            found._assume_for(logical_id, template.resources[logical_id]["Type"], props)
        return found

    def _assume_for(self, logical_id: str, kind: str, props: Mapping[str, Any]) -> None:
        if kind == spec.V1_RESOURCE_TYPE:
            key = str(props.get(spec.V1_ORIGIN_ENDPOINT))
            self._assume_existing(logical_id, key)
            if key not in self.endpoints:
                self.endpoints[key] = OriginEndpoint(key, "assumed")
                self._assume(
                    f"{logical_id}: v1 origin endpoint {key} is not in the stack or the scenario: assumed "
                    "to exist with a startover window covering the window"
                )
            s3 = _mapping(props.get(spec.V1_DESTINATION))
            if s3.get("RoleArn") not in self.roles:
                self._assume(
                    f"{logical_id}: the v1 role {s3.get('RoleArn')} is not in the stack: assumed to be able to write "
                    f"to s3://{s3.get('BucketName')}/{s3.get('ManifestKey')}"
                )
            return
        key = "/".join(str(props.get(k)) for k in (spec.CHANNEL_GROUP, spec.CHANNEL, spec.ORIGIN_ENDPOINT))
        self._assume_existing(logical_id, key)
        wanted = _mapping(props.get(spec.MANIFESTS))
        names = {kind: _manifest_names(wanted.get(kind)) for kind in MANIFEST_KINDS}
        known = self.endpoints.get(key)
        if known is None or known.source == "assumed":
            merged = {k: tuple(dict.fromkeys((known.manifests.get(k, ()) if known else ()) + names[k])) for k in names}
            self.endpoints[key] = OriginEndpoint(key, "assumed", manifests=merged, policy=harvester_policy(key))
            listed = ", ".join(n for k in MANIFEST_KINDS for n in names[k])
            self._assume(
                f"{logical_id}: origin endpoint {key} is not in the stack or the scenario: assumed to "
                f"exist with manifest(s) {listed}, a startover window covering the window, and the "
                "harvester grant in its policy"
            )
        bucket = str(_mapping(_mapping(props.get(spec.DESTINATION)).get("S3Destination")).get("BucketName"))
        if bucket not in self.buckets:
            self._assume(
                f"{logical_id}: bucket {bucket} is not in the stack (imported): assumed to let "
                f"{HARVESTER} write the harvest (s3:PutObject)"
            )

    def _assume_existing(self, logical_id: str, key: str) -> None:
        """An endpoint of the stack that no deploy the rehearsal plays created: an earlier deploy did."""
        endpoint = self.endpoints.get(key)
        if endpoint is not None and endpoint.source.startswith("stack ") and endpoint.created is None:
            self._assume(
                f"{logical_id}: origin endpoint {key} is declared by this stack: assumed created by an earlier deploy "
                'and receiving the stream since before the window (scenario "stack_endpoints": "new" rehearses the '
                "first deploy, which has nothing to harvest)"
            )

    def _assume(self, text: str) -> None:
        if text not in self.assumptions:
            self.assumptions.append(text)


def harvester_policy(key: str) -> dict[str, Any]:
    """A policy holding only the harvester's grant, for an endpoint assumed or scripted to grant it."""
    group, channel, name = [*key.split("/"), "", "", ""][:3]
    resource = f"arn:*:mediapackagev2:*:*:channelGroup/{group}/channel/{channel}/originEndpoint/{name}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowMediaPackageHarvester",
                "Effect": "Allow",
                "Principal": {"Service": HARVESTER},
                "Action": ["mediapackagev2:HarvestObject", "mediapackagev2:GetObject"],
                "Resource": resource,
            }
        ],
    }


def synth_warnings(assembly: Path, stack_name: str) -> list[str]:
    """The CDK warnings (``aws:cdk:warning``) recorded for ``stack_name`` in a cloud assembly: in manifest.json's
    metadata, or the file it names in ``additionalMetadataFile``; each as ``"<construct path>: <message>"``."""
    manifest = assembly / "manifest.json"
    if not manifest.is_file():
        return []
    artifact = json.loads(manifest.read_text()).get("artifacts", {}).get(stack_name, {})
    metadata = dict(artifact.get("metadata", {}))
    extra = artifact.get("additionalMetadataFile")
    if extra and (assembly / extra).is_file():
        metadata.update(json.loads((assembly / extra).read_text()))
    return [
        f"{path}: {entry.get('data')}"
        for path, entries in metadata.items()
        for entry in entries
        if entry.get("type") == "aws:cdk:warning"
    ]


def _scripted(key: str, script: EndpointScript) -> OriginEndpoint:
    return OriginEndpoint(
        key,
        "scenario",
        exists=script.exists,
        startover_window_seconds=script.startover_window_seconds or None,
        manifests=script.manifests(),
        policy=harvester_policy(key) if script.harvester_grant else None,
    )


def declared_endpoint_keys(template: Template) -> list[str]:
    """The keys of the origin endpoints (v2 and v1) the template declares."""
    return list(_declared_endpoints(template))


def _declared_endpoints(template: Template) -> dict[str, OriginEndpoint]:
    endpoints: dict[str, OriginEndpoint] = {}
    policies: dict[str, Mapping[str, Any]] = {}
    for logical_id, resource in template.resources.items():
        kind = resource.get("Type")
        if kind not in (V2_ENDPOINT, V2_ENDPOINT_POLICY, V1_ENDPOINT):
            continue
        try:
            props = template.resolve(resource.get("Properties", {}))
        except UnresolvableError:
            continue
        if kind == V1_ENDPOINT:
            key = str(props.get("Id"))
            endpoints[key] = OriginEndpoint(
                key, f"stack {logical_id}", startover_window_seconds=_seconds(props.get("StartoverWindowSeconds"))
            )
            continue
        key = "/".join(str(props.get(k)) for k in ("ChannelGroupName", "ChannelName", "OriginEndpointName"))
        if kind == V2_ENDPOINT_POLICY:
            document = props.get("Policy")
            policies[key] = json.loads(document) if isinstance(document, str) else document
            continue
        endpoints[key] = OriginEndpoint(
            key,
            f"stack {logical_id}",
            startover_window_seconds=_seconds(props.get("StartoverWindowSeconds")),
            manifests={k: _manifest_names(props.get(k)) for k in MANIFEST_KINDS},
            time_filters=_time_filters(props),
        )
    for key, endpoint in endpoints.items():
        if key in policies:
            endpoints[key] = replace(endpoint, policy=policies[key])
    return endpoints


def _declared_buckets(template: Template) -> dict[str, Mapping[str, Any] | None]:
    buckets: dict[str, Mapping[str, Any] | None] = {}
    for logical_id, resource in template.resources.items():
        if resource.get("Type") == "AWS::S3::Bucket":
            name = resource.get("Properties", {}).get("BucketName")
            resolved = template.resolve(name) if name else placeholder_bucket_name(template.env.stack_name, logical_id)
            buckets[str(resolved)] = None
    for resource in template.resources.values():
        if resource.get("Type") != "AWS::S3::BucketPolicy":
            continue
        try:
            props = template.resolve(resource.get("Properties", {}))
        except UnresolvableError:
            continue
        bucket = str(props.get("Bucket"))
        earlier = buckets.get(bucket) or {}
        merged = statements(earlier) + statements(_mapping(props.get("PolicyDocument")))
        buckets[bucket] = {"Version": "2012-10-17", "Statement": merged}
    return buckets


TIME_FILTER_KEYS = ("Start", "End", "ClipStartTime", "TimeDelaySeconds")


def _time_filters(props: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The endpoint's manifests filtered on time, by name: their filter configuration's time settings."""
    found: dict[str, Mapping[str, Any]] = {}
    for kind in MANIFEST_KINDS:
        for entry in props.get(kind) or []:
            config = _mapping(_mapping(entry).get("FilterConfiguration"))
            settings = {key: config[key] for key in TIME_FILTER_KEYS if config.get(key) is not None}
            if settings:
                found[str(_mapping(entry).get("ManifestName"))] = settings
    return found


def _declared_roles(template: Template) -> dict[str, WriterRole]:
    """The stack's roles, by the ARN the template resolves them to: their trust policy and policies."""
    roles: dict[str, WriterRole] = {}
    for logical_id, resource in template.resources.items():
        if resource.get("Type") != "AWS::IAM::Role":
            continue
        try:
            arn = str(template.resolve({"Fn::GetAtt": [logical_id, "Arn"]}))
            trust = template.resolve(resource.get("Properties", {}).get("AssumeRolePolicyDocument", {}))
            policies, _ = role_policies(template, logical_id)
        except UnresolvableError:
            continue
        roles[arn] = WriterRole(trust, tuple(policies))
    return roles


def _mapping(value: object) -> Mapping[str, Any]:
    """``value`` when it is a mapping, else empty: bad input is the handler's to report, not the rehearsal's."""
    return value if isinstance(value, Mapping) else {}


def _manifest_names(entries: object) -> tuple[str, ...]:
    listed = entries if isinstance(entries, list) else []
    return tuple(str(_mapping(entry).get("ManifestName")) for entry in listed)


def _seconds(value: object) -> int | None:
    try:
        seconds = int(str(value)) if value is not None else 0
    except ValueError:
        return None
    return seconds or None
