"""The package's long description (what an index shows): the README, its links into the repository made absolute.

Links inside the repository are relative, so they work in any clone and on any forge; an index shows the README
away from the repository's files. At build time this hatchling metadata hook makes them absolute from the one
repository URL in ``pyproject.toml`` (``[project.urls] Source``), or plain text while the project has no public home,
so nothing links to a page that does not exist.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hatchling.metadata.plugin.interface import MetadataHookInterface

# [text](target) or ![alt](target) whose target is neither absolute, nor an anchor, nor an e-mail address.
RELATIVE_LINK = re.compile(r"(?P<image>!?)\[(?P<text>[^\]]+)\]\((?!https?://|#|mailto:)(?P<target>[^)\s]+)\)")


def absolute_links(markdown: str, source: str | None) -> str:
    """``markdown`` with each relative link made absolute under ``source`` (a repository URL), or plain text when
    there is no ``source``."""

    def replace(link: re.Match[str]) -> str:
        text, target = link["text"], link["target"]
        if not source:
            return text
        kind = "raw" if link["image"] else "blob"
        return f"{link['image']}[{text}]({source.rstrip('/')}/{kind}/main/{target})"

    return RELATIVE_LINK.sub(replace, markdown)


class PackageReadme(MetadataHookInterface):
    """``readme`` (dynamic in pyproject.toml): README.md with :func:`absolute_links`."""

    PLUGIN_NAME = "custom"

    def update(self, metadata: dict[str, Any]) -> None:
        readme = (Path(self.root) / "README.md").read_text(encoding="utf-8")
        source = metadata.get("urls", {}).get("Source")
        metadata["readme"] = {"content-type": "text/markdown", "text": absolute_links(readme, source)}
