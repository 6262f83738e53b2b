"""The repository's own checks, run by the one test command: ruff (lint and format) and mypy (strict).

The selected checks start in the background as soon as collection ends (``pytest_collection_finish`` in
``tests/conftest.py``): strict mypy over aws-cdk-lib's types takes most of a minute and a half on a fresh clone,
and runs on the second core beside the rest of the suite instead of after it. Each test waits for its check.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize(
    "command",
    [["ruff", "check", "."], ["ruff", "format", "--check", "."], ["mypy"]],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_the_code_is_clean(command: list[str], code_checks: Any) -> None:
    returncode, output = code_checks.result(command)
    assert returncode == 0, output
