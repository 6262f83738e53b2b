"""The repository importable as ``tests.v1`` (and the handler's modules) for the MediaPackage v1 tests."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
for path in (REPO / "lambda", REPO):  # the handler's modules; `tests.v1.v1_stacks` from any directory
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
