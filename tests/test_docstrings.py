"""The API reference is generated from docstrings (pdoc): every public class, function, method and property the
package exports has one, and every prop of the public constructs is described (``:param name:``, the one style)."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from constructs import Construct

import mediapackage_harvest
import mediapackage_harvest.rehearsal

REPO = Path(__file__).resolve().parents[1]
PUBLIC_MODULES = [mediapackage_harvest, mediapackage_harvest.rehearsal]


def _own_doc(obj: Any) -> str:
    """The object's own docstring, not one a dataclass generates (``Name(field: type, ...)``)."""
    doc = obj.__doc__ or ""
    if inspect.isclass(obj) and doc.startswith(f"{obj.__name__}("):
        return ""
    return doc.strip()


def _documented_args(doc: str) -> set[str]:
    """Names described by ``:param name:`` lines (the package's one docstring style)."""
    return set(re.findall(r":param (\w+):", doc))


def undocumented(module: types.ModuleType) -> list[str]:
    """Everything ``module`` exports that pdoc would render without a description."""
    missing: list[str] = []
    for name in module.__all__:
        obj = getattr(module, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue  # constants: their meaning is in the module docstring
        where = f"{module.__name__}.{name}"
        if not _own_doc(obj):
            missing.append(where)
        if not inspect.isclass(obj):
            continue
        for member, value in vars(obj).items():
            if member.startswith("_"):
                continue
            function = value.fget if isinstance(value, property) else value
            if isinstance(function, staticmethod | classmethod):
                function = function.__func__
            if inspect.isfunction(function) and not _own_doc(function):
                missing.append(f"{where}.{member}")
        if issubclass(obj, Construct) or ("__init__" in vars(obj) and not _is_generated(obj)):
            described = _documented_args(_own_doc(obj) + "\n" + (obj.__init__.__doc__ or ""))
            parameters = inspect.signature(obj.__init__).parameters.values()
            keywords = [p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY]
            missing += [f"{where}({keyword}=...)" for keyword in keywords if keyword not in described]
    return missing


def _is_generated(cls: type) -> bool:
    """A dataclass's __init__ (its fields are documented by the class docstring and their comments)."""
    return "__dataclass_fields__" in vars(cls) and not (vars(cls)["__init__"].__doc__ or "")


@pytest.mark.parametrize("module", PUBLIC_MODULES, ids=lambda m: m.__name__)
def test_every_public_name_and_prop_has_a_docstring(module: types.ModuleType) -> None:
    assert undocumented(module) == []


def test_the_check_finds_a_missing_docstring_and_an_undescribed_prop() -> None:
    class Clip(Construct):
        """A construct whose docstring forgets a prop.

        :param channel_name: the channel.
        """

        def __init__(self, scope: Construct, id: str, *, channel_name: str, end_time: str) -> None:
            super().__init__(scope, id)

        def arn(self) -> str:
            return ""

    def helper() -> None:
        pass

    module = types.ModuleType("example")
    module.Clip = Clip  # type: ignore[attr-defined]
    module.helper = helper  # type: ignore[attr-defined]
    module.__all__ = ["Clip", "helper"]  # type: ignore[attr-defined]
    assert undocumented(module) == ["example.Clip.arn", "example.Clip(end_time=...)", "example.helper"]


def test_the_readme_command_builds_the_api_reference_with_the_props(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "docs" / "build_api.py"), str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "Warn" not in done.stderr, done.stderr  # e.g. a name in __all__ that pdoc cannot resolve
    package = (tmp_path / "mediapackage_harvest.html").read_text()
    rehearsal = (tmp_path / "mediapackage_harvest" / "rehearsal.html").read_text()
    assert "the origin endpoint's channel group." in package  # HarvestJob(channel_group_name=...)
    assert "MediaPackageV1HarvestJob" in package and "harvester_origin_endpoint_policy_statement" in package
    assert "print the handler's log lines (JSON, every level)" in rehearsal  # Rehearsal(handler_logs=...)
    assert "default_start" in rehearsal and "StackResult" in rehearsal


def test_the_package_writes_one_docstring_style() -> None:
    """``:param name:`` everywhere (pdoc renders it); no Google-style ``Args:`` sections."""
    sources = [*(REPO / "constructs").rglob("*.py"), *(REPO / "lambda").rglob("*.py")]
    mixed = [str(path.relative_to(REPO)) for path in sources if re.search(r"^\s+Args:\s*$", path.read_text(), re.M)]
    assert mixed == []
