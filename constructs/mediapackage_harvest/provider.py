"""The one handler function per stack that every ``HarvestJob`` in the stack shares.

One function keeps the template small and the IAM policy in one place: each job adds its origin endpoint to the
role's MediaPackage statement. The handler polls long jobs with EventBridge rules named ``<rule_prefix>-<hash>``;
one Lambda permission for ``rule/<rule_prefix>*`` lets all of them invoke it, instead of a permission per rule,
which would grow the function's resource policy past its 20 KB limit. One more rule per stack (with its own one
permission) routes MediaPackage's harvest-job events to the handler, for the flavours the stack uses, so a job's
end is answered at once; every job waits for it (through the polling permission). It matches only the jobs of the
origin endpoints the stack harvests (v2: a ``resources`` prefix per endpoint; v1: ``origin_endpoint_id``), so other
stacks' jobs do not invoke this function; its pattern is written at synth, once every job has registered.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, NamedTuple
from weakref import WeakKeyDictionary

import jsii
from aws_cdk import (
    Acknowledgment,
    Annotations,
    ArnFormat,
    Aspects,
    Duration,
    IAspect,
    RemovalPolicy,
    Stack,
    Validations,
)
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

from mediapackage_harvest.bundling import handler_code
from mediapackage_harvest.contract import services, spec
from mediapackage_harvest.policies import (
    destination_objects_arn,
    endpoint_and_parents,
    harvest_job_arn_pattern,
    harvester_bucket_policy_statement,
    origin_endpoint_arn,
)
from mediapackage_harvest.props import is_unresolved

PROVIDER_ID = "MediaPackageHarvestProvider"
RUNTIME = lambda_.Runtime.PYTHON_3_14
# The Service Authorization Reference requires an ARN of each of the channel group, channel, origin endpoint and
# harvest job for these three: the statement names all four per endpoint the stack harvests.
MEDIAPACKAGE_ACTIONS = (
    "mediapackagev2:CreateHarvestJob",
    "mediapackagev2:GetHarvestJob",
    "mediapackagev2:CancelHarvestJob",
)
# Tagging is authorized against the tagged resource only: the harvest jobs. Granted wherever the stack harvests,
# since an update that drops a job's last tag needs UntagResource under the new template's role (CloudFormation
# updates the role's policy before the job).
TAGGING_ACTIONS = ("mediapackagev2:TagResource", "mediapackagev2:UntagResource")
# The handler's preflight reads: channel group, channel and origin endpoint required (the policy's ARN is the
# endpoint's), never their jobs.
ENDPOINT_READ_ACTIONS = ("mediapackagev2:GetOriginEndpoint", "mediapackagev2:GetOriginEndpointPolicy")
# MediaPackage v1 (``mediapackage``): create and watch; v1 harvest jobs can be neither cancelled nor deleted.
# v1's CreateHarvestJob has no resource-level permissions (Resource must be "*"); DescribeHarvestJob has.
MEDIAPACKAGE_V1_CREATE_ACTION = "mediapackage:CreateHarvestJob"
MEDIAPACKAGE_V1_DESCRIBE_ACTION = "mediapackage:DescribeHarvestJob"
V1_ENDPOINT_READ_ACTION = "mediapackage:DescribeOriginEndpoint"
EVENTS_ACTIONS = (
    "events:PutRule",
    "events:PutTargets",
    "events:RemoveTargets",
    "events:DeleteRule",
    "events:DescribeRule",
    "events:ListTargetsByRule",  # a job's event finds the request waiting on the job (harvest_handler.job_events)
)
# EventBridge's default limit on an event pattern (adjustable to 4096 on request).
EVENT_PATTERN_MAX_CHARS = 2048
# The longest each pseudo parameter can be where this is deployed (aws-us-gov; ap-southeast-5), for the pattern's
# length at deploy; any other unresolved value (a name given as a token) is taken at MediaPackage's longest name.
_DEPLOYED_LENGTHS = {"AWS::Partition": 10, "AWS::Region": 14, "AWS::AccountId": 12}


class _BucketStatement(NamedTuple):
    """A bucket-policy statement that the jobs writing to one bucket from one origin endpoint share."""

    statement: iam.PolicyStatement
    policy: s3.BucketPolicy | None  # the bucket's policy, which the jobs wait for
    bucket_arn: str
    prefixes: set[str]  # the key prefixes covered ("clips/"; "" covers the bucket)


# Each scope's provider, found once: a stack of many clips asks for it once per job.
_PROVIDERS: WeakKeyDictionary[Construct, HarvestJobProvider] = WeakKeyDictionary()


class HarvestJobProvider(Construct):
    """The handler function, its role, log group and EventBridge permission; get it with :meth:`of`."""

    @classmethod
    def of(cls, scope: Construct) -> HarvestJobProvider:
        """The stack's provider, created on first use."""
        known = _PROVIDERS.get(scope)
        if known is None:
            stack = Stack.of(scope)
            existing = stack.node.try_find_child(PROVIDER_ID)
            known = existing if isinstance(existing, HarvestJobProvider) else cls(stack, PROVIDER_ID)
            _PROVIDERS[scope] = known
        return known

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.stack = stack
        self._endpoints: set[tuple[str, str, str]] = set()
        self._granted_arns: set[tuple[str, str]] = set()  # (statement, ARN): each ARN once per statement
        # By (bucket, channel group, channel, endpoint): one statement for the jobs that match.
        self._bucket_statements: dict[tuple[s3.IBucket, str, str, str], _BucketStatement] = {}
        self._v1_statement: iam.PolicyStatement | None = None
        self._v1_pass_role_statement: iam.PolicyStatement | None = None
        self._v1_roles: set[str] = set()
        self._event_flavours: list[services.Flavour] = []
        self._v1_endpoint_ids: dict[str, str] = {}  # each v1 endpoint's Id (maybe a token), by its template value
        self.job_events_rule: events.CfnRule | None = None

        self.log_group = logs.LogGroup(
            self, "LogGroup", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="cdk-mediapackage-harvest: creates, tracks and cancels MediaPackage v2 harvest jobs",
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[self.log_group.log_group_arn]
            )
        )
        # Filled in by grant_endpoint as jobs register; every job registers before synthesis. Added to the role
        # with the first endpoint, so a stack of v1 jobs only has no v2 statement (one without resources).
        self._mediapackage_statement = iam.PolicyStatement(actions=list(MEDIAPACKAGE_ACTIONS))
        self._tagging_statement = iam.PolicyStatement(actions=list(TAGGING_ACTIONS))
        self._endpoint_read_statement = iam.PolicyStatement(actions=list(ENDPOINT_READ_ACTIONS))
        self._v1_endpoint_read_statement: iam.PolicyStatement | None = None
        self._v1_endpoints: set[str] = set()

        self.function = lambda_.Function(
            self,
            "Handler",
            description="cdk-mediapackage-harvest: MediaPackage v2 harvest jobs for CloudFormation",
            code=handler_code(),
            handler="index.handler",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            memory_size=256,
            # A poll that meets the deadline watches inline up to it: the timeout covers one poll period (5 min).
            timeout=Duration.minutes(6),
            # Every invocation answers (or hands over) before its timeout; a Lambda retry of one that timed out
            # would run an answered request again and could answer it a second, different time.
            retry_attempts=0,
            role=self.role,
            log_group=self.log_group,
            environment={"POWERTOOLS_SERVICE_NAME": "mediapackage-harvest", "POWERTOOLS_LOG_LEVEL": "INFO"},
        )
        # CDK makes every function DependsOn its role, which the Role GetAtt already orders; cfn-lint's W3005
        # flags that in every user's template, so it is silenced on this one resource.
        self.service_token = self.function.function_arn
        """What every job's custom resource invokes (the function's ARN)."""
        cfn_function = self.function.node.default_child
        if isinstance(cfn_function, lambda_.CfnFunction):
            cfn_function.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})
        self.rule_prefix = _rule_prefix(self.function.node.addr, stack.stack_name)
        self.function.add_environment(spec.POLL_RULE_PREFIX_ENV, self.rule_prefix)

        rules_arn = stack.format_arn(
            service="events",
            resource="rule",
            resource_name=f"{self.rule_prefix}*",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        self.role.add_to_principal_policy(iam.PolicyStatement(actions=list(EVENTS_ACTIONS), resources=[rules_arn]))
        self._acknowledge_wildcard(
            rules_arn,
            "The handler creates one EventBridge polling rule per long-running request, named at deploy time "
            "<prefix>-<hash of the job or request>; the statement covers only this function's prefix "
            f"({self.rule_prefix}) in this stack's account and Region, and only the six rule calls the handler makes.",
        )
        self.permission = lambda_.CfnPermission(
            self,
            "PollingRulesPermission",
            action="lambda:InvokeFunction",
            function_name=self.function.function_arn,
            principal="events.amazonaws.com",
            source_arn=rules_arn,
            source_account=stack.account,
        )

    def grant_endpoint(self, channel_group_name: str, channel_name: str, origin_endpoint_name: str) -> None:
        """Let the handler manage harvest jobs of this origin endpoint (once per distinct endpoint): the job
        actions on its channel group, channel, endpoint and jobs, tagging on its jobs, the reads on the first three.
        """
        key = (channel_group_name, channel_name, origin_endpoint_name)
        if key in self._endpoints:
            return
        if not self._endpoints:
            self.role.add_to_principal_policy(self._mediapackage_statement)
            self.role.add_to_principal_policy(self._tagging_statement)
            self.role.add_to_principal_policy(self._endpoint_read_statement)
            self._route_job_events(services.V2)
        self._endpoints.add(key)
        arn_parts = {"partition": self.stack.partition, "region": self.stack.region, "account": self.stack.account}
        jobs = harvest_job_arn_pattern(*key, **arn_parts)
        parents = endpoint_and_parents(origin_endpoint_arn(*key, **arn_parts))
        self._add_resources("jobs", self._mediapackage_statement, (*parents, jobs))
        self._add_resources("tagging", self._tagging_statement, (jobs,))
        self._add_resources("reads", self._endpoint_read_statement, parents)
        self._acknowledge_wildcard(
            jobs,
            "Harvest job names are derived at deploy time (one per request, so a replacement never collides), so "
            "the handler cannot be granted a fixed job ARN; the wildcard covers only the harvest jobs of this one "
            "origin endpoint, never a channel, endpoint or other resource, and no action is granted on '*'.",
        )

    def allow_harvester_writes(
        self,
        bucket: s3.IBucket,
        destination_path: str,
        channel_group_name: str,
        channel_name: str,
        origin_endpoint_name: str,
    ) -> s3.BucketPolicy | None:
        """Let MediaPackage write a job's harvest under ``destination_path`` of a bucket of this app.

        Jobs that write to one bucket from one endpoint share one statement (one more object ARN each), so the
        bucket policy stays far below S3's 20 KB limit however many clips a stack declares. Returns the bucket's
        policy, which the job must wait for, or None when the policy cannot be changed here (an imported bucket).
        """
        key = (bucket, channel_group_name, channel_name, origin_endpoint_name)
        shared = self._bucket_statements.get(key)
        prefix = _key_prefix(destination_path)
        if shared is not None:
            if not any(prefix.startswith(covered) for covered in shared.prefixes):  # a ClipSet's clips: its prefix
                shared.statement.add_resources(destination_objects_arn(shared.bucket_arn, destination_path))
                shared.prefixes.add(prefix)
            return shared.policy
        bucket_arn = bucket.bucket_arn
        statement = harvester_bucket_policy_statement(
            bucket_arn,
            destination_path,
            channel_group_name,
            channel_name,
            origin_endpoint_name,
            account=self.stack.account,
            region=self.stack.region,
            partition=self.stack.partition,
        )
        if not bucket.add_to_resource_policy(statement).statement_added:
            return None
        self._bucket_statements[key] = _BucketStatement(statement, bucket.policy, bucket_arn, {prefix})
        return bucket.policy

    def _route_job_events(self, flavour: services.Flavour) -> None:
        """Send MediaPackage's harvest-job events of ``flavour`` (one the stack uses) to the handler: one rule
        and one invoke permission per stack, made with the first job; every job waits for both (by way of the
        polling permission it already waits for), so no job ends before its events can reach the handler. The
        rule's pattern names the stack's endpoints, which register after it: it is written at synth."""
        if flavour in self._event_flavours:
            return
        self._event_flavours.append(flavour)
        if self.job_events_rule is not None:
            return
        self.job_events_rule = events.CfnRule(
            self,
            "JobEvents",
            description="cdk-mediapackage-harvest: MediaPackage harvest-job events to the handler",
            state="ENABLED",
            targets=[events.CfnRule.TargetProperty(id="handler", arn=self.function.function_arn)],
        )
        Aspects.of(self.job_events_rule).add(_WriteJobEventsPattern(self))
        events_permission = lambda_.CfnPermission(
            self,
            "JobEventsPermission",
            action="lambda:InvokeFunction",
            function_name=self.function.function_arn,
            principal="events.amazonaws.com",
            source_arn=self.job_events_rule.attr_arn,
            source_account=self.stack.account,
        )
        self.permission.node.add_dependency(events_permission)

    def _job_events_pattern(self) -> dict[str, Any]:
        """The job-event rule's pattern: each flavour's events of the stack's endpoints only, in one ``$or`` when
        the stack has both. Past EventBridge's :data:`EVENT_PATTERN_MAX_CHARS` (many endpoints) the v2 part
        matches the endpoints' channel groups, then the flavours' every job (a synth warning says so): wider, never
        wrong, as the handler acts only on the jobs its own rules wait on."""
        arn_parts = {"partition": self.stack.partition, "region": self.stack.region, "account": self.stack.account}
        endpoints = [origin_endpoint_arn(*key, **arn_parts) for key in self._endpoints]
        narrowest = self._distinct([f"{arn}/harvestJob/" for arn in endpoints])
        groups = self._distinct([f"{endpoint_and_parents(arn)[0]}/" for arn in endpoints])
        v1_ids = [self._v1_endpoint_ids[key] for key in sorted(self._v1_endpoint_ids)]
        pattern = self._pattern(narrowest, v1_ids)
        wanted = self._deployed_length(pattern)
        if wanted <= EVENT_PATTERN_MAX_CHARS:
            return pattern
        pattern, matched = self._pattern(groups, v1_ids), "channel groups"
        if self._deployed_length(pattern) > EVENT_PATTERN_MAX_CHARS:
            pattern, matched = self._pattern([], []), "flavours (every job)"
        self._warn_wider_job_events(wanted, matched)
        return pattern

    def _pattern(self, prefixes: list[str], v1_ids: list[str]) -> dict[str, Any]:
        branches: list[dict[str, Any]] = []
        for flavour in self._event_flavours:
            branch: dict[str, Any] = {"source": [flavour.event_source], "detail-type": [flavour.event_detail_type]}
            if flavour is services.V2 and prefixes:
                branch["resources"] = [{"prefix": prefix} for prefix in prefixes]
            elif flavour is services.V1 and v1_ids:
                branch["detail"] = {"harvest_job": {"origin_endpoint_id": v1_ids}}
            branches.append(branch)
        return branches[0] if len(branches) == 1 else {"$or": branches}

    def _distinct(self, values: list[str]) -> list[str]:
        """Each value once, in the order of their template text (stable whatever the order jobs were declared)."""
        by_text = {json.dumps(self.stack.resolve(value)): value for value in values}
        return [by_text[text] for text in sorted(by_text)]

    def _deployed_length(self, pattern: dict[str, Any]) -> int:
        """The pattern's length as EventBridge will count it, pseudo parameters and tokens at their longest."""
        return len(json.dumps(_at_longest(self.stack.resolve(pattern)), separators=(",", ":")))

    def _warn_wider_job_events(self, length: int, matched: str) -> None:
        assert self.job_events_rule is not None
        Annotations.of(self.job_events_rule).add_warning_v2(
            "mediapackage-harvest:jobEventsPattern",
            f"Naming each origin endpoint would make the job-event rule's pattern about {length} characters, over "
            f"EventBridge's {EVENT_PATTERN_MAX_CHARS}: it matches the harvest jobs of the stack's {matched} instead, "
            "so other jobs' events invoke the handler too (it ignores them); fewer endpoints per stack keep it narrow.",
        )

    def _add_resources(self, label: str, statement: iam.PolicyStatement, arns: tuple[str, ...]) -> None:
        """Add each ARN to ``statement`` once, however many endpoints share its channel group or channel."""
        for arn in arns:
            if (label, arn) not in self._granted_arns:
                self._granted_arns.add((label, arn))
                statement.add_resources(arn)

    def _acknowledge_wildcard(self, arn: str, reason: str) -> None:
        """Acknowledge cdk-nag's AwsSolutions-IAM5 finding for one wildcard resource of the role, with why."""
        policy = self.role.node.try_find_child("DefaultPolicy")
        finding = f"AwsSolutions-IAM5[Resource::{nag_arn(arn, self.stack)}]"
        Validations.of(policy or self.role).acknowledge(Acknowledgment(id=finding, reason=reason))

    # MediaPackage v1 ---------------------------------------------------------------------------------------
    def grant_v1_endpoint(self, origin_endpoint_id: str) -> None:
        """Let the handler's preflight read this v1 origin endpoint (DescribeOriginEndpoint), and no other."""
        key = self.stack.resolve(origin_endpoint_id)
        key_text = key if isinstance(key, str) else repr(key)
        if key_text in self._v1_endpoints:
            return
        self._v1_endpoints.add(key_text)
        self._v1_endpoint_ids[key_text] = origin_endpoint_id
        if self._v1_endpoint_read_statement is None:
            self._v1_endpoint_read_statement = iam.PolicyStatement(actions=[V1_ENDPOINT_READ_ACTION])
            self.role.add_to_principal_policy(self._v1_endpoint_read_statement)
        self._v1_endpoint_read_statement.add_resources(
            self.stack.format_arn(
                service="mediapackage",
                resource="origin_endpoints",
                resource_name=origin_endpoint_id,
                arn_format=ArnFormat.SLASH_RESOURCE_NAME,
            )
        )

    def grant_v1_job(self, role: iam.IRole) -> None:
        """Let the handler create and describe MediaPackage v1 harvest jobs, and pass ``role`` to MediaPackage.

        v1's CreateHarvestJob has no resource-level permissions, so IAM only ever matches it against ``*``.
        DescribeHarvestJob has: v1 job ARNs (``harvest_jobs/<id>``) say nothing of the endpoint, and an Id may be
        derived at deploy time, so it covers ``harvest_jobs/*`` of the stack's account and Region. ``iam:PassRole``
        names each role a v1 job writes with, and only for MediaPackage.
        """
        stack = self.stack
        if self._v1_statement is None:
            jobs_arn = stack.format_arn(
                service="mediapackage",
                resource="harvest_jobs",
                resource_name="*",
                arn_format=ArnFormat.SLASH_RESOURCE_NAME,
            )
            self._v1_statement = iam.PolicyStatement(actions=[MEDIAPACKAGE_V1_DESCRIBE_ACTION], resources=[jobs_arn])
            v1_create = iam.PolicyStatement(actions=[MEDIAPACKAGE_V1_CREATE_ACTION], resources=["*"])
            self._v1_pass_role_statement = iam.PolicyStatement(
                actions=["iam:PassRole"],
                conditions={"StringEquals": {"iam:PassedToService": services.V1.principal}},
            )
            self.role.add_to_principal_policy(v1_create)
            self.role.add_to_principal_policy(self._v1_statement)
            self.role.add_to_principal_policy(self._v1_pass_role_statement)
            self._route_job_events(services.V1)
            self._acknowledge_wildcard(
                jobs_arn,
                "MediaPackage v1 harvest job ARNs (harvest_jobs/<id>) name no channel or endpoint, and an Id left "
                "to the handler is only known at deploy time; the action is only DescribeHarvestJob, in this "
                "stack's account and Region.",
            )
            self._acknowledge_wildcard(
                "*",
                "MediaPackage v1's CreateHarvestJob supports no resource-level permissions (the Service "
                "Authorization Reference lists no resource type for it), so IAM matches it only against '*'; "
                "it is the only action granted on '*', and the job's role is limited by iam:PassRole below.",
            )
        key = stack.resolve(role.role_arn)
        key_text = key if isinstance(key, str) else repr(key)
        if key_text in self._v1_roles or self._v1_pass_role_statement is None:
            return
        self._v1_roles.add(key_text)
        self._v1_pass_role_statement.add_resources(role.role_arn)


@jsii.implements(IAspect)
class _WriteJobEventsPattern:
    """Writes the job-event rule's pattern when synthesis visits the rule: every job has registered by then."""

    def __init__(self, provider: HarvestJobProvider) -> None:
        self.provider = provider
        self.done = False

    def visit(self, node: IConstruct) -> None:
        rule = self.provider.job_events_rule
        if not self.done and rule is not None and node is rule:
            self.done = True
            rule.event_pattern = self.provider._job_events_pattern()


def _at_longest(value: Any) -> Any:
    """A resolved template value with each intrinsic as the longest text it can deploy as (for a length)."""
    if isinstance(value, list):
        return [_at_longest(item) for item in value]
    if not isinstance(value, dict):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(str(_at_longest(part)) for part in parts)
    if "Ref" in value and value["Ref"] in _DEPLOYED_LENGTHS:
        return "x" * _DEPLOYED_LENGTHS[value["Ref"]]
    if len(value) == 1 and next(iter(value)).startswith(("Ref", "Fn::")):
        return "x" * spec.NAME_MAX
    return {key: _at_longest(item) for key, item in value.items()}


def nag_arn(arn: str, stack: Stack) -> str:
    """An ARN as cdk-nag writes it in a finding id (``AwsSolutions-IAM5[Resource::<this>]``): a Ref as
    ``<Name>``, a GetAtt as ``<LogicalId.Attribute>``, joined."""
    resolved = stack.resolve(arn)
    parts = resolved.get("Fn::Join", ["", []])[1] if isinstance(resolved, dict) else [resolved]

    def text(part: object) -> str:
        if isinstance(part, dict) and "Ref" in part:
            return f"<{part['Ref']}>"
        if isinstance(part, dict) and "Fn::GetAtt" in part:
            return "<" + ".".join(part["Fn::GetAtt"]) + ">"
        return str(part)

    return "".join(text(part) for part in parts)


def _key_prefix(destination_path: str) -> str:
    """The key prefix ``destination_objects_arn`` grants, ending in '/' ("" for the whole bucket)."""
    stripped = destination_path.rstrip("/") if isinstance(destination_path, str) else ""
    return f"{stripped}/" if stripped else ""


def _rule_prefix(function_address: str, stack_name: str) -> str:
    """A short, stable rule-name prefix unique to this function (and stack name, when it is known)."""
    seed = function_address if is_unresolved(stack_name) else f"{function_address}/{stack_name}"
    return "hj-" + hashlib.sha256(seed.encode()).hexdigest()[:10]
