"""Least privilege: cdk-nag's AwsSolutions pack (cdk-nag 3, a CDK validation plugin) finds nothing unacknowledged
in the example app or in a stack of several jobs, every acknowledgment says why, no MediaPackage action is
granted on ``*``, and the role grants exactly the MediaPackage and EventBridge calls the rehearsed handler makes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Acknowledgment, App, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks

from mediapackage_harvest import HarvestJob, MediaPackageV1HarvestJob
from mediapackage_harvest.rehearsal.scenario import JobScript, Scenario
from tests.reliability.faults import FaultRehearsal
from tests.reliability.helpers import REHEARSAL_START, Stacks
from tests.reliability.matrix import retagged

REPO = Path(__file__).resolve().parents[2]
START = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
ACKNOWLEDGED = Validations.ACKNOWLEDGED_RULES_METADATA_KEY
REASON_MIN_WORDS = 12  # a reason is a sentence that says why, not a label


def violations(outdir: Path) -> list[dict[str, Any]]:
    """Every violation in the cloud assembly's validation report (none when there is no report)."""
    report = outdir / "validation-report.json"
    if not report.exists():
        return []
    plugins = json.loads(report.read_text()).get("pluginReports", [])
    return [violation for plugin in plugins for violation in plugin.get("violations", [])]


def several_jobs(app: App, *, unlogged_bucket: bool = False) -> Stack:
    """v2 jobs on three origin endpoints, into an app-owned bucket (access-logged) and a bucket named by string, and
    a v1 job (whose CreateHarvestJob IAM matches only against '*')."""
    stack = Stack(app, "SeveralJobs")
    stack.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)  # as the example app does
    logs = s3.Bucket(
        stack,
        "AccessLogs",
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        encryption=s3.BucketEncryption.S3_MANAGED,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        removal_policy=RemovalPolicy.RETAIN,
    )
    why = "This bucket receives the other bucket's access logs; logging its own access would need yet another one."
    Validations.of(logs).acknowledge(Acknowledgment(id="AwsSolutions-S1", reason=why))
    bucket = s3.Bucket(
        stack,
        "Harvests",
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        encryption=s3.BucketEncryption.S3_MANAGED,
        server_access_logs_bucket=logs,
        removal_policy=RemovalPolicy.RETAIN,
    )
    for index, endpoint in enumerate(("hls", "dash", "cmaf", "hls", "dash", "cmaf")):
        HarvestJob(
            stack,
            f"Clip{index}",
            channel_group_name="live",
            channel_name=f"channel-{index % 2}",
            origin_endpoint_name=endpoint,
            hls_manifests=["index"],
            start_time=START + timedelta(minutes=index),
            end_time=START + timedelta(minutes=index + 30),
            destination_bucket=bucket if index % 2 else "harvest-bucket",
            destination_path=f"clips/{index}",
            harvest_job_name=f"fixed-{index}" if index == 5 else None,
            tags={"clip": str(index)},
            timeout=Duration.minutes(20),
        )
    MediaPackageV1HarvestJob(
        stack,
        "LegacyClip",
        origin_endpoint_id="legacy-hls",
        start_time=START,
        end_time=START + timedelta(minutes=30),
        destination_bucket=bucket,
        manifest_key="legacy/index.m3u8",
        timeout=Duration.minutes(20),
    )
    if unlogged_bucket:
        s3.Bucket(stack, "Unlogged", enforce_ssl=True)
    return stack


def synth_with_nag(outdir: Path, *, unlogged_bucket: bool = False) -> tuple[Stack, dict[str, Any]]:
    app = App(outdir=str(outdir))
    stack = several_jobs(app, unlogged_bucket=unlogged_bucket)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    template = app.synth().get_stack_by_name(stack.stack_name).template
    return stack, template


def acknowledgments(stack: Stack) -> dict[str, str]:
    """Every acknowledged finding in the stack's construct tree, with its reason."""
    found: dict[str, str] = {}
    for construct in stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == ACKNOWLEDGED:
                found.update({f"{construct.node.path}: {rule}": str(why) for rule, why in entry.data.items()})
    return found


def mediapackage_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    statements = [
        statement
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy"
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]
    return [s for s in statements if any(a.startswith("mediapackagev2:") for a in _list(s["Action"]))]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# The example app ---------------------------------------------------------------------------------------------


def test_the_example_app_is_nag_clean(tmp_path: Path) -> None:
    """`python app.py` as the CDK CLI runs it, with `-c nag=true`: synthesis fails on any unacknowledged finding."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDK_")}
    env |= {"CDK_OUTDIR": str(tmp_path / "cdk.out"), "CDK_CONTEXT_JSON": json.dumps({"nag": "true"})}
    done = subprocess.run(
        [sys.executable, str(REPO / "app.py")], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert violations(tmp_path / "cdk.out") == []
    assert "AwsSolutions-" not in done.stdout + done.stderr


# A stack of several jobs ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nagged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Stack, dict[str, Any], Path]:
    outdir = tmp_path_factory.mktemp("nag") / "cdk.out"
    stack, template = synth_with_nag(outdir)
    return stack, template, outdir


def test_several_jobs_are_nag_clean(nagged: tuple[Stack, dict[str, Any], Path]) -> None:
    _, _, outdir = nagged
    assert violations(outdir) == []


def test_the_nag_check_does_fail_on_a_finding(tmp_path: Path) -> None:
    """The same stack with one bucket that logs nothing: cdk-nag stops the synthesis, naming the rule."""
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        synth_with_nag(tmp_path / "cdk.out", unlogged_bucket=True)
    assert [v["ruleName"] for v in violations(tmp_path / "cdk.out")] == ["AwsSolutions-S1"]


def test_every_acknowledgment_says_why(nagged: tuple[Stack, dict[str, Any], Path]) -> None:
    stack, _, _ = nagged
    found = acknowledgments(stack)
    # The construct's own: the rule-prefix wildcard and one harvest-job wildcard per origin endpoint (3 here).
    construct_findings = [f for f in found if "MediaPackageHarvestProvider" in f]
    assert len([f for f in construct_findings if ":events:" in f]) == 1
    assert len([f for f in construct_findings if "/harvestJob/*" in f]) == 3 * 2  # 3 endpoints on 2 channels
    # v1: DescribeHarvestJob on the account's v1 jobs, CreateHarvestJob on '*' (no resource-level permissions).
    assert len([f for f in construct_findings if ":harvest_jobs/*" in f]) == 1
    assert len([f for f in construct_findings if f.endswith("AwsSolutions-IAM5[Resource::*]")]) == 1
    for finding, reason in found.items():
        assert len(reason.split()) >= REASON_MIN_WORDS, f"{finding}: {reason!r}"


def test_no_mediapackage_action_on_a_star(nagged: tuple[Stack, dict[str, Any], Path]) -> None:
    """Job actions on the stack's channel groups, channels, endpoints and their jobs; tagging on the jobs; the
    preflight's reads on exactly those endpoints and their parents."""
    _, template, _ = nagged
    statements = mediapackage_statements(template)
    assert statements
    reads = {"mediapackagev2:GetOriginEndpoint", "mediapackagev2:GetOriginEndpointPolicy"}
    tagging = {"mediapackagev2:TagResource", "mediapackagev2:UntagResource"}
    for statement in statements:
        actions = set(_list(statement["Action"]))
        for resource in _list(statement["Resource"]):
            assert resource != "*"
            text = json.dumps(resource)
            assert ":channelGroup/live" in text
            if actions == tagging:
                assert text.endswith('/harvestJob/*"]]}')
            elif "*" in text:
                assert actions != reads and text.endswith('/harvestJob/*"]]}')
    read_statements = [s for s in statements if set(_list(s["Action"])) == reads]
    # 1 channel group, 2 channels and 3 endpoints on each
    assert len(read_statements) == 1 and len(_list(read_statements[0]["Resource"])) == 1 + 2 + 3 * 2


# The calls the role allows -------------------------------------------------------------------------------------


def granted(template: dict[str, Any], service: str) -> set[str]:
    """The actions of ``service`` the handler's role is granted."""
    actions = {
        action
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy"
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
        for action in _list(statement["Action"])
    }
    return {a.split(":", 1)[1] for a in actions if a.startswith(f"{service}:")}


def test_the_role_grants_exactly_the_calls_the_handler_makes(stacks: Stacks) -> None:
    """A long job polled to completion, a tags update, a delete that cancels: every call a deploy makes."""
    used: dict[str, set[str]] = {"mediapackagev2": set(), "events": set()}
    for name, job in (("FaultMatrix", JobScript(5, 110)), ("FaultMatrixNoWait", JobScript(5, 1800))):
        template = stacks.template(name)
        with FaultRehearsal(Scenario(default_job=job), start=REHEARSAL_START) as rehearsal:
            statuses = [rehearsal.deploy(template).status]
            if name == "FaultMatrixNoWait":
                statuses.append(rehearsal.deploy(retagged(template)).status)
            statuses.append(rehearsal.destroy().status)
            assert statuses[-1] == "DELETE_COMPLETE", statuses
            used["mediapackagev2"] |= {call.operation for call in rehearsal.emulator.calls}
            used["events"] |= {call.operation for call in rehearsal.eventbridge.calls}
    body = stacks.bodies["FaultMatrix"]
    assert granted(body, "mediapackagev2") == used["mediapackagev2"]
    assert granted(body, "events") == used["events"]
