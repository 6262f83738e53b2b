"""The synthesized template of a stack with several harvest jobs: properties, one provider, IAM scope."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match, Template

from mediapackage_harvest import (
    RESOURCE_TYPE,
    HarvestJob,
    HarvestJobProvider,
    harvester_origin_endpoint_policy_statement,
    origin_endpoint_arn,
)
from mediapackage_harvest.contract import spec
from tests.template_values import as_list, flat

START = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
END = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)
ARN_PREFIX = "arn:${AWS::Partition}:mediapackagev2:${AWS::Region}:${AWS::AccountId}:"


class Synth:
    """Three jobs in one stack: an owned bucket, an imported bucket (same endpoint), a bucket name."""

    def __init__(self) -> None:
        self.stack = Stack(App(), "Jobs")
        self.bucket = s3.Bucket(self.stack, "Clips")
        common: dict[str, Any] = {"channel_group_name": "live", "channel_name": "main", "start_time": START}
        self.owned = HarvestJob(
            self.stack,
            "Owned",
            **common,
            origin_endpoint_name="hls",
            end_time=END,
            hls_manifests=["index"],
            destination_bucket=self.bucket,
            destination_path="clips/owned/",
        )
        self.imported = HarvestJob(
            self.stack,
            "Imported",
            **common,
            origin_endpoint_name="hls",
            end_time=END,
            dash_manifests=["dash"],
            destination_bucket=s3.Bucket.from_bucket_name(self.stack, "Elsewhere", "elsewhere-bucket"),
            destination_path="clips",
        )
        self.named = HarvestJob(
            self.stack,
            "Named",
            **common,
            origin_endpoint_name="llhls",
            end_time=datetime(2026, 1, 16, 10, 0, tzinfo=UTC),
            hls_manifests=["a", "b"],
            low_latency_hls_manifests=["ll"],
            destination_bucket="by-name-bucket",
            destination_path="named",
            description="All the options",
            harvest_job_name="my-job",
            tags={"team": "media"},
            wait_for_completion=False,
            timeout=Duration.minutes(10),
        )
        self.template = Template.from_stack(self.stack)
        self.json = self.template.to_json()

    def logical_id(self, job: HarvestJob) -> str:
        return str(self.stack.resolve(self.stack.get_logical_id(job.resource.node.default_child)))  # type: ignore[arg-type]

    def only(self, resource_type: str) -> tuple[str, Any]:
        found = self.template.find_resources(resource_type)
        assert len(found) == 1, f"expected one {resource_type}, got {list(found)}"
        return next(iter(found.items()))


@pytest.fixture(scope="module")
def synth() -> Synth:
    return Synth()


def test_one_custom_resource_per_job_and_one_function_for_all(synth: Synth) -> None:
    synth.template.resource_count_is(RESOURCE_TYPE, 3)
    synth.template.resource_count_is("AWS::Lambda::Function", 1)
    function_id, _ = synth.only("AWS::Lambda::Function")
    for resource in synth.template.find_resources(RESOURCE_TYPE).values():
        assert resource["Properties"]["ServiceToken"] == {"Fn::GetAtt": [function_id, "Arn"]}


def test_properties_rendered_as_the_design_says(synth: Synth) -> None:
    synth.template.has_resource_properties(
        RESOURCE_TYPE,
        {
            "ChannelGroupName": "live",
            "ChannelName": "main",
            "OriginEndpointName": "hls",
            "HarvestJobName": Match.absent(),
            "HarvestedManifests": {"HlsManifests": [{"ManifestName": "index"}]},
            "ScheduleConfiguration": {"StartTime": "2026-01-15T10:00:00+00:00", "EndTime": "2026-01-15T10:30:00+00:00"},
            "Destination": {
                "S3Destination": {"BucketName": {"Ref": Match.any_value()}, "DestinationPath": "clips/owned/"}
            },
            "Description": Match.absent(),
            "Tags": Match.absent(),
            "WaitForCompletion": "true",
            "Timeout": "3600",
            "ServiceTimeout": "3600",
        },
    )
    synth.template.has_resource_properties(
        RESOURCE_TYPE,
        {
            "OriginEndpointName": "llhls",
            "HarvestJobName": "my-job",
            "HarvestedManifests": {
                "HlsManifests": [{"ManifestName": "a"}, {"ManifestName": "b"}],
                "LowLatencyHlsManifests": [{"ManifestName": "ll"}],
                "DashManifests": Match.absent(),
            },
            "ScheduleConfiguration": {"StartTime": "2026-01-15T10:00:00+00:00", "EndTime": "2026-01-16T10:00:00+00:00"},
            "Destination": {"S3Destination": {"BucketName": "by-name-bucket", "DestinationPath": "named"}},
            "Description": "All the options",
            "Tags": {"team": "media"},
            "WaitForCompletion": "false",
            "Timeout": "600",
            "ServiceTimeout": "600",
        },
    )


def test_service_timeout_equals_timeout_property(synth: Synth) -> None:
    for resource in synth.template.find_resources(RESOURCE_TYPE).values():
        properties = resource["Properties"]
        assert int(properties["ServiceTimeout"]) == int(properties[spec.TIMEOUT])


def test_attributes_are_getatts_of_the_custom_resource(synth: Synth) -> None:
    job = synth.named
    logical_id = synth.logical_id(job)
    attributes = {
        "Arn": job.harvest_job_arn,
        "ETag": job.etag,
        "Status": job.status,
        "HarvestJobName": job.harvest_job_name,
        "CreatedAt": job.created_at,
        "ModifiedAt": job.modified_at,
    }
    assert set(attributes) == set(spec.ATTRIBUTES)
    for name, token in attributes.items():
        assert synth.stack.resolve(token) == {"Fn::GetAtt": [logical_id, name]}


def test_function_configuration(synth: Synth) -> None:
    _, log_group = synth.only("AWS::Logs::LogGroup")
    assert log_group["Properties"]["RetentionInDays"] == 30
    log_group_id, _ = synth.only("AWS::Logs::LogGroup")
    synth.template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.14",
            "Architectures": ["arm64"],
            "MemorySize": 256,
            "Timeout": 360,  # covers one 5-minute poll period watched inline at the deadline
            "Handler": "index.handler",
            "LoggingConfig": {"LogGroup": {"Ref": log_group_id}},
            "Environment": {
                "Variables": {
                    "POWERTOOLS_SERVICE_NAME": "mediapackage-harvest",
                    "POWERTOOLS_LOG_LEVEL": "INFO",
                    spec.POLL_RULE_PREFIX_ENV: Match.string_like_regexp(r"^hj-[0-9a-f]{10}$"),
                }
            },
            "Code": {"S3Key": Match.string_like_regexp(r"^[0-9a-f]{64}\.zip$")},
        },
    )


def test_role_has_no_managed_policies_and_scoped_statements(synth: Synth) -> None:
    _, role = synth.only("AWS::IAM::Role")
    assert "ManagedPolicyArns" not in role["Properties"]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "lambda.amazonaws.com"
    }
    _, policy = synth.only("AWS::IAM::Policy")
    statements = flat(policy["Properties"]["PolicyDocument"]["Statement"])
    log_group_id, _ = synth.only("AWS::Logs::LogGroup")
    _, function = synth.only("AWS::Lambda::Function")
    prefix = function["Properties"]["Environment"]["Variables"][spec.POLL_RULE_PREFIX_ENV]

    by_service: dict[str, list[dict[str, Any]]] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        services = {action.split(":")[0] for action in as_list(statement["Action"])}
        assert len(services) == 1, statement
        by_service.setdefault(services.pop(), []).append(statement)
    assert set(by_service) == {"logs", "mediapackagev2", "events"}

    (logs,) = by_service["logs"]
    assert sorted(as_list(logs["Action"])) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert logs["Resource"] == "${" + log_group_id + ".Arn}"

    (mediapackage, tagging, endpoint_reads) = by_service["mediapackagev2"]
    endpoints = [f"{ARN_PREFIX}channelGroup/live/channel/main/originEndpoint/{name}" for name in ("hls", "llhls")]
    parents = [f"{ARN_PREFIX}channelGroup/live", f"{ARN_PREFIX}channelGroup/live/channel/main", *endpoints]
    jobs = [f"{endpoint}/harvestJob/*" for endpoint in endpoints]
    # The job actions on an ARN of each resource type the Service Authorization Reference requires of them: the
    # channel group, the channel, the endpoint and its jobs; one resource each ("Owned" and "Imported" share one).
    assert sorted(as_list(mediapackage["Action"])) == sorted(f"mediapackagev2:{a}" for a in _MEDIAPACKAGE_ACTIONS)
    assert sorted(as_list(mediapackage["Resource"])) == sorted(parents + jobs)
    # Tagging is judged on the tagged resource alone: the jobs.
    assert sorted(as_list(tagging["Action"])) == ["mediapackagev2:TagResource", "mediapackagev2:UntagResource"]
    assert sorted(as_list(tagging["Resource"])) == jobs
    # The preflight reads exactly those endpoints (with their channel group and channel), and nothing of their jobs.
    assert sorted(as_list(endpoint_reads["Action"])) == [
        "mediapackagev2:GetOriginEndpoint",
        "mediapackagev2:GetOriginEndpointPolicy",
    ]
    assert sorted(as_list(endpoint_reads["Resource"])) == sorted(parents)

    (events,) = by_service["events"]
    assert sorted(as_list(events["Action"])) == sorted(f"events:{a}" for a in _EVENTS_ACTIONS)
    assert events["Resource"] == f"arn:${{AWS::Partition}}:events:${{AWS::Region}}:${{AWS::AccountId}}:rule/{prefix}*"

    for statement in statements:
        assert "*" not in as_list(statement["Resource"])


_MEDIAPACKAGE_ACTIONS = ("CreateHarvestJob", "GetHarvestJob", "CancelHarvestJob")
_EVENTS_ACTIONS = ("PutRule", "PutTargets", "RemoveTargets", "DeleteRule", "DescribeRule", "ListTargetsByRule")


def test_one_events_permission_for_all_polling_rules(synth: Synth) -> None:
    # Two permissions in all: this one for every polling rule, and the job events rule's own.
    synth.template.resource_count_is("AWS::Lambda::Permission", 2)
    function_id, function = synth.only("AWS::Lambda::Function")
    prefix = function["Properties"]["Environment"]["Variables"][spec.POLL_RULE_PREFIX_ENV]
    permission_id, permission = next(
        (rid, res)
        for rid, res in synth.template.find_resources("AWS::Lambda::Permission").items()
        if "rule/" in str(res["Properties"]["SourceArn"])
    )
    assert flat(permission["Properties"]) == {
        "Action": "lambda:InvokeFunction",
        "FunctionName": "${" + function_id + ".Arn}",
        "Principal": "events.amazonaws.com",
        "SourceAccount": "${AWS::AccountId}",
        "SourceArn": f"arn:${{AWS::Partition}}:events:${{AWS::Region}}:${{AWS::AccountId}}:rule/{prefix}*",
    }
    # Every job waits for the permission, so the first polling rule can invoke the handler.
    for resource in synth.template.find_resources(RESOURCE_TYPE).values():
        assert permission_id in resource["DependsOn"]


def test_one_rule_routes_the_stacks_job_events_to_the_handler(synth: Synth) -> None:
    """One rule for the stack's three jobs, matching only MediaPackage v2's harvest-job events of the stack's two
    endpoints, with one invoke permission of its own; the polling permission every job waits for waits for both."""
    (rule_id, rule), function_id = synth.only("AWS::Events::Rule"), synth.only("AWS::Lambda::Function")[0]
    assert flat(rule["Properties"]["EventPattern"]) == {
        "source": ["aws.mediapackagev2"],
        "detail-type": ["MediaPackageV2 HarvestJob Notification"],
        "resources": [
            {"prefix": f"{ARN_PREFIX}channelGroup/live/channel/main/originEndpoint/{endpoint}/harvestJob/"}
            for endpoint in ("hls", "llhls")
        ],
    }
    assert rule["Properties"]["State"] == "ENABLED"
    assert [flat(t) for t in rule["Properties"]["Targets"]] == [{"Arn": "${" + function_id + ".Arn}", "Id": "handler"}]
    permissions = synth.template.find_resources("AWS::Lambda::Permission")
    own = [
        rid for rid, res in permissions.items() if res["Properties"]["SourceArn"] == {"Fn::GetAtt": [rule_id, "Arn"]}
    ]
    assert len(own) == 1
    assert permissions[own[0]]["Properties"]["Principal"] == "events.amazonaws.com"
    polling = next(rid for rid in permissions if rid not in own)
    assert own[0] in permissions[polling]["DependsOn"]


def test_owned_bucket_gets_a_scoped_statement(synth: Synth) -> None:
    bucket_id, _ = synth.only("AWS::S3::Bucket")
    policy_id, policy = synth.only("AWS::S3::BucketPolicy")
    assert policy["Properties"]["Bucket"] == {"Ref": bucket_id}
    endpoint = f"{ARN_PREFIX}channelGroup/live/channel/main/originEndpoint/hls"
    assert flat(policy["Properties"]["PolicyDocument"]["Statement"]) == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "mediapackagev2.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": "${" + bucket_id + ".Arn}/clips/owned/*",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": "${AWS::AccountId}"},
                "ArnLike": {"aws:SourceArn": [endpoint, f"{endpoint}/*"]},
            },
        }
    ]
    # The job writing there waits for the bucket policy.
    assert policy_id in synth.json["Resources"][synth.logical_id(synth.owned)]["DependsOn"]


def test_imported_bucket_warns_instead(synth: Synth) -> None:
    Annotations.from_stack(synth.stack).has_warning(
        "/Jobs/Imported", Match.string_like_regexp("imported.*harvester_bucket_policy_statement")
    )
    Annotations.from_stack(synth.stack).has_no_warning("/Jobs/Owned", Match.any_value())
    assert "elsewhere-bucket" not in json.dumps(synth.template.find_resources("AWS::S3::BucketPolicy"))


def test_kms_encrypted_bucket_warns_about_the_key() -> None:
    stack = Stack(App(), "Kms")
    bucket = s3.Bucket(stack, "Clips", encryption=s3.BucketEncryption.KMS)
    HarvestJob(
        stack,
        "Job",
        channel_group_name="live",
        channel_name="main",
        origin_endpoint_name="hls",
        hls_manifests=["index"],
        start_time=START,
        end_time=END,
        destination_bucket=bucket,
        destination_path="clips",
    )
    Annotations.from_stack(stack).has_warning("/Kms/Job", Match.string_like_regexp("KMS key.*kms:GenerateDataKey"))


def test_template_holds_no_timestamps_or_randomness(synth: Synth) -> None:
    again = Synth()
    assert again.json == synth.json


def test_each_stack_gets_its_own_provider_and_rule_prefix() -> None:
    app = App()
    prefixes = []
    for name in ("One", "Two"):
        stack = Stack(app, name)
        for index in range(2):
            HarvestJob(
                stack,
                f"Job{index}",
                channel_group_name="live",
                channel_name="main",
                origin_endpoint_name="hls",
                hls_manifests=["index"],
                start_time=START,
                end_time=END,
                destination_bucket="harvest-bucket",
                destination_path="clips",
            )
        provider = HarvestJobProvider.of(stack)
        assert [c for c in stack.node.children if isinstance(c, HarvestJobProvider)] == [provider]
        assert re.fullmatch(r"hj-[0-9a-f]{10}", provider.rule_prefix)
        prefixes.append(provider.rule_prefix)
    assert prefixes[0] != prefixes[1]


def test_origin_endpoint_policy_statement() -> None:
    stack = Stack(App(), "Policy")
    statement = harvester_origin_endpoint_policy_statement("live", "main", "hls")
    endpoint = f"{ARN_PREFIX}channelGroup/live/channel/main/originEndpoint/hls"
    assert flat(stack.resolve(statement.to_statement_json())) == {
        "Sid": "AllowMediaPackageHarvester",
        "Effect": "Allow",
        "Principal": {"Service": "mediapackagev2.amazonaws.com"},
        "Action": ["mediapackagev2:HarvestObject", "mediapackagev2:GetObject"],
        "Resource": endpoint,
        "Condition": {"StringEquals": {"AWS:SourceAccount": "${AWS::AccountId}"}},
    }
    explicit = harvester_origin_endpoint_policy_statement("live", "main", "hls", account="111122223333")
    resolved = flat(stack.resolve(explicit.to_statement_json()))
    assert resolved["Condition"] == {"StringEquals": {"AWS:SourceAccount": "111122223333"}}
    assert resolved["Resource"] == origin_endpoint_arn(
        "live", "main", "hls", partition="${AWS::Partition}", region="${AWS::Region}", account="111122223333"
    )


def test_many_clips_into_one_bucket_share_one_bucket_policy_statement() -> None:
    """S3 caps a bucket policy at 20 KB: 100 clips from one endpoint must not add 100 statements."""
    stack = Stack(App(), "ManyClips")
    bucket = s3.Bucket(stack, "Clips")
    for index in range(100):
        HarvestJob(
            stack,
            f"Clip{index}",
            channel_group_name="live",
            channel_name="main",
            origin_endpoint_name="hls",
            start_time=START,
            end_time=END,
            hls_manifests=["index"],
            destination_bucket=bucket,
            destination_path=f"clips/{index:03d}",
        )
    template = Template.from_stack(stack)
    (policy,) = template.find_resources("AWS::S3::BucketPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    harvester = [s for s in statements if s.get("Principal", {}).get("Service") == "mediapackagev2.amazonaws.com"]
    assert len(harvester) == 1
    written = {flat(r) for r in as_list(harvester[0]["Resource"])}
    assert {w.split("/", 1)[1] for w in written} == {f"clips/{i:03d}/*" for i in range(100)}
    assert len(json.dumps(policy["Properties"]["PolicyDocument"])) < 20 * 1024
