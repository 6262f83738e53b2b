"""Build the API reference from the docstrings with pdoc: ``python docs/build_api.py [OUTPUT_DIR]``.

Writes HTML for ``mediapackage_harvest`` and ``mediapackage_harvest.rehearsal`` (default: ``docs/api/``, not
committed). Both packages import their public names on first use, which pdoc cannot see (it reads a module's
``__dict__``): they are resolved here first.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pdoc

import mediapackage_harvest
import mediapackage_harvest.rehearsal

PUBLIC_MODULES = (mediapackage_harvest, mediapackage_harvest.rehearsal)


def build(output_directory: Path) -> None:
    """Render the public API of both packages into ``output_directory``."""
    for module in PUBLIC_MODULES:
        for name in module.__all__:
            vars(module)[name] = getattr(module, name)
    pdoc.render.configure(docformat="restructuredtext")  # the package writes `:param name:` docstrings
    pdoc.pdoc(*(module.__name__ for module in PUBLIC_MODULES), output_directory=output_directory)


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "api"
    build(out)
    print(f"API reference: {out / 'index.html'}")
