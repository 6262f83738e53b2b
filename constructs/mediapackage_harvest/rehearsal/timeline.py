"""What happened during a rehearsal, and when: on the virtual clock, and at what time of day (UTC) that was."""

from __future__ import annotations

import json
import textwrap
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class Entry:
    """One thing that happened: ``at`` is seconds since the rehearsal began, ``time`` the (virtual) time of day
    it happened, in UTC, as a real deploy's clock would show it."""

    at: float
    source: str  # cloudformation | lambda | eventbridge | mediapackage | rehearsal | synth
    resource: str  # logical id, job name or rule name
    what: str
    detail: str = ""
    time: datetime | None = None


@dataclass
class Timeline:
    """Entries in the order they happened (a status change the emulator notices late is placed at the time it
    happened); safe to add to from the emulator's threads. ``origin`` is when the rehearsal began (seconds since
    the epoch on the virtual clock: the deploy time)."""

    origin: float
    entries: list[Entry] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    """What the table shows for a resource (a ClipSet's clip: its name, for its logical id and its job's name);
    see :meth:`label`."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def started(self) -> datetime:
        """When the rehearsal began (the deploy time), in UTC."""
        return datetime.fromtimestamp(self.origin, UTC)

    def add(self, now: float, source: str, resource: str, what: str, detail: str = "") -> None:
        """Record what happened at virtual time ``now`` (seconds since the epoch)."""
        entry = Entry(round(now - self.origin, 3), source, resource, what, detail, datetime.fromtimestamp(now, UTC))
        with self._lock:
            # Stable insert by time: entries arrive almost always in order, so this scans from the end.
            index = len(self.entries)
            while index and self.entries[index - 1].at > entry.at:
                index -= 1
            self.entries.insert(index, entry)

    def label(self, logical_id: str, label: str) -> None:
        """Show ``label`` for the resource ``logical_id`` and for the job names the handler derives from it
        (``<logical id, 48 characters at most>-<12 hex>``)."""
        self.labels[logical_id] = label
        self.labels[logical_id[:_DERIVED_PREFIX]] = label

    def shown(self, resource: str) -> str:
        """The resource as the table shows it: its label, if it has one."""
        found = self.labels.get(resource)
        if found is None and len(resource) > _DERIVED_SUFFIX and resource[-_DERIVED_SUFFIX] == "-":
            found = self.labels.get(resource[:-_DERIVED_SUFFIX])
        return found or resource

    def where(self, source: str | None = None, what: str | None = None) -> list[Entry]:
        """The entries from ``source`` and/or with event ``what``, in time order."""
        return [e for e in self.entries if (source is None or e.source == source) and (what is None or e.what == what)]

    def table(self, width: int = 140) -> str:
        """A fixed-width table a person can read in a terminal or a CI log: virtual seconds since the deploy and
        the time of day (UTC), with a line giving the date where the rehearsal starts and wherever it changes.

        A long detail wraps onto indented lines, never cut; a word longer than the column (an ARN) stays whole
        on its own line. A resource or event name too long for its column ends with ``…``. A resource with a label
        shows its label.
        """
        lines = [f"{'t (s)':>9}  {'UTC':<10}{'source':<16}{'resource':<34}{'event':<22}detail", "-" * width]
        indent = " " * DETAIL_COLUMN
        day = None
        for e in self.entries:
            moment = e.time or datetime.fromtimestamp(self.origin + e.at, UTC)
            if moment.date() != day:
                day = moment.date()
                lines.append(f"{'':>9}  {day.isoformat()}")
            resource = _cut(self.shown(e.resource), 32)
            head = f"{e.at:>9.1f}  {moment:%H:%M:%S}  {e.source:<16}{resource:<34}{_cut(e.what, 20):<22}"
            detail = textwrap.wrap(
                e.detail,
                width=max(width - DETAIL_COLUMN, 20),
                break_long_words=False,
                break_on_hyphens=False,
            )
            lines.append((head + (detail[0] if detail else "")).rstrip())
            lines.extend(indent + more for more in detail[1:])
        return "\n".join(lines)

    def to_json(self) -> list[dict[str, object]]:
        """The entries as JSON-ready dicts: ``at`` (virtual seconds since the deploy), ``time`` (ISO 8601, UTC),
        ``source``, ``resource``, ``what``, ``detail``."""
        return [
            {
                "at": e.at,
                "time": _iso(e.time or datetime.fromtimestamp(self.origin + e.at, UTC)),
                "source": e.source,
                "resource": e.resource,
                "what": e.what,
                "detail": e.detail,
            }
            for e in self.entries
        ]

    def write_json(self, path: Path) -> None:
        """Write :meth:`to_json` to ``path``."""
        path.write_text(json.dumps(self.to_json(), indent=1) + "\n")


DETAIL_COLUMN = 9 + 2 + 10 + 16 + 34 + 22
"""Where the table's detail column starts."""
_DERIVED_PREFIX, _DERIVED_SUFFIX = 48, 13  # a derived job name: the logical id's first 48 characters, "-", 12 hex


def _iso(moment: datetime) -> str:
    """``2026-11-20T19:00:05Z``; milliseconds only when there are some."""
    spec = "milliseconds" if moment.microsecond else "seconds"
    return moment.astimezone(UTC).isoformat(timespec=spec).replace("+00:00", "Z")


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
