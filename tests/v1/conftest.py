"""The repository importable as ``tests.v1`` for the MediaPackage v1 tests."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `tests.v1.v1_stacks` from any directory
    sys.path.insert(0, str(REPO))
