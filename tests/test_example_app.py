"""The example app synthesizes as `cdk synth` would run it, to a template cfn-lint finds nothing in."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint

from mediapackage_harvest.rehearsal.template import Environment, Template
from tests.role_coverage import coverage, handler_calls

REPO = Path(__file__).resolve().parents[1]
STACK = "MediaPackageHarvestExample"
# A window given as context: two hours ago, inside the example endpoint's one-day startover window on any day.
GIVEN_START = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
GIVEN_END = GIVEN_START + timedelta(minutes=45)
SYNTH_STARTED: list[datetime] = []


def synthesize(outdir: Path, context: dict[str, Any] | None) -> subprocess.Popen[str]:
    """Start ``python app.py`` the way the CDK CLI does: cloud assembly dir and context through the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDK_")}
    env["CDK_OUTDIR"] = str(outdir)
    if context is not None:
        env["CDK_CONTEXT_JSON"] = json.dumps(context)
    # From another directory: the app must not depend on the working directory.
    return subprocess.Popen(
        [sys.executable, str(REPO / "app.py")], cwd=outdir.parent, env=env, stderr=subprocess.PIPE, text=True
    )


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The example synthesized four ways at once: bare, with cdk.json's context, with a context override (names
    and window), and with ``harvest=false`` (the endpoint without a job)."""
    cdk_context = json.loads((REPO / "cdk.json").read_text())["context"]
    window = {"startTime": GIVEN_START.isoformat(), "endTime": GIVEN_END.isoformat()}
    runs = {
        "bare": None,
        "cdk.json": cdk_context,
        "override": {**cdk_context, "channel": "other-channel", **window},
        "no-harvest": {**cdk_context, "harvest": "false"},
    }
    SYNTH_STARTED.append(datetime.now(UTC))
    processes = {}
    for name, context in runs.items():
        outdir = tmp_path_factory.mktemp(name.replace(".", "-")) / "cdk.out"
        processes[name] = (outdir, synthesize(outdir, context))
    results = {}
    for name, (outdir, process) in processes.items():
        _, errors = process.communicate(timeout=300)
        assert process.returncode == 0, errors
        results[name] = json.loads((outdir / f"{STACK}.template.json").read_text())
    return results


def test_outputs(templates: dict[str, dict[str, Any]]) -> None:
    outputs = templates["bare"]["Outputs"]
    assert "HarvestJobArn" in outputs
    assert "HarvestJobETag" in outputs
    job_id = outputs["HarvestJobArn"]["Value"]["Fn::GetAtt"][0]
    assert outputs["HarvestJobArn"]["Value"] == {"Fn::GetAtt": [job_id, "Arn"]}
    assert outputs["HarvestJobETag"]["Value"] == {"Fn::GetAtt": [job_id, "ETag"]}
    assert templates["bare"]["Resources"][job_id]["Type"] == "Custom::MediaPackageV2HarvestJob"


def the_job(template: dict[str, Any]) -> dict[str, Any]:
    """The app's one HarvestJob (its outputs name it), beside the clips of its highlight reel."""
    job_id = template["Outputs"]["HarvestJobArn"]["Value"]["Fn::GetAtt"][0]
    job: dict[str, Any] = template["Resources"][job_id]
    return job


def test_cdk_json_context_matches_the_app_defaults(templates: dict[str, dict[str, Any]]) -> None:
    assert templates["cdk.json"] == templates["bare"]


def test_context_overrides_reach_the_job(templates: dict[str, dict[str, Any]]) -> None:
    job = the_job(templates["override"])
    assert job["Properties"]["ChannelName"] == "other-channel"
    assert job["Properties"]["ScheduleConfiguration"] == {
        "StartTime": GIVEN_START.isoformat(),
        "EndTime": GIVEN_END.isoformat(),
    }


def test_the_default_window_is_the_last_half_hour_that_ended_ten_minutes_before_synth(
    templates: dict[str, dict[str, Any]],
) -> None:
    schedule = the_job(templates["bare"])["Properties"]["ScheduleConfiguration"]
    start, end = (datetime.fromisoformat(schedule[key]) for key in ("StartTime", "EndTime"))
    assert end - start == timedelta(minutes=30)
    assert (end.minute, end.second, end.microsecond) in {(0, 0, 0), (30, 0, 0)}
    started, checked = SYNTH_STARTED[0], datetime.now(UTC)
    # Ended at least 10 minutes before the synth, and no later half hour had: the most recent one.
    assert end <= checked - timedelta(minutes=10)
    assert end + timedelta(minutes=30) > started - timedelta(minutes=10)


def test_the_job_harvests_the_endpoint_the_stack_declares(templates: dict[str, dict[str, Any]]) -> None:
    resources = templates["bare"]["Resources"]
    (endpoint,) = (r for r in resources.values() if r["Type"] == "AWS::MediaPackageV2::OriginEndpoint")
    job = the_job(templates["bare"])
    ((policy_id, policy),) = (
        (rid, r) for rid, r in resources.items() if r["Type"] == "AWS::MediaPackageV2::OriginEndpointPolicy"
    )
    names = ("ChannelGroupName", "ChannelName", "OriginEndpointName")
    assert {k: job["Properties"][k] for k in names} == {k: endpoint["Properties"][k] for k in names}
    assert {k: policy["Properties"][k] for k in names} == {k: endpoint["Properties"][k] for k in names}
    assert endpoint["Properties"]["StartoverWindowSeconds"] > 0
    assert endpoint["Properties"]["HlsManifests"] == job["Properties"]["HarvestedManifests"]["HlsManifests"]
    (statement,) = policy["Properties"]["Policy"]["Statement"]
    assert statement["Principal"] == {"Service": "mediapackagev2.amazonaws.com"}
    assert sorted(statement["Action"]) == ["mediapackagev2:GetObject", "mediapackagev2:HarvestObject"]
    assert policy_id in job["DependsOn"]


def test_the_highlight_reel_harvests_three_clips_of_the_window_from_the_same_endpoint(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["override"]
    jobs = [r for r in template["Resources"].values() if r["Type"] == "Custom::MediaPackageV2HarvestJob"]
    clips = {job["Properties"]["Destination"]["S3Destination"]["DestinationPath"]: job["Properties"] for job in jobs}
    prefix = "harvests/example/highlights"
    expected = ["harvests/example", *(f"{prefix}/{name}/" for name in ("kick-off", "goal", "final-whistle"))]
    assert sorted(clips) == sorted(expected)  # the job, and the reel's clips under the reel's prefix
    goal = clips[f"{prefix}/goal/"]
    assert goal["ChannelName"] == "other-channel"
    assert goal["ScheduleConfiguration"] == {
        "StartTime": (GIVEN_START + timedelta(minutes=12)).isoformat(),
        "EndTime": (GIVEN_START + timedelta(minutes=14)).isoformat(),
    }
    listing = template["Outputs"]["HighlightsClipsC34A226D"]["Value"]["Fn::Join"][1]
    assert listing[0] == '[{"name":"final-whistle","arn":"'


def test_harvest_false_deploys_the_endpoint_without_a_job(templates: dict[str, dict[str, Any]]) -> None:
    types = [r["Type"] for r in templates["no-harvest"]["Resources"].values()]
    assert "AWS::MediaPackageV2::OriginEndpoint" in types
    assert "Custom::MediaPackageV2HarvestJob" not in types
    assert "HarvestJobArn" not in templates["no-harvest"]["Outputs"]


def test_buckets_are_private_encrypted_and_tls_only(templates: dict[str, dict[str, Any]]) -> None:
    resources = templates["bare"]["Resources"]
    buckets = {rid: r for rid, r in resources.items() if r["Type"] == "AWS::S3::Bucket"}
    policies = {r["Properties"]["Bucket"]["Ref"]: r for r in resources.values() if r["Type"] == "AWS::S3::BucketPolicy"}
    assert len(buckets) == 2  # the harvest bucket and the bucket its access logs go to
    for logical_id, bucket in buckets.items():
        properties = bucket["Properties"]
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        encryption = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in policies[logical_id]["Properties"]["PolicyDocument"]["Statement"]
        )


def test_the_harvest_bucket_logs_its_access_to_the_other(templates: dict[str, dict[str, Any]]) -> None:
    resources = templates["bare"]["Resources"]
    buckets = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::S3::Bucket"]
    (config,) = [properties["LoggingConfiguration"] for properties in buckets if "LoggingConfiguration" in properties]
    target = resources[config["DestinationBucketName"]["Ref"]]
    assert target["Type"] == "AWS::S3::Bucket" and "LoggingConfiguration" not in target["Properties"]


def test_cfn_lint_finds_nothing(templates: dict[str, dict[str, Any]]) -> None:
    matches = lint(json.dumps(templates["bare"]), regions=["us-east-1", "eu-west-1"])
    assert [str(m) for m in matches] == []


def test_the_role_allows_every_call_the_handler_makes_on_every_resource(templates: dict[str, dict[str, Any]]) -> None:
    """Read from the handler's code, judged against the Service Authorization Reference (tests/role_coverage.py)."""
    template = Template(copy.deepcopy(templates["cdk.json"]), Environment(STACK))
    rows = coverage(template, handler_calls())
    assert rows and [row for row in rows if not row.allowed_by] == []
