"""The README's main job, `mediapackage-harvest-rehearse`, on a stack holding a v1 and a v2 job."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aws_cdk import App, CfnOutput, Stack
from aws_cdk.assertions import Template as CdkTemplate

from mediapackage_harvest import HarvestJob, MediaPackageV1HarvestJob
from mediapackage_harvest.rehearsal.cli import install_hint, main
from tests.rehearsal.stacks import Synthesized

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
END = datetime(2026, 3, 1, 9, 20, tzinfo=UTC)
AFTER_MIXED = "2026-03-01T09:25:00Z"  # a deploy time after the mixed stack's window
AFTER_STACKS = "2026-01-15T10:35:00Z"  # after the window of the session's stacks (tests/rehearsal/stacks.py)


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

    assert main([str(template), "--deploy-time", AFTER_MIXED, "--out", str(tmp_path / "out")]) == 0

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


# Choosing what to rehearse, and bad input: one line on stderr, exit status 2, no traceback. ---------------


@pytest.fixture
def cdk_out(tmp_path: Path, stacks: Synthesized) -> Path:
    """A cloud assembly folder with two stacks holding harvest jobs and one holding none."""
    out = tmp_path / "cdk.out"
    out.mkdir()
    for name in ("One", "NoWait"):
        (out / f"{name}.template.json").write_text(json.dumps(stacks.first[name]))
    (out / "Empty.template.json").write_text(json.dumps({"Resources": {}}))
    return out


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err + captured.out
    return lines[0]


def test_help_is_plain_text_with_the_defaults(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one help line per option, whatever the terminal
    with pytest.raises(SystemExit) as exit:
        main(["--help"])
    assert exit.value.code == 0
    shown = capsys.readouterr().out
    assert "``" not in shown and ":class:" not in shown
    for option in ("--stack NAME", "--deploy-time ISO", "--scenario FILE", "--keep", "--handler-logs", "--out DIR"):
        assert option in shown
    assert "(default: cdk.out)" in shown and "(default: rehearsal-out)" in shown
    assert "(default: now, as a real deploy)" in shown


def test_a_missing_cloud_assembly_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "cdk.out")]) == 2
    line = _one_error_line(capsys)
    assert line.startswith("mediapackage-harvest-rehearse: error: ") and "cdk.out not found" in line


def test_an_unknown_stack_is_one_line_naming_the_stacks_there(
    cdk_out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(cdk_out), "--stack", "Onee"]) == 2
    assert "no stack 'Onee'" in (line := _one_error_line(capsys)) and "Empty, NoWait, One" in line
    assert main([str(cdk_out), "--stack", "Empty"]) == 2
    assert "stack 'Empty' holds no HarvestJob" in _one_error_line(capsys)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"default_job": {"queued_secs": 5}}', "default_job: unknown key(s) queued_secs"),
        ('{"default_job": {"queued_seconds": 5,}}', "not valid JSON"),
        ('{"faults": [{"operation": "GetHarvestJob", "code": "Throttled"}]}', "faults[0].code: must be one of"),
    ],
    ids=["typo", "bad-json", "bad-value"],
)
def test_a_bad_scenario_file_is_one_line_naming_the_key(
    cdk_out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, expected: str
) -> None:
    scenario = tmp_path / "scenario.json"
    scenario.write_text(content)
    assert main([str(cdk_out), "--scenario", str(scenario)]) == 2
    line = _one_error_line(capsys)
    assert str(scenario) in line and expected in line
    assert not (tmp_path / "rehearsal-out").exists()


def test_a_missing_scenario_file_and_a_bad_deploy_time_are_one_line(
    cdk_out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(cdk_out), "--scenario", str(tmp_path / "nope.json")]) == 2
    assert "nope.json: No such file or directory" in _one_error_line(capsys)
    assert main([str(cdk_out), "--deploy-time", "2026-01-15T11:00:00"]) == 2
    assert "give a timezone" in _one_error_line(capsys)
    assert main([str(cdk_out), "--deploy-time", "yesterday"]) == 2
    assert "not an ISO 8601 time" in _one_error_line(capsys)


def test_stack_picks_what_is_rehearsed(cdk_out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [str(cdk_out), "--stack", "NoWait", "--deploy-time", AFTER_STACKS, "--out", str(tmp_path / "out")]
    assert main(args) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["NoWait.timeline.json"]
    assert "== NoWait: CREATE_COMPLETE, DELETE_COMPLETE ==" in capsys.readouterr().out


def test_a_failed_rehearsal_names_each_failed_resource_and_its_whole_reason(
    cdk_out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message = "Manifest index was not found on origin endpoint hls in channel main of channel group live"
    scenario = tmp_path / "failed.json"
    scenario.write_text(json.dumps({"default_job": {"outcome": "FAILED", "error_message": message}}))
    args = [str(cdk_out), "--stack", "One", "--scenario", str(scenario), "--deploy-time", AFTER_STACKS]
    assert main([*args, "--out", str(tmp_path / "out")]) == 1

    printed = capsys.readouterr().out
    assert "== One: ROLLBACK_COMPLETE ==" in printed
    (failed,) = [line for line in printed.splitlines() if line.startswith("FAILED ")]
    (logical_id,) = [
        rid for rid in json.loads((cdk_out / "One.template.json").read_text())["Resources"] if "Clip" in rid
    ]
    assert failed.startswith(f"FAILED Create {logical_id}: ") and failed.endswith(message)
    arns = {word.rstrip(";,") for word in printed.split() if word.startswith("arn:aws:mediapackagev2:")}
    assert arns and all("/harvestJob/" in arn and not arn.endswith("…") for arn in arns)
    assert " ".join(printed.split()).count(message) >= 2, "the timeline shows the whole reason too"


def test_the_deploy_time_is_when_the_rehearsal_deploys(
    cdk_out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before_the_window = "2026-01-15T09:00:00+00:00"  # the stack's window is 10:00-10:30
    args = [str(cdk_out), "--stack", "One", "--deploy-time", before_the_window, "--out", str(tmp_path / "out")]
    assert main(args) == 1
    (failed,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("FAILED ")]
    assert "StartTime" in failed and "future" in failed


# What the command says besides the rehearsal: the deploy time, the handler's warnings as rows, a stale assembly. ---


def test_the_deploy_time_heads_the_timeline_and_handler_warnings_are_rows_not_log_lines(
    cdk_out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "quota.json"
    fault = {"operation": "CreateHarvestJob", "code": "ServiceQuotaExceededException", "attempts": [1]}
    scenario.write_text(json.dumps({"faults": [fault]}))
    args = [str(cdk_out), "--stack", "One", "--scenario", str(scenario), "--deploy-time", AFTER_STACKS]
    assert main([*args, "--out", str(tmp_path / "out")]) == 0

    printed = capsys.readouterr().out
    assert "== One: rehearsal timeline, deploy at 2026-01-15 10:35:00 UTC (--deploy-time); t in virtual" in printed
    assert not [line for line in printed.splitlines() if line.startswith("{")], "no handler log line by default"
    (row,) = [line for line in printed.splitlines() if "log WARNING" in line]
    assert row.split()[:3] == ["0.0", "10:35:00", "lambda"]
    assert row.endswith("Service quota exceeded; the create will be")  # the detail wraps on
    written = json.loads((tmp_path / "out" / "One.timeline.json").read_text())
    (entry,) = [e for e in written if e["what"] == "log WARNING"]
    assert entry["time"] == "2026-01-15T10:35:00Z"
    assert entry["detail"].startswith("Service quota exceeded; the create will be retried; problem: ServiceQuota")


def test_a_cloud_assembly_older_than_the_apps_sources_says_its_age(
    cdk_out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "cdk.json").write_text(json.dumps({"app": "python3 app.py", "watch": {"exclude": ["tests"]}}))
    (cdk_out / "manifest.json").write_text(json.dumps({"version": "1", "artifacts": {}}))
    (tmp_path / "app.py").write_text("")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_app.py").write_text("")
    synthesized = datetime(2026, 1, 15, 8, 0, tzinfo=UTC).timestamp()
    for path, at in ((cdk_out / "manifest.json", 0), (tmp_path / "cdk.json", -60), (tmp_path / "app.py", -60)):
        os.utime(path, (synthesized + at, synthesized + at))
    args = [str(cdk_out), "--stack", "NoWait", "--deploy-time", AFTER_STACKS, "--out", str(tmp_path / "out")]

    assert main(args) == 0  # the tests changed since, not the app: nothing to say
    assert "NOTE" not in capsys.readouterr().out

    edited = synthesized + 3600
    os.utime(tmp_path / "app.py", (edited, edited))
    assert main(args) == 0
    (note,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("NOTE")]
    assert note.startswith(f"NOTE {cdk_out} was synthesized ")
    assert note.endswith(
        "ago (2026-01-15 08:00 UTC), before app.py changed (2026-01-15 09:00 UTC): synthesize again "
        "(npx cdk synth) to rehearse what a deploy would deploy"
    )


def test_the_missing_extra_is_added_to_the_installation_there_is() -> None:
    """Not on an index: the hint names what pip installed from (here the repository, editable)."""
    assert install_hint() == f'pip install -e "{Path(__file__).resolve().parents[2]}[rehearsal]"'
