"""What happened during a rehearsal, and when, on the virtual clock."""

from __future__ import annotations

import json
import textwrap
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Entry:
    """One thing that happened: ``at`` is seconds since the rehearsal began."""

    at: float
    source: str  # cloudformation | lambda | eventbridge | mediapackage
    resource: str  # logical id, job name or rule name
    what: str
    detail: str = ""


@dataclass
class Timeline:
    """Entries in the order they happened (a status change the emulator notices late is placed at the time it
    happened); safe to add to from the emulator's threads."""

    origin: float
    entries: list[Entry] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, now: float, source: str, resource: str, what: str, detail: str = "") -> None:
        entry = Entry(round(now - self.origin, 3), source, resource, what, detail)
        with self._lock:
            # Stable insert by time: entries arrive almost always in order, so this scans from the end.
            index = len(self.entries)
            while index and self.entries[index - 1].at > entry.at:
                index -= 1
            self.entries.insert(index, entry)

    def where(self, source: str | None = None, what: str | None = None) -> list[Entry]:
        return [e for e in self.entries if (source is None or e.source == source) and (what is None or e.what == what)]

    def table(self, width: int = 140) -> str:
        """A fixed-width table a person can read in a terminal or a CI log. A long detail (a failure's reason,
        what a CreateHarvestJob was sent) wraps onto continuation lines under its column, never cut."""
        lines = [f"{'t (s)':>9}  {'source':<16}{'resource':<34}{'event':<22}detail", "-" * width]
        for e in self.entries:
            row = f"{e.at:>9.1f}  {e.source:<16}{_cut(e.resource, 32):<34}{_cut(e.what, 20):<22}"
            wrapped = textwrap.wrap(e.detail, max(width - len(row), 20), break_on_hyphens=False) or [""]
            lines.append(row + wrapped[0])
            lines += [" " * len(row) + more for more in wrapped[1:]]
        return "\n".join(lines)

    def to_json(self) -> list[dict[str, object]]:
        return [asdict(e) for e in self.entries]

    def write_json(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1) + "\n")


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
