"""The handler's Lambda asset, built locally: no Docker, no network, the same bytes on every machine.

The asset is the handler's own ``*.py`` (``index.py``, the entry module, and the ``harvest_handler`` package),
the contract package it shares with the construct (``mediapackage_harvest/contract/``, copied as the folder it is;
``mediapackage_harvest`` stays an implicit namespace package in the asset, since the library's own ``__init__``
needs ``aws_cdk``), and the pure-Python distributions the handler needs beside the boto3 that the Lambda runtime
provides, copied from the synthesizing environment. The asset hash is computed from those inputs rather than
from the built folder, so it does not change with ``__pycache__``, file times or the machine that synthesizes.
"""

from __future__ import annotations

import hashlib
import shutil
from importlib import metadata
from pathlib import Path, PurePath
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

# Pure-Python distributions the handler imports (jmespath, which Powertools needs, comes with the runtime's boto3).
VENDORED_DISTRIBUTIONS = ("crhelper", "aws-lambda-powertools", "typing-extensions")
# Bump when the asset's layout changes, so that deployed functions get the new layout.
_LAYOUT_VERSION = "3"
_PACKAGE_DIR = Path(__file__).parent
CONTRACT_DIR = _PACKAGE_DIR / "contract"
CONTRACT_IN_ASSET = PurePath("mediapackage_harvest", "contract")


def handler_source_dir() -> Path:
    """The handler source: ``_lambda/`` inside an installed wheel, the repository's ``lambda/`` otherwise."""
    packaged = _PACKAGE_DIR / "_lambda"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "lambda"


def build_asset(output_dir: Path) -> None:
    """Write the complete Lambda asset into ``output_dir`` (which CDK hands over empty)."""
    source = handler_source_dir()
    for relative in _handler_files(source):
        _copy(source / relative, output_dir / relative)
    for relative in _python_files(CONTRACT_DIR):
        _copy(CONTRACT_DIR / relative, output_dir / CONTRACT_IN_ASSET / relative)
    for name in VENDORED_DISTRIBUTIONS:
        distribution = _distribution(name)
        for relative in _distribution_files(distribution):
            _copy(Path(str(distribution.locate_file(relative))), output_dir / relative)


def asset_hash() -> str:
    """SHA-256 over the handler and shared sources and the vendored distributions' names and versions."""
    digest = hashlib.sha256(f"layout {_LAYOUT_VERSION}\n".encode())
    source = handler_source_dir()
    sources = [(f"handler/{p.as_posix()}", source / p) for p in _handler_files(source)]
    sources += [
        (f"{CONTRACT_IN_ASSET.as_posix()}/{p.as_posix()}", CONTRACT_DIR / p) for p in _python_files(CONTRACT_DIR)
    ]
    for label, path in sources:
        # Line endings normalized: a Windows checkout (autocrlf) must not change the hash.
        content = path.read_bytes().replace(b"\r\n", b"\n")
        digest.update(f"{label} {len(content)}\n".encode())
        digest.update(content)
    for name in VENDORED_DISTRIBUTIONS:
        digest.update(f"dist {name}=={_distribution(name).version}\n".encode())
    return digest.hexdigest()


@jsii.implements(ILocalBundling)
class _LocalBundling:
    """CDK's local-bundling hook: always succeeds, so the Docker image is never pulled."""

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_options: Any) -> bool:
        build_asset(Path(output_dir))
        return True


def handler_code() -> lambda_.Code:
    """The handler's ``Code``, bundled locally with a content hash that is stable across machines."""
    return lambda_.Code.from_asset(
        str(handler_source_dir()),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=asset_hash(),
        bundling=BundlingOptions(
            # Required by the API, never used: local bundling always succeeds.
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.14"),
            local=_LocalBundling(),
        ),
    )


def _handler_files(source: Path) -> list[PurePath]:
    """The handler's ``*.py`` relative to its folder, sorted, without ``__pycache__``."""
    if not source.is_dir():
        raise FileNotFoundError(f"handler source folder not found: {source}")
    return _python_files(source)


def _python_files(folder: Path) -> list[PurePath]:
    """The ``*.py`` below ``folder``, relative to it, sorted, without ``__pycache__``."""
    return sorted(p.relative_to(folder) for p in folder.rglob("*.py") if p.is_file() and "__pycache__" not in p.parts)


def _distribution(name: str) -> metadata.Distribution:
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError:
        raise RuntimeError(
            f"the Lambda asset needs the {name!r} distribution installed where the app synthesizes "
            f"(it is a dependency of cdk-mediapackage-harvest: pip install cdk-mediapackage-harvest)"
        ) from None


def _distribution_files(distribution: metadata.Distribution) -> list[PurePath]:
    """The distribution's importable files (its RECORD), without metadata, byte code or installed scripts."""
    files = distribution.files
    if files is None:
        raise RuntimeError(f"{distribution.metadata['Name']} has no RECORD; reinstall it with pip")
    return sorted(
        PurePath(f)
        for f in files
        if f.parts[0] != ".."
        and not f.parts[0].endswith(".dist-info")
        and "__pycache__" not in f.parts
        and f.suffix != ".pyc"
    )


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
