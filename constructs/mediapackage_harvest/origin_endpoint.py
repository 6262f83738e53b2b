"""``HarvestJob(origin_endpoint=...)``: the endpoint's names, what it declares, and the harvester in its one policy.

An origin endpoint has one policy. For the alpha L2 (``aws_cdk.aws_mediapackagev2_alpha``, an optional extra)
the L2's own ``add_to_resource_policy`` keeps it at one. For a ``CfnOriginEndpoint`` the app may declare its
``CfnOriginEndpointPolicy`` before or after the job, so the choice is made once the tree is complete (an aspect on
the endpoint, which runs before dependencies are rendered): the harvester statement is merged into the policy the
app declares for those names, or a new policy is made when there is none. Jobs on one endpoint share one
statement. The alpha module is never imported here: an L2 is recognised by what it offers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

import jsii
from aws_cdk import Annotations, Aspects, IAspect, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_mediapackagev2 as mediapackagev2
from constructs import Construct, IConstruct

from mediapackage_harvest.contract import iam_policy, spec
from mediapackage_harvest.contract.services import ENDPOINT_HARVEST_ACTIONS, V2
from mediapackage_harvest.errors import BOTH_FIELD, ENDPOINT_FIELD
from mediapackage_harvest.policies import harvester_origin_endpoint_policy_statement
from mediapackage_harvest.props import is_unresolved

# Harvestable manifest kinds: the custom resource's key, the endpoint's attribute, how people call them.
KINDS = (
    ("HlsManifests", "hls_manifests", "HLS"),
    ("DashManifests", "dash_manifests", "DASH"),
    ("LowLatencyHlsManifests", "low_latency_hls_manifests", "Low-Latency HLS"),
)
GRANT_ID = "HarvesterGrant"
DAY = 86400
MAX_STARTOVER_SECONDS = 14 * DAY  # MediaPackage's longest startover window
NAME_PROPS = ("channel_group_name", "channel_name", "origin_endpoint_name")
L2_MEMBERS = ("add_to_resource_policy", "origin_endpoint_arn", "channel_group_name", "channel_name")


@dataclass
class Endpoint:
    """The origin endpoint a job harvests: its names and, when the app declares it, its L1."""

    construct: Any  # the L1, the L2, or an imported L2 (a jsii interface proxy, not a Construct)
    names: tuple[str, str, str]
    cfn: mediapackagev2.CfnOriginEndpoint | None  # None for an imported L2: nothing declared to check

    @property
    def path(self) -> str:
        return str(self.construct.node.path)

    def check(self, properties: Mapping[str, Any], now: datetime) -> list[spec.Violation]:
        """What a deploy would refuse, judged from what the endpoint declares (tokens skipped)."""
        if self.cfn is None:
            return []
        return self._manifest_violations(properties.get(spec.MANIFESTS)) + self._startover_violations(
            properties.get(spec.SCHEDULE), now
        )

    @cached_property
    def _declared(self) -> dict[str, list[str] | None]:
        """The manifest names the endpoint declares per kind (None: a token hides them), read once: a set of
        clips checks many jobs against one endpoint, and each read is a jsii round trip."""
        return {kind: _manifest_names(getattr(self.cfn, attribute)) for kind, attribute, _ in KINDS}

    @cached_property
    def _time_filtered(self) -> dict[str, set[str]]:
        """The manifests whose filters MediaPackage harvests none of, per kind (read once, as ``_declared``)."""
        return {kind: _time_filtered(getattr(self.cfn, attribute)) for kind, attribute, _ in KINDS}

    @cached_property
    def _window(self) -> tuple[bool, int | float | None]:
        """Whether the startover window is known at synth (not a token), and its value."""
        window = self.cfn.startover_window_seconds if self.cfn is not None else None
        return not Token.is_unresolved(window), window

    def _manifest_violations(self, harvested: object) -> list[spec.Violation]:
        declared, time_filtered = self._declared, self._time_filtered
        listing = "; ".join(
            f"{label} {', '.join(repr(n) for n in names) if names else 'none'}"
            for (kind, _, label), names in ((k, declared[k[0]]) for k in KINDS)
            if names is not None
        )
        violations = []
        for kind, _, label in KINDS:
            entries = harvested.get(kind) if isinstance(harvested, Mapping) else None
            known = declared[kind]
            if known is None or not isinstance(entries, list):
                continue
            for index, entry in enumerate(entries):
                name = entry.get("ManifestName") if isinstance(entry, Mapping) else None
                if isinstance(name, str) and not is_unresolved(name) and name not in known:
                    violations.append(
                        spec.Violation(
                            f"{spec.MANIFESTS}.{kind}[{index}].ManifestName",
                            f"names {name!r}, which origin endpoint '{self.path}' does not declare as a {label} "
                            f"manifest; it declares: {listing}",
                        )
                    )
                elif name in time_filtered[kind]:
                    violations.append(
                        spec.Violation(
                            f"{spec.MANIFESTS}.{kind}[{index}].ManifestName",
                            f"names {name!r}, whose filter configuration on origin endpoint '{self.path}' sets a "
                            "start, end, clip start or time delay: MediaPackage harvests no such manifest; harvest "
                            "another one or drop those filters",
                        )
                    )
        return violations

    @property
    def is_l2(self) -> bool:
        """Whether the app gave the alpha L2 (its messages then name the L2's props, not the L1's)."""
        return self.cfn is not self.construct

    def startover_setting(self, seconds: int) -> str:
        """The endpoint's startover prop set to ``seconds``, as the user writes it for this kind of endpoint."""
        if self.is_l2:
            return f"startover_window={spec.duration_expression(seconds)}"
        return f"startover_window_seconds={seconds}"

    def _startover_violations(self, schedule: object, now: datetime) -> list[spec.Violation]:
        known, window = self._window
        if not known:
            return []
        start, end = (_instant(schedule, key) for key in ("StartTime", "EndTime"))
        prop = "startover_window" if self.is_l2 else "startover_window_seconds"
        if not window:
            return [
                spec.Violation(
                    f"{ENDPOINT_FIELD}.{prop}",
                    f"'{self.path}' declares no {prop}: MediaPackage harvests only from an endpoint's startover "
                    f"window, so give it one that covers the times: {self._reaching(start, now)}",
                )
            ]
        declared = self.startover_setting(int(window))
        if start is not None and end is not None and (end - start).total_seconds() > float(window):
            wider = self.startover_setting(_whole_hours((end - start).total_seconds()))
            return [
                spec.Violation(
                    spec.SCHEDULE,
                    f"spans {end - start}, longer than the startover window of origin endpoint '{self.path}' "
                    f"({declared}): a harvested asset cannot be longer than it; harvest a shorter window or set "
                    f"{wider}",
                )
            ]
        oldest = now - timedelta(seconds=float(window))
        if start is None or start >= oldest:
            return []
        return [
            spec.Violation(
                f"{spec.SCHEDULE}.StartTime",
                f"is {start.isoformat()}, older than the startover window of origin endpoint '{self.path}' "
                f"({declared}) reaches back from synth time ({now.isoformat(timespec='seconds')}): MediaPackage "
                f"refuses it, and a later deploy only makes it worse; harvest a later window, or "
                f"{self._reaching(start, now)}",
            )
        ]

    def _reaching(self, start: datetime | None, now: datetime) -> str:
        """A startover window that reaches back to ``start`` from a deploy up to an hour after ``now`` (whole days,
        at most 14), or why none can."""
        behind = (now - start).total_seconds() if start is not None else 0.0
        days = max(1, -(-int(behind + 3600) // DAY))
        if days * DAY > MAX_STARTOVER_SECONDS:
            return f"none can: the longest is {self.startover_setting(MAX_STARTOVER_SECONDS)}"
        return f"set {self.startover_setting(days * DAY)} (up to 14 days)"

    def warn_created_by_the_deploy(self, job: Construct, start_time: datetime) -> None:
        """A window from an endpoint this stack declares: a deploy that creates the endpoint (and its channel) has
        nothing to harvest, and synth cannot tell whether an earlier deploy created it (a warning, stable: it names
        the prop's time, never the synth time)."""
        if self.cfn is None or Stack.of(self.cfn) is not Stack.of(job):
            return
        Annotations.of(job).add_warning_v2(
            "mediapackage-harvest:endpointCreatedByDeploy",
            f"start_time {start_time.isoformat()} is before origin endpoint '{self.path}' can exist: this stack "
            "declares it, and a deploy that creates it (and its channel) has nothing to harvest, as an endpoint "
            "receives nothing before it exists. Deploy the endpoint first (without this job), send the stream, "
            "then deploy the job; once the endpoint exists, acknowledge this warning.",
        )

    def grant_harvester(self, job: Construct, *resources: Construct) -> None:
        """Put the harvester statement in the endpoint's one policy and make ``resources`` (what starts with the
        job) depend on that policy."""
        if self.cfn is None or not isinstance(self.construct, Construct):
            Annotations.of(job).add_warning_v2(
                "mediapackage-harvest:endpointPolicy",
                f"The origin endpoint '{self.path}' is imported, so its policy cannot be changed here: add "
                "harvester_origin_endpoint_policy_statement(...) to it yourself, or MediaPackage refuses the job.",
            )
            return
        grant = self.construct.node.try_find_child(GRANT_ID)
        if not isinstance(grant, _HarvesterGrant):
            grant = _HarvesterGrant(self.construct, self)
        grant.jobs += resources  # an L1's policy is chosen at synth, when every job depends on it
        if grant.l2_policy is not None:
            for resource in resources:
                resource.node.add_dependency(grant.l2_policy)
        elif self.cfn is not self.construct:  # an L2 that kept no policy of its own to depend on
            Annotations.of(job).add_warning_v2(
                "mediapackage-harvest:endpointPolicy",
                f"The origin endpoint '{self.path}' has no policy this job can depend on: make sure its policy "
                "holds harvester_origin_endpoint_policy_statement(...), or MediaPackage refuses the job.",
            )


def resolve_endpoint(
    origin_endpoint: object, names: tuple[object, object, object]
) -> tuple[Endpoint | None, list[spec.Violation]]:
    """The endpoint behind ``origin_endpoint`` (None when it is absent), or why it cannot be used."""
    if origin_endpoint is None:
        return None, []
    given = [prop for prop, value in zip(NAME_PROPS, names, strict=True) if value is not None]
    if given:
        return None, [
            spec.Violation(
                BOTH_FIELD,
                f"give either origin_endpoint or the three names, not both: origin_endpoint replaces them "
                f"(got origin_endpoint and {', '.join(given)})",
            )
        ]
    if isinstance(origin_endpoint, mediapackagev2.CfnOriginEndpoint):
        cfn_names = (origin_endpoint.channel_group_name, origin_endpoint.channel_name)
        return Endpoint(origin_endpoint, (*cfn_names, origin_endpoint.origin_endpoint_name), origin_endpoint), []
    if all(hasattr(origin_endpoint, member) for member in L2_MEMBERS):
        l2_names = [str(getattr(origin_endpoint, prop)) for prop in NAME_PROPS]
        child = origin_endpoint.node.default_child  # type: ignore[attr-defined]
        cfn = child if isinstance(child, mediapackagev2.CfnOriginEndpoint) else None
        return Endpoint(origin_endpoint, (l2_names[0], l2_names[1], l2_names[2]), cfn), []
    return None, [
        spec.Violation(
            ENDPOINT_FIELD,
            "must be an aws_mediapackagev2.CfnOriginEndpoint or an aws_mediapackagev2_alpha.IOriginEndpoint, "
            f"got {type(origin_endpoint).__name__}",
        )
    ]


def _whole_hours(seconds: float) -> int:
    return -(-int(seconds) // 3600) * 3600


def _instant(schedule: object, key: str) -> datetime | None:
    """One of the schedule's times, when it is a timestamp (a bad one is reported by spec's own rule)."""
    text = schedule.get(key) if isinstance(schedule, Mapping) else None
    try:
        return spec.parse_timestamp(text) if isinstance(text, str) else None
    except ValueError:
        return None


# A manifest filtered on time is not harvestable (the live-to-VOD guide's requirements).
TIME_FILTERS = (
    ("start", "start"),
    ("end", "end"),
    ("clip_start_time", "clipStartTime"),
    ("time_delay_seconds", "timeDelaySeconds"),
)


def _time_filtered(value: object) -> set[str]:
    """The names of one kind's manifests whose filter configuration sets a start, end, clip start or time delay."""
    if value is None or Token.is_unresolved(value) or not isinstance(value, Sequence):
        return set()
    found = set()
    for manifest in value:
        if isinstance(manifest, Mapping):
            name, config = manifest.get("manifestName"), manifest.get("filterConfiguration")
            values = [config.get(key) for _, key in TIME_FILTERS] if isinstance(config, Mapping) else []
        else:
            name, config = getattr(manifest, "manifest_name", None), getattr(manifest, "filter_configuration", None)
            values = [getattr(config, attribute, None) for attribute, _ in TIME_FILTERS] if config is not None else []
        if isinstance(name, str) and any(v is not None for v in values):
            found.add(name)
    return found


def _manifest_names(value: object) -> list[str] | None:
    """The manifest names an endpoint declares for one kind; None when a token hides them."""
    if value is None:
        return []
    if Token.is_unresolved(value) or not isinstance(value, Sequence):
        return None
    names = []
    for manifest in value:
        # A struct (HlsManifestConfigurationProperty) or the dict jsii takes in its place (camelCase keys).
        name = manifest.get("manifestName") if isinstance(manifest, Mapping) else getattr(manifest, "manifest_name", "")
        if not isinstance(name, str) or Token.is_unresolved(name):
            return None
        names.append(name)
    return names


class _HarvesterGrant(Construct):
    """One per origin endpoint (a child of it, no resources): the jobs that harvest it and its harvester grant."""

    def __init__(self, scope: Construct, endpoint: Endpoint) -> None:
        super().__init__(scope, GRANT_ID)
        self.endpoint = endpoint
        self.jobs: list[Construct] = []
        self.l2_policy: IConstruct | None = None
        stack = Stack.of(endpoint.construct)
        self.statement = harvester_origin_endpoint_policy_statement(
            *endpoint.names, account=stack.account, partition=stack.partition, region=stack.region
        )
        if isinstance(endpoint.construct, mediapackagev2.CfnOriginEndpoint):
            Aspects.of(endpoint.construct).add(_MergeIntoEndpointPolicy(self))
            return
        endpoint.construct.add_to_resource_policy(self.statement)
        self.l2_policy = getattr(endpoint.construct, "policy", None)  # the L2's one policy, made or appended to

    def merge(self) -> None:
        """The endpoint's one L1 policy gets the statement, and every job depends on it."""
        cfn = self.endpoint.cfn
        assert cfn is not None  # only L1 endpoints are merged here
        stack = Stack.of(cfn)
        declared = [p for p in _policies(stack) if self._is_for_endpoint(stack, p)]
        if len(declared) > 1:
            Annotations.of(cfn).add_error(
                f"{len(declared)} CfnOriginEndpointPolicy resources are declared for this origin endpoint "
                f"({', '.join(p.node.path for p in declared)}): an endpoint has one policy, keep one."
            )
        if declared:
            policy = declared[0]
            merged = _with_statement(stack, policy.policy, self.statement)
            if merged is None:
                Annotations.of(policy).add_error(
                    "This origin endpoint policy is not a policy document HarvestJob can add to (a JSON object with "
                    "Statement): add harvester_origin_endpoint_policy_statement(...) to it, or give it as a dict "
                    "or an iam.PolicyDocument."
                )
            else:
                policy.policy = merged
                self._refuse_denied_harvester(stack, policy)
        else:
            policy = mediapackagev2.CfnOriginEndpointPolicy(
                self,
                "Policy",
                channel_group_name=cfn.channel_group_name,
                channel_name=cfn.channel_name,
                origin_endpoint_name=cfn.origin_endpoint_name,
                policy=iam.PolicyDocument(statements=[self.statement]),
            )
            policy.node.add_dependency(cfn)
        for job in self.jobs:
            job.node.add_dependency(policy)

    def _refuse_denied_harvester(self, stack: Stack, policy: mediapackagev2.CfnOriginEndpointPolicy) -> None:
        """A declared policy that denies MediaPackage what it needs (a Deny beside the harvester's Allow) is a synth
        error: judged on the template's values, pseudo parameters as ``${AWS::...}`` on both sides."""
        document = _flat(stack.resolve(policy.policy))
        statement = _flat(stack.resolve(self.statement.to_statement_json()))
        resource, account = statement["Resource"], statement["Condition"]["StringEquals"]["AWS:SourceAccount"]
        context = {"aws:SourceAccount": account, "aws:SourceArn": f"{resource}/harvestJob/clip"}
        denied = [
            action.split(":")[1]
            for action in ENDPOINT_HARVEST_ACTIONS
            if not iam_policy.allows(document, service=V2.principal, action=action, resource=resource, context=context)
        ]
        if denied:
            Annotations.of(policy).add_error(
                f"This origin endpoint policy does not let {V2.principal} {' or '.join(denied)} the endpoint (a Deny "
                "takes away the harvester statement HarvestJob adds): MediaPackage would refuse every harvest job."
            )

    def _is_for_endpoint(self, stack: Stack, policy: mediapackagev2.CfnOriginEndpointPolicy) -> bool:
        cfn = self.endpoint.cfn
        assert cfn is not None
        return all(
            _template_value(stack, getattr(policy, prop)) == _template_value(stack, getattr(cfn, prop))
            for prop in NAME_PROPS
        )


@jsii.implements(IAspect)
class _MergeIntoEndpointPolicy:
    """Runs :meth:`_HarvesterGrant.merge` once, when synthesis visits the endpoint."""

    def __init__(self, grant: _HarvesterGrant) -> None:
        self.grant = grant
        self.done = False

    def visit(self, node: IConstruct) -> None:
        if not self.done and node is self.grant.endpoint.construct:
            self.done = True
            self.grant.merge()


def _policies(stack: Stack) -> list[mediapackagev2.CfnOriginEndpointPolicy]:
    return [c for c in stack.node.find_all() if isinstance(c, mediapackagev2.CfnOriginEndpointPolicy)]


def _template_value(stack: Stack, value: object) -> str:
    """A value as the template will have it, comparable across resources."""
    return json.dumps(stack.resolve(value), sort_keys=True)


def _with_statement(stack: Stack, policy: object, statement: iam.PolicyStatement) -> object | None:
    """``policy`` (a PolicyDocument, a dict or a JSON string) with ``statement`` added unless it is there; None
    when it is something else (an intrinsic function, say), which cannot be added to here."""
    ours = stack.resolve(statement.to_statement_json())
    if isinstance(policy, iam.PolicyDocument):
        if ours not in _statements(stack.resolve(policy)):
            policy.add_statements(statement)
        return policy
    document = json.loads(policy) if isinstance(policy, str) and not Token.is_unresolved(policy) else policy
    resolved = stack.resolve(document)
    if not isinstance(resolved, dict) or any(key == "Ref" or key.startswith("Fn::") for key in resolved):
        return None
    statements = _statements(resolved)
    if ours not in statements:
        statements.append(ours)
    return {**resolved, "Statement": statements}


def _flat(value: Any) -> Any:
    """A resolved template value with ``Fn::Join`` of literals and ``Ref``s of pseudo parameters as plain text
    (``${AWS::Region}``), so that a policy can be judged on it; a JSON string is parsed."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        return _flat(json.loads(value))
    if isinstance(value, list):
        return [_flat(v) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        return "${" + str(value["Ref"]) + "}"
    if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        return value["Fn::Sub"]  # written in the same ${AWS::...} notation
    if set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        return str(separator).join(str(_flat(part)) for part in parts)
    return {key: _flat(item) for key, item in value.items()}


def _statements(document: object) -> list[Any]:
    found = document.get("Statement", []) if isinstance(document, dict) else []
    return list(found) if isinstance(found, list) else [found]
