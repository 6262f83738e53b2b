"""The published artifact: the wheel carries the handler, never a top-level `constructs` or `lambda`, and a
consumer that installs it synthesizes a HarvestJob outside this repository with no Docker and no network."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

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
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(REPO)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("*.whl")
    return built


def test_the_wheel_ships_the_handler_inside_the_package_and_nothing_at_top_level(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top_level == {"mediapackage_harvest"}
    assert "mediapackage_harvest/_lambda/index.py" in names
    assert "mediapackage_harvest/spec.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_a_consumer_synthesizes_from_the_installed_wheel_without_docker_or_network(wheel: Path, tmp_path: Path) -> None:
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-n", "true"]).returncode != 0:
        pytest.skip("needs `unshare -n` to cut the network")
    venv = tmp_path / "consumer-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # The consumer gets this environment's third-party packages (a .pth line adds the folder without running
    # its .pth files, so the repository's editable install stays out) and installs only the wheel itself.
    consumer_site = Path(
        subprocess.run(
            [python, "-c", "import site; print(site.getsitepackages()[0])"], check=True, capture_output=True, text=True
        ).stdout.strip()
    )
    (consumer_site / "dev-dependencies.pth").write_text(site.getsitepackages()[0] + "\n")
    subprocess.run([python, "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)], check=True)

    project = tmp_path / "consumer"
    project.mkdir()
    (project / "app.py").write_text(CONSUMER_APP)
    env = {**os.environ, "CDK_OUTDIR": str(project / "cdk.out"), "CDK_DOCKER": "/nonexistent/docker"}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        ["unshare", "-n", str(python), "app.py"], cwd=project, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert str(venv) in done.stdout, "the package must come from the installed wheel, not the repository"
    template = json.loads((project / "cdk.out" / "Consumer.template.json").read_text())
    types = [r["Type"] for r in template["Resources"].values()]
    assert types.count("Custom::MediaPackageV2HarvestJob") == 1
    assert types.count("AWS::Lambda::Function") == 1
    (asset,) = [p for p in (project / "cdk.out").glob("asset.*") if p.is_dir()]
    assert (asset / "index.py").is_file()
    assert (asset / "mediapackage_harvest" / "spec.py").is_file()
    assert (asset / "crhelper").is_dir()
