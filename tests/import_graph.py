"""The import graph of the handler and the library, as the import contracts in pyproject.toml judge it.

``python -m tests.import_graph`` prints, for each module of ``harvest_handler`` and ``mediapackage_harvest`` (its
rehearsal folded into one node), the modules of the same two packages it imports, lowest layer first.
"""

from __future__ import annotations

import sys
from pathlib import Path

import grimp

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("harvest_handler", "mediapackage_harvest")


def edges() -> dict[str, set[str]]:
    """Module -> the modules it imports, within the two packages (rehearsal's modules as one)."""
    for folder in (REPO / "lambda", REPO / "constructs"):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    graph = grimp.build_graph(*PACKAGES)
    found: dict[str, set[str]] = {}
    for module in sorted(graph.modules):
        importer = _node(module)
        imported = {_node(m) for m in graph.find_modules_directly_imported_by(module) if m.startswith(PACKAGES)}
        found.setdefault(importer, set()).update(imported - {importer})
    return found


def layered(found: dict[str, set[str]]) -> list[list[str]]:
    """The modules in layers: each imports only from the layers before it (a cycle would leave some out)."""
    placed: set[str] = set()
    layers: list[list[str]] = []
    while len(placed) < len(found):
        layer = sorted(m for m, deps in found.items() if m not in placed and deps <= placed)
        if not layer:
            break
        layers.append(layer)
        placed |= set(layer)
    return layers


def _node(module: str) -> str:
    parts = module.split(".")
    if parts[:2] == ["mediapackage_harvest", "rehearsal"]:
        return "mediapackage_harvest.rehearsal"
    return module


def main() -> None:
    found = edges()
    for depth, layer in enumerate(layered(found)):
        for module in layer:
            imports = ", ".join(sorted(found[module])) or "-"
            print(f"{depth:2}  {module:48} <- {imports}")


if __name__ == "__main__":
    main()
