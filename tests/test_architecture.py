"""The package's shape, kept by lint rules: the import contracts in pyproject.toml (import-linter) hold, and the
import graph they judge has no cycle."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.import_graph import edges, layered

REPO = Path(__file__).resolve().parents[1]


def test_the_import_contracts_hold() -> None:
    """The asset imports only the contract, the contract only the standard library, the handler in layers."""
    paths = os.pathsep.join(str(REPO / folder) for folder in ("lambda", "constructs"))
    done = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache", "--no-logo"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": paths},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 kept, 0 broken" in done.stdout


def test_every_module_has_a_layer() -> None:
    """Placing modules layer by layer (each importing only from layers below) places them all: no cycle."""
    found = edges()
    placed = {module for layer in layered(found) for module in layer}
    assert placed == set(found)
    assert {"harvest_handler.model", "mediapackage_harvest.contract.spec"} <= placed
