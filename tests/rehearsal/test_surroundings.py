"""The rehearsal models what surrounds the jobs: origin endpoints (the stack's, the scenario's, the assumed),
buckets and their policies, the synth warnings, and the deploy time. Stacks are synthesized once per module into a
cloud assembly, and rehearsed through the CLI a user runs and through the Python API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_mediapackagev2 as mediapackagev2
from aws_cdk import aws_s3 as s3

from mediapackage_harvest import HarvestJob
from mediapackage_harvest.rehearsal import Rehearsal, Scenario, Template
from mediapackage_harvest.rehearsal.cli import main
from mediapackage_harvest.rehearsal.scenario import EndpointScript, ScenarioError
from mediapackage_harvest.rehearsal.template import Environment
from tests.endpoints import origin_endpoint

# Recent, so a declared endpoint's one-day startover window still covers it at synth.
START = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
DEPLOY = START + timedelta(hours=1)
NAMES: dict[str, Any] = {"channel_group_name": "live", "channel_name": "main", "origin_endpoint_name": "hls"}


def _job(stack: Stack, **props: Any) -> HarvestJob:
    """A job on the HLS manifest ``index``, its window ``START`` + 30 minutes unless ``props`` say otherwise."""
    defaults: dict[str, Any] = {
        "start_time": START,
        "end_time": START + timedelta(minutes=30),
        "hls_manifests": ["index"],
    }
    return HarvestJob(stack, "Clip", **{**defaults, **props})


def _endpoint(stack: Stack, startover: int | None = 86400) -> mediapackagev2.CfnOriginEndpoint:
    return origin_endpoint(stack, startover_window_seconds=startover)


def _named(stack: Stack) -> None:
    """A job naming an endpoint outside the stack, writing to an imported bucket."""
    _job(
        stack,
        **NAMES,
        destination_bucket="imported-bucket",
        destination_path="clips/",
    )


def _declared_without_policy(stack: Stack) -> None:
    """The endpoint is in the stack, but the job names it instead of passing it: no policy, no grant."""
    _endpoint(stack)
    _job(
        stack,
        **NAMES,
        destination_bucket="imported-bucket",
        destination_path="clips/",
    )


def _declared_with_grant(stack: Stack) -> None:
    _job(
        stack,
        origin_endpoint=_endpoint(stack),
        destination_bucket=s3.Bucket(stack, "Clips"),
        destination_path="clips/",
    )


def _unwritable_bucket(stack: Stack) -> None:
    """The stack's bucket passed by name: HarvestJob cannot add the write grant to its policy."""
    bucket = s3.Bucket(stack, "Clips")
    _job(
        stack,
        origin_endpoint=_endpoint(stack),
        destination_bucket=bucket.bucket_name,
        destination_path="clips/",
    )


def _future(stack: Stack) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    _job(
        stack,
        **NAMES,
        start_time=start,
        end_time=start + timedelta(minutes=30),
        destination_bucket="imported-bucket",
        destination_path="c/",
    )


STACKS = {
    "Named": _named,
    "DeclaredWithoutPolicy": _declared_without_policy,
    "DeclaredWithGrant": _declared_with_grant,
    "UnwritableBucket": _unwritable_bucket,
    "Future": _future,
}


@pytest.fixture(scope="module")
def cdk_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("surroundings") / "cdk.out"
    app = App(outdir=str(outdir))
    for name, build in STACKS.items():
        build(Stack(app, name))
    app.synth()
    return outdir


def template(cdk_out: Path, name: str) -> Template:
    return Template.load(cdk_out / f"{name}.template.json", Environment(stack_name=name))


def create_reason(result: Any) -> str:
    (create,) = [r for r in result.failures if r.request_type == "Create"]
    return str(create.reason)


def test_a_named_endpoint_the_scenario_says_has_no_grant_rolls_back_naming_the_policy(cdk_out: Path) -> None:
    scenario = Scenario(
        origin_endpoints={"live/main/hls": EndpointScript(hls_manifests=("index",), harvester_grant=False)}
    )
    with Rehearsal(scenario, start=DEPLOY) as rehearsal:
        result = rehearsal.deploy(template(cdk_out, "Named"))
        assert result.status == "ROLLBACK_COMPLETE"
        reason = create_reason(result)
        assert "origin endpoint live/main/hls has no policy, so no harvester grant" in reason
        assert "harvester_origin_endpoint_policy_statement() to it" in reason
        assert not any(c.operation == "CreateHarvestJob" for c in rehearsal.emulator.calls)
        assert not any("origin endpoint" in a for a in rehearsal.assumptions)  # the scenario described it


def test_an_endpoint_the_stack_declares_without_a_policy_is_refused(cdk_out: Path) -> None:
    with Rehearsal(start=DEPLOY) as rehearsal:
        result = rehearsal.deploy(template(cdk_out, "DeclaredWithoutPolicy"))
        assert result.status == "ROLLBACK_COMPLETE"
        assert "has no policy, so no harvester grant: pass origin_endpoint= to HarvestJob" in create_reason(result)


def test_the_services_own_refusal_when_the_preflight_cannot_read_the_policy(cdk_out: Path) -> None:
    scenario = Scenario.from_dict(
        {"faults": [{"operation": "GetOriginEndpointPolicy", "code": "AccessDeniedException"}]}
    )
    with Rehearsal(scenario, start=DEPLOY) as rehearsal:
        result = rehearsal.deploy(template(cdk_out, "DeclaredWithoutPolicy"))
        assert result.status == "ROLLBACK_COMPLETE"
        reason = create_reason(result)
        assert "CreateHarvestJob failed: ValidationException: MediaPackage cannot read origin endpoint" in reason
        assert "its policy does not allow mediapackagev2.amazonaws.com" in reason


def test_the_stacks_endpoint_policy_and_bucket_policy_rehearse_green(cdk_out: Path) -> None:
    with Rehearsal(start=DEPLOY) as rehearsal:
        assert rehearsal.deploy(template(cdk_out, "DeclaredWithGrant")).status == "CREATE_COMPLETE"
        # The endpoint, its policy and the bucket are all in the stack: only what IAM cannot be judged on is assumed,
        # that an earlier deploy created the endpoint (a deploy that creates it has nothing to harvest), and how long
        # CloudFormation's response URL stays valid.
        iam, endpoint, response_url = rehearsal.assumptions
        assert response_url.startswith("rehearsal: a custom resource's ResponseURL is valid for 7200 s")
        assert iam.startswith("rehearsal: IAM:")
        assert endpoint.endswith(
            ": origin endpoint live/main/hls is declared by this stack: assumed created by an earlier deploy and "
            'receiving the stream since before the window (scenario "stack_endpoints": "new" rehearses the first '
            "deploy, which has nothing to harvest)"
        )
        assert rehearsal.destroy().status == "DELETE_COMPLETE"


NOTHING_BEFORE = (
    "CreateHarvestJob failed: ValidationException: ScheduleConfiguration.StartTime: origin endpoint hls was "
)


def test_the_first_deploy_of_a_stack_creating_its_endpoint_has_nothing_to_harvest(
    cdk_out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "first-deploy.json"
    scenario.write_text(json.dumps({"stack_endpoints": "new"}))
    args = [str(cdk_out), "--stack", "DeclaredWithGrant", "--scenario", str(scenario), "--out", str(tmp_path)]
    assert main([*args, "--deploy-time", DEPLOY.isoformat()]) == 1
    printed = capsys.readouterr().out
    (failed,) = [line for line in printed.splitlines() if line.startswith("FAILED Create Clip")]
    created = DEPLOY.isoformat().replace("+00:00", "Z")
    assert failed.endswith(f"{NOTHING_BEFORE}created at {created} and holds nothing from before then")
    assert "ASSUMED rehearsal: an origin endpoint a deploy creates holds nothing from before that deploy" in printed
    assert "assumed created by an earlier deploy" not in printed
    assert "SYNTH WARNING /DeclaredWithGrant/Clip: start_time" in printed  # synth said so first
    assert "is before origin endpoint 'DeclaredWithGrant/Endpoint' can exist" in printed


def test_an_endpoint_a_later_deploy_adds_holds_nothing_from_before_that_deploy(cdk_out: Path) -> None:
    with Rehearsal(start=DEPLOY) as rehearsal:
        assert rehearsal.deploy(template(cdk_out, "Named")).status == "CREATE_COMPLETE"  # an endpoint elsewhere
        rehearsal.advance(600)
        created = datetime.fromtimestamp(rehearsal.clock.time(), UTC).isoformat().replace("+00:00", "Z")
        updated = rehearsal.deploy(template(cdk_out, "DeclaredWithGrant"))  # now the stack creates one
        assert updated.status == "UPDATE_ROLLBACK_COMPLETE"
        (update,) = [r for r in updated.failures if r.request_type == "Update"]  # the job's replacement
        assert f"{NOTHING_BEFORE}created at {created}" in str(update.reason)


def test_a_bucket_of_the_stack_without_the_write_grant_fails_the_job_with_the_s3_message(cdk_out: Path) -> None:
    with Rehearsal(start=DEPLOY) as rehearsal:
        result = rehearsal.deploy(template(cdk_out, "UnwritableBucket"))
        assert result.status == "ROLLBACK_COMPLETE"
        reason = create_reason(result)
        assert "FAILED: Access Denied writing s3://rehearsal-clips" in reason
        assert "the bucket policy does not allow mediapackagev2.amazonaws.com s3:PutObject on clips/*" in reason
        (job,) = rehearsal.emulator.jobs()
        assert job["Status"] == "FAILED"  # accepted, then failed when it started writing


def test_assumptions_are_said_in_the_api_the_cli_and_the_json(
    cdk_out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Rehearsal(start=DEPLOY) as rehearsal:
        assert rehearsal.deploy(template(cdk_out, "Named")).status == "CREATE_COMPLETE"
        assert [a.split(": ", 1)[1][:41] for a in rehearsal.assumptions] == [
            "IAM: service control policies, resource c",
            "origin endpoint live/main/hls is not in t",
            "bucket imported-bucket is not in the stac",
            "a custom resource's ResponseURL is valid ",
        ]
    out = tmp_path / "out"
    args = [str(cdk_out), "--stack", "Named", "--deploy-time", DEPLOY.isoformat(), "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "ASSUMED Clip" in printed and "origin endpoint live/main/hls is not in the stack or the scenario" in printed
    assert "bucket imported-bucket is not in the stack (imported): assumed to let" in printed
    assert "ASSUMED rehearsal: a custom resource's ResponseURL is valid for 7200 s from the request" in printed
    entries = json.loads((out / "Named.timeline.json").read_text())
    assert [e["what"] for e in entries if e["source"] == "rehearsal"] == ["assumed"] * 4


def test_the_cli_prints_the_stack_missing_the_grant_and_exits_1(
    cdk_out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        str(cdk_out),
        "--stack",
        "DeclaredWithoutPolicy",
        "--deploy-time",
        DEPLOY.isoformat(),
        "--out",
        str(tmp_path),
    ]
    assert main(args) == 1
    printed = capsys.readouterr().out
    assert "== DeclaredWithoutPolicy: ROLLBACK_COMPLETE ==" in printed
    assert "FAILED Create Clip" in printed and "has no policy, so no harvester grant" in printed


def test_a_window_two_days_ahead_fails_the_rehearsal_at_the_real_time(
    cdk_out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(cdk_out), "--stack", "Future", "--out", str(tmp_path)]) == 1
    printed = capsys.readouterr().out
    assert "is in the future: MediaPackage harvests only a window that has started; deploy after" in printed
    assert "SYNTH WARNING /Future/Clip: start_time" in printed  # the synth warning said so first


def test_a_scenario_endpoint_with_a_bad_key_is_one_line() -> None:
    with pytest.raises(ScenarioError, match=r"origin_endpoints\['live/main/hls'\]: unknown key\(s\) grant"):
        Scenario.from_dict({"origin_endpoints": {"live/main/hls": {"grant": True}}})
    with pytest.raises(ScenarioError, match=r"hls_manifests: must be a list of manifest names"):
        Scenario.from_dict({"origin_endpoints": {"live/main/hls": {"hls_manifests": "index"}}})
    with pytest.raises(ScenarioError, match=r"harvester_grant: must be true or false"):
        Scenario.from_dict({"origin_endpoints": {"live/main/hls": {"harvester_grant": "no"}}})
    with pytest.raises(ScenarioError, match=r"stack_endpoints: must be one of existing, new, got 'fresh'"):
        Scenario.from_dict({"stack_endpoints": "fresh"})
