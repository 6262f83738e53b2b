"""Changes to ``os.environ`` for the length of a rehearsal, undone when it ends (the one helper for this)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager


class Environment:
    """Changes to ``os.environ`` that :meth:`restore` undoes (set more with :meth:`update`)."""

    def __init__(self) -> None:
        self._saved: dict[str, str | None] = {}

    def update(self, values: Mapping[str, str]) -> None:
        for key in values:
            self._saved.setdefault(key, os.environ.get(key))
        os.environ.update(values)

    def restore(self) -> None:
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved.clear()


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[Environment]:
    """``values`` in ``os.environ`` while the context lasts; more can be set through the yielded object."""
    changes = Environment()
    changes.update(values)
    try:
        yield changes
    finally:
        changes.restore()
