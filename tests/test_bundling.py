"""The Lambda asset: what it holds, that it imports on its own, and a hash that only its inputs move."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from mediapackage_harvest import bundling
from mediapackage_harvest.provider import HarvestJobProvider

CONTRACT = Path(bundling.__file__).parent / "contract"


@pytest.fixture(scope="module")
def asset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("asset")
    bundling.build_asset(output)
    return output


@pytest.fixture
def handler_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the handler source at another path, used as the handler source (lambda/ stays untouched)."""
    copy = tmp_path / "elsewhere" / "lambda"
    copy.mkdir(parents=True)
    source_dir = bundling.handler_source_dir()
    for source in source_dir.rglob("*.py"):
        if "__pycache__" not in source.parts:
            target = copy / source.relative_to(source_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    monkeypatch.setattr(bundling, "handler_source_dir", lambda: copy)
    return copy


def test_asset_layout(asset: Path) -> None:
    source_dir = bundling.handler_source_dir()
    for source in source_dir.rglob("*.py"):
        if "__pycache__" not in source.parts:
            assert (asset / source.relative_to(source_dir)).read_bytes() == source.read_bytes()
    own_top_level = sorted(p.name for p in source_dir.iterdir() if p.name != "__pycache__")
    assert own_top_level == ["harvest_handler", "index.py"]  # one entry module and one package
    assert (asset / "harvest_handler" / "__init__.py").is_file()
    if (bundling.handler_source_dir() / "index.py").exists():
        assert (asset / "index.py").is_file()
    # The contract package travels as the folder it is; nothing else of the library does (its __init__ needs
    # aws_cdk, which Lambda does not have): mediapackage_harvest is a namespace package in the asset.
    contract = sorted(p.relative_to(CONTRACT) for p in CONTRACT.rglob("*.py") if "__pycache__" not in p.parts)
    assert contract and all(
        (asset / "mediapackage_harvest" / "contract" / p).read_bytes() == (CONTRACT / p).read_bytes() for p in contract
    )
    assert sorted(p.name for p in (asset / "mediapackage_harvest").iterdir()) == ["contract"]
    assert (asset / "crhelper" / "__init__.py").is_file()
    assert (asset / "aws_lambda_powertools" / "__init__.py").is_file()
    assert (asset / "typing_extensions.py").is_file()


def test_asset_has_no_byte_code_or_metadata(asset: Path) -> None:
    unwanted = [
        p for p in asset.rglob("*") if p.name == "__pycache__" or p.suffix == ".pyc" or p.name.endswith(".dist-info")
    ]
    assert unwanted == []


def test_asset_imports_on_its_own(asset: Path) -> None:
    """Everything resolves from the asset, not from the synthesizing environment (no aws_cdk, no library: run as
    Lambda runs it, with only the asset and the runtime's packages on the path, ``mediapackage_harvest`` is the
    asset's namespace package holding only the contract)."""
    probe = (
        "import sys; asset = sys.argv[1]; sys.modules['aws_cdk'] = None\n"
        "from mediapackage_harvest.contract import iam_policy, services, spec\n"
        "import crhelper, aws_lambda_powertools, typing_extensions\n"
        "for module in (spec, services, iam_policy, crhelper, aws_lambda_powertools, typing_extensions):\n"
        "    assert module.__file__.startswith(asset), module.__file__\n"
    )
    env = {"PYTHONPATH": os.pathsep.join([str(asset), sysconfig.get_paths()["purelib"]]), "PATH": ""}
    subprocess.run([sys.executable, "-S", "-B", "-c", probe, str(asset)], check=True, cwd=asset.parent, env=env)


@pytest.mark.skipif(
    not (bundling.handler_source_dir() / "index.py").exists(), reason="the handler (lambda/index.py) is not written yet"
)
def test_handler_imports_from_the_asset(asset: Path) -> None:
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); sys.modules['aws_cdk'] = None\n"
        "import index\n"
        "assert callable(index.handler)\n"
        "assert index.__file__.startswith(sys.argv[1])\n"
    )
    env = {"AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "PATH": ""}
    subprocess.run([sys.executable, "-B", "-c", probe, str(asset)], check=True, cwd=asset.parent, env=env)


@pytest.mark.skipif(
    not (bundling.handler_source_dir() / "index.py").exists(), reason="the handler (lambda/index.py) is not written yet"
)
def test_handler_import_loads_no_powertools_event_classes(asset: Path) -> None:
    """Cold start: Powertools' data_classes package imports 29 event modules; the handler needs none of them."""
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); sys.modules['aws_cdk'] = None\n"
        "import index\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('aws_lambda_powertools.utilities.data_classes'))\n"
        "assert loaded == [], loaded\n"
        "assert 'aws_lambda_powertools.logging' in sys.modules  # the logger is still Powertools'\n"
    )
    env = {"AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "PATH": ""}
    subprocess.run([sys.executable, "-B", "-c", probe, str(asset)], check=True, cwd=asset.parent, env=env)


def test_hash_is_stable() -> None:
    first = bundling.asset_hash()
    assert first == bundling.asset_hash()
    assert re.fullmatch(r"[0-9a-f]{64}", first)


def test_hash_is_the_same_at_another_path(handler_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copied = bundling.asset_hash()
    monkeypatch.undo()
    assert bundling.asset_hash() == copied


def test_hash_ignores_byte_code(handler_copy: Path) -> None:
    before = bundling.asset_hash()
    cache = handler_copy / "__pycache__"
    cache.mkdir()
    (cache / "index.cpython-311.pyc").write_bytes(b"\x00compiled")
    (cache / "stray.py").write_text("x = 1\n")
    assert bundling.asset_hash() == before


def test_hash_follows_the_handler_source(handler_copy: Path) -> None:
    before = bundling.asset_hash()
    (handler_copy / "extra.py").write_text("VALUE = 1\n")
    added = bundling.asset_hash()
    assert added != before
    (handler_copy / "extra.py").write_text("VALUE = 2\n")
    assert bundling.asset_hash() != added


def test_hash_ignores_line_endings(handler_copy: Path) -> None:
    (handler_copy / "extra.py").write_bytes(b"A = 1\nB = 2\n")
    unix = bundling.asset_hash()
    (handler_copy / "extra.py").write_bytes(b"A = 1\r\nB = 2\r\n")
    assert bundling.asset_hash() == unix


def test_installed_wheel_layout_is_preferred(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "_lambda").mkdir()
    monkeypatch.setattr(bundling, "_PACKAGE_DIR", tmp_path)
    assert bundling.handler_source_dir() == tmp_path / "_lambda"


def test_repository_layout_otherwise() -> None:
    expected = Path(__file__).resolve().parents[1] / "lambda"
    if not (Path(bundling.__file__).parent / "_lambda").is_dir():
        assert bundling.handler_source_dir() == expected


def test_template_asset_key_follows_the_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    """CDK derives the S3 key from the custom hash: same inputs, same key; other inputs, another key."""
    keys = []
    for value in ("a" * 64, "b" * 64, "a" * 64):
        monkeypatch.setattr(bundling, "asset_hash", lambda value=value: value)
        stack = Stack(App(), "Asset")
        provider = HarvestJobProvider.of(stack)
        provider.grant_endpoint("live", "main", "hls")
        function = Template.from_stack(stack).find_resources("AWS::Lambda::Function")
        (properties,) = (resource["Properties"] for resource in function.values())
        keys.append(properties["Code"]["S3Key"])
    assert keys[0] == keys[2] != keys[1]
