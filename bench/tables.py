"""Tables as GitHub Markdown: readable in a terminal and pasted into the README's Performance section unchanged."""

from __future__ import annotations

from collections.abc import Sequence


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, numeric_from: int = 1) -> str:
    """A pipe table, columns padded to their widest cell; columns from ``numeric_from`` on are right-aligned."""
    cells = [[str(h) for h in headers], *[[_cell(value) for value in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        padded = [cell.rjust(widths[i]) if i >= numeric_from else cell.ljust(widths[i]) for i, cell in enumerate(row)]
        return "| " + " | ".join(padded) + " |"

    rule = ["-" * (w - 1) + ":" if i >= numeric_from else "-" * w for i, w in enumerate(widths)]
    return "\n".join([line(cells[0]), "| " + " | ".join(rule) + " |", *(line(row) for row in cells[1:])])


def _cell(value: object) -> str:
    """None is a dash (no figure); callers format numbers themselves."""
    return "-" if value is None else str(value)
