"""The package's long description: the README's links into the repository, made absolute from the one repository
URL in pyproject.toml, or plain text while there is none (docs/package_readme.py, a hatchling metadata hook)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]
README = "See [the design](docs/design.md), ![a picture](docs/p.png), [pdoc](https://pdoc.dev) and [usage](#usage)."


def hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("package_readme", REPO / "docs" / "package_readme.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("package_readme", module)
    spec.loader.exec_module(module)
    return module


def test_relative_links_become_plain_text_without_a_repository_url() -> None:
    described = hook().absolute_links(README, None)
    assert described == "See the design, a picture, [pdoc](https://pdoc.dev) and [usage](#usage)."


def test_relative_links_become_absolute_under_the_repository_url() -> None:
    described = hook().absolute_links(README, "https://git.example/team/harvest/")
    assert "[the design](https://git.example/team/harvest/blob/main/docs/design.md)" in described
    assert "![a picture](https://git.example/team/harvest/raw/main/docs/p.png)" in described
    assert "[pdoc](https://pdoc.dev)" in described and "[usage](#usage)" in described
