"""The README's main job, `mediapackage-harvest-rehearse`, on a stack holding a v1 and a v2 job."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aws_cdk import App, CfnOutput, Stack
from aws_cdk.assertions import Template as CdkTemplate

from mediapackage_harvest import HarvestJob, MediaPackageV1HarvestJob
from mediapackage_harvest.rehearsal.cli import main

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
END = datetime(2026, 3, 1, 9, 20, tzinfo=UTC)


def test_rehearse_prints_timeline_and_outputs_and_cleans_up(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = Stack(App(), "MixedStack")
    v2 = HarvestJob(
        stack,
        "Clip",
        channel_group_name="g",
        channel_name="c",
        origin_endpoint_name="e",
        hls_manifests=["index"],
        start_time=START,
        end_time=END,
        destination_bucket="clips-bucket",
        destination_path="clips/v2",
    )
    v1 = MediaPackageV1HarvestJob(
        stack,
        "LegacyClip",
        origin_endpoint_id="legacy-hls",
        start_time=START,
        end_time=END,
        destination_bucket="clips-bucket",
        manifest_key="clips/v1/index.m3u8",
    )
    CfnOutput(stack, "HarvestJobArn", value=v2.harvest_job_arn)
    CfnOutput(stack, "HarvestJobETag", value=v2.etag)
    CfnOutput(stack, "LegacyJobArn", value=v1.harvest_job_arn)
    template = tmp_path / "MixedStack.template.json"
    template.write_text(json.dumps(CdkTemplate.from_stack(stack).to_json()))

    assert main([str(template), "--out", str(tmp_path / "out")]) == 0

    printed = capsys.readouterr().out
    assert "CREATE_COMPLETE, DELETE_COMPLETE" in printed
    assert "Output HarvestJobArn = arn:aws:mediapackagev2:us-east-1:123456789012:channelGroup/g/channel/c/" in printed
    assert "Output LegacyJobArn = arn:aws:mediapackage:us-east-1:123456789012:harvest_jobs/" in printed
    assert "rules left 0" in printed
    timeline = json.loads((tmp_path / "out" / "MixedStack.timeline.json").read_text())
    created = [e["resource"] for e in timeline if e["what"] == "Create SUCCESS"]
    assert sorted(created) == sorted([_logical(template, "Clip"), _logical(template, "LegacyClip")])


def _logical(template: Path, construct_id: str) -> str:
    body = json.loads(template.read_text())
    (found,) = [
        rid
        for rid in body["Resources"]
        if rid.startswith(construct_id) and "Custom::" in body["Resources"][rid]["Type"]
    ]
    return str(found)
