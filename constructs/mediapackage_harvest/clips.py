"""A ``ClipSet``'s clips as data: Python objects, or the rows of a CSV or JSON file next to the app.

Every clip is read into a :class:`Row`: the values it gives (by column, a :class:`Clip` field name) and where each
came from, so that a rule a value breaks is reported at the file, row (or line) and column a person edits: a
CSV row as a spreadsheet numbers it (the header is row 1) with its column letter, a JSON clip by its index in the
list and the line of its key, a Python clip by its index in ``clips``. Reading never stops at the first problem:
every bad row is reported at once. Standard library only.

CSV: a header row naming columns (any order; unknown names are refused), then one clip per row; empty rows are
skipped. Lists (the manifests) are separated by ``;``, tags are ``key=value`` pairs separated by ``;``. JSON: a
list of objects with the same keys; lists may be JSON lists and tags a JSON object. Times are ISO 8601 with a UTC
offset (``2026-11-20T18:04:10Z``).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from string import ascii_uppercase

from mediapackage_harvest.contract import spec

MANIFEST_COLUMNS = ("hls_manifests", "dash_manifests", "low_latency_hls_manifests")
LIST_SEPARATOR = ";"
REQUIRED_COLUMNS = ("name", "start_time", "end_time")
FILE_SUFFIXES = (".csv", ".json")


@dataclass(frozen=True)
class Clip:
    """One clip of a :class:`~mediapackage_harvest.ClipSet`: a window of the set's origin endpoint to harvest.

    Fields left out take the set's defaults. The name is the clip's identity: its construct id, so keep it when
    you edit the clip (a new name is a new clip, and the old one is removed).

    :param name: the clip's name and identity: letters, digits, ``-`` and ``_``, unique within the set.
    :param start_time: start of the window, a timezone-aware datetime or an ISO 8601 text with a UTC offset.
    :param end_time: end of the window, after ``start_time`` and at most 24 hours later; the same types.
    :param destination_path: the key prefix to write under; default ``<the set's destination_path>/<name>/``.
    :param hls_manifests: the HLS manifests to harvest; default the set's.
    :param dash_manifests: the DASH manifests to harvest; default the set's.
    :param low_latency_hls_manifests: the Low-Latency HLS manifests to harvest; default the set's.
    :param description: the job's description; default the set's.
    :param tags: tags for the job, added to (and over) the set's.
    """

    name: str
    start_time: datetime | str
    end_time: datetime | str
    destination_path: str | None = None
    hls_manifests: Sequence[str] | None = None
    dash_manifests: Sequence[str] | None = None
    low_latency_hls_manifests: Sequence[str] | None = None
    description: str | None = None
    tags: Mapping[str, str] | None = None


COLUMNS = tuple(f.name for f in fields(Clip))


@dataclass(frozen=True)
class Problem:
    """A rule a clip (or the set) breaks: ``where`` names the place to fix ("clips.csv row 4, column C
    (end_time)"), ``prop`` the value's name and ``field`` the custom resource property it becomes, if any."""

    where: str
    prop: str
    rule: str
    field: str = ""
    order: tuple[int, int] = (-1, -1)  # (clip, column) for listing problems in file order; the set's come first

    def __str__(self) -> str:
        named = f"{self.prop} ({self.field})" if self.field else self.prop
        return f"{self.where}: {named} {self.rule}"


@dataclass
class Row:
    """One clip as read: the values it gives by column, and where the clip and each value are."""

    index: int  # position among the clips, from 0
    where: str  # the clip: "clips.csv row 4", "clips.json [2] (line 9)", "clips[2]"
    values: dict[str, object] = field(default_factory=dict)
    cells: dict[str, str] = field(default_factory=dict)  # column -> where its value is

    @property
    def name(self) -> str:
        value = self.values.get("name")
        return value if isinstance(value, str) else ""

    def at(self, column: str) -> str:
        """Where to fix ``column`` of this clip (the clip itself when the column is not there)."""
        return self.cells.get(column) or f"{self.where}, {column}"

    def problem(self, column: str, prop: str, rule: str, field: str = "") -> Problem:
        """A rule broken by this clip's ``column`` (the clip as a whole for a column that is not a Clip field)."""
        order = (self.index, COLUMNS.index(column) if column in COLUMNS else len(COLUMNS))
        where = self.cells.get(column) or (f"{self.where}, {column}" if column in COLUMNS else self.where)
        return Problem(where, prop, rule, field, order)


def read_clips(
    clips: Sequence[Clip | Mapping[str, object]] | None, clips_file: str | os.PathLike[str] | None
) -> tuple[list[Row], list[Problem]]:
    """The clips of ``clips`` (Python data) or ``clips_file`` (CSV or JSON), and what is wrong with how they are
    given; exactly one of the two must be given."""
    if (clips is None) == (clips_file is None):
        rule = "give exactly one of clips (Python data) and clips_file (a CSV or JSON file)"
        return [], [Problem("ClipSet", "clips / clips_file", rule)]
    if clips is not None:
        return _python_rows(clips)
    assert clips_file is not None
    return read_file(Path(clips_file), str(clips_file))


def read_file(path: Path, shown: str) -> tuple[list[Row], list[Problem]]:
    """The clips of a ``.csv`` or ``.json`` file (``shown`` is how messages name it)."""
    suffix = path.suffix.lower()
    if suffix not in FILE_SUFFIXES:
        return [], [Problem(shown, "clips_file", f"must be a .csv or .json file, got {path.name!r}")]
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's UTF-8 export starts with a BOM
    except OSError as error:
        where = f"{shown} (from {Path.cwd()})" if not path.is_absolute() else shown
        return [], [Problem(where, "clips_file", f"cannot be read: {error.strerror or error}")]
    return _csv_rows(text, shown) if suffix == ".csv" else _json_rows(text, shown)


# CSV -----------------------------------------------------------------------------------------------------------
def _csv_rows(text: str, shown: str) -> tuple[list[Row], list[Problem]]:
    records = list(csv.reader(io.StringIO(text)))  # a row is a record: a quoted cell may hold line breaks
    if not records or not any(cell.strip() for cell in records[0]):
        rule = f"must name the columns, at least {', '.join(REQUIRED_COLUMNS)}"
        return [], [Problem(f"{shown} row 1", "header", rule)]
    header = [cell.strip() for cell in records[0]]
    problems = [
        Problem(
            f"{shown} row 1, column {_letter(i)}",
            repr(name),
            f"is not a column a clip has; columns: {', '.join(COLUMNS)}",
        )
        for i, name in enumerate(header)
        if name not in COLUMNS
    ]
    problems += [
        Problem(f"{shown} row 1", column, "is a required column and the header does not name it")
        for column in REQUIRED_COLUMNS
        if column not in header
    ]
    repeated = {name for name in header if name and header.count(name) > 1}
    problems += [Problem(f"{shown} row 1", name, "is named by more than one column") for name in sorted(repeated)]
    rows: list[Row] = []
    for number, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            continue
        row = Row(len(rows), f"{shown} row {number}")
        for i, cell in enumerate(record):
            if i >= len(header):
                if cell.strip():
                    where = f"{shown} row {number}, column {_letter(i)}"
                    rule = "lies beyond the header's last column"
                    problems.append(Problem(where, "cell", rule, order=(row.index, len(COLUMNS))))
                continue
            column = header[i]
            if column not in COLUMNS or not cell.strip():
                continue
            row.cells[column] = f"{shown} row {number}, column {_letter(i)} ({column})"
            value, problem = _from_text(column, cell.strip())
            if problem:
                problems.append(row.problem(column, column, problem))
            else:
                row.values[column] = value
        rows.append(row)
    return rows, problems


def _letter(index: int) -> str:
    """A spreadsheet's column letter: 0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = ascii_uppercase[rest] + letters
    return letters


def _from_text(column: str, text: str) -> tuple[object, str]:
    """A cell's value for ``column`` (lists split at ``;``, tags as ``key=value`` pairs), or why it has none."""
    if column in MANIFEST_COLUMNS:
        return [item.strip() for item in text.split(LIST_SEPARATOR) if item.strip()], ""
    if column == "tags":
        tags: dict[str, str] = {}
        for pair in text.split(LIST_SEPARATOR):
            if not pair.strip():
                continue
            key, equals, value = pair.partition("=")
            if not equals:
                return None, f"must be key=value pairs separated by '{LIST_SEPARATOR}', got {pair.strip()!r}"
            tags[key.strip()] = value.strip()
        return tags, ""
    return text, ""


# JSON ----------------------------------------------------------------------------------------------------------
def _json_rows(text: str, shown: str) -> tuple[list[Row], list[Problem]]:
    try:
        elements = list(_top_level_elements(text))
    except ValueError as error:
        return [], [Problem(shown, "clips_file", f"must be a JSON list of clip objects: {error}")]
    rows: list[Row] = []
    problems: list[Problem] = []
    for index, (value, start, end) in enumerate(elements):
        line = _line(text, start)
        row = Row(index, f"{shown} [{index}] (line {line})")
        rows.append(row)
        if not isinstance(value, dict):
            problems.append(row.problem("clip", "clip", f"must be an object with {', '.join(REQUIRED_COLUMNS)}"))
            continue
        for key, item in value.items():
            found = text.find(json.dumps(key), start, end)
            row.cells[key] = f'{shown} [{index}] (line {_line(text, found) if found >= 0 else line}) "{key}"'
            if key not in COLUMNS:
                rule = f"is not a key a clip has; keys: {', '.join(COLUMNS)}"
                problems.append(row.problem(key, repr(key), rule))
                continue
            converted, problem = _from_json(key, item)
            if problem:
                problems.append(row.problem(key, key, problem))
            elif converted is not None:
                row.values[key] = converted
    return rows, problems


def _top_level_elements(text: str) -> Iterator[tuple[object, int, int]]:
    """Each element of a top-level JSON list with its start and end offsets (for line numbers)."""
    decoder = json.JSONDecoder()
    index = _skip_space(text, 0)
    if not text.startswith("[", index):
        raise ValueError("the file does not start with '['")
    index = _skip_space(text, index + 1)
    if text.startswith("]", index):
        return
    while True:
        value, end = decoder.raw_decode(text, index)
        yield value, index, end
        index = _skip_space(text, end)
        if text.startswith("]", index):
            return
        if not text.startswith(",", index):
            raise ValueError(f"expected ',' or ']' at line {_line(text, index)}")
        index = _skip_space(text, index + 1)


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _from_json(key: str, value: object) -> tuple[object, str]:
    """A JSON value for ``key``: a list may also be a ``;``-separated text, tags an object of strings."""
    if value is None:
        return None, ""
    if key in MANIFEST_COLUMNS:
        if isinstance(value, str):
            return _from_text(key, value)
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return value, ""
        return None, f"must be a list of manifest names, got {json.dumps(value)}"
    if key == "tags":
        if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
            return value, ""
        return None, f"must be an object of string values, got {json.dumps(value)}"
    if not isinstance(value, str):
        return None, f"must be a string, got {json.dumps(value)}"
    return value, ""


# Python data ---------------------------------------------------------------------------------------------------
def _python_rows(clips: object) -> tuple[list[Row], list[Problem]]:
    if isinstance(clips, str | bytes) or not isinstance(clips, Sequence):
        rule = f"must be a list of Clip (or of mappings with Clip's fields), got {type(clips).__name__}"
        return [], [Problem("ClipSet", "clips", rule)]
    rows: list[Row] = []
    problems: list[Problem] = []
    for index, clip in enumerate(clips):
        row = Row(index, f"clips[{index}]")
        rows.append(row)
        if isinstance(clip, Clip):
            given: Mapping[str, object] = {f.name: getattr(clip, f.name) for f in fields(Clip)}
        elif isinstance(clip, Mapping):
            given = clip
        else:
            problems.append(row.problem("clip", "clip", f"must be a Clip or a mapping, got {type(clip).__name__}"))
            continue
        for key, value in given.items():
            if key not in COLUMNS:
                rule = f"is not a field of Clip; fields: {', '.join(COLUMNS)}"
                problems.append(row.problem(str(key), repr(key), rule))
            elif value is not None:
                row.values[str(key)] = value
        if row.name:
            row.where = f"clips[{index}] ({row.name})"
    return rows, problems


# Times ---------------------------------------------------------------------------------------------------------
def to_datetime(value: object) -> tuple[object, str]:
    """A window time as the construct takes it: a datetime stays, an ISO 8601 text with an offset becomes one;
    anything else stays as it is (for the construct's rule to name), with why when it is a text that is not."""
    if not isinstance(value, str):
        return value, ""
    try:
        return spec.parse_timestamp(value), ""
    except ValueError:
        return value, f"{spec.TIMESTAMP_RULE}, got {value!r}"


# Set-level rules -----------------------------------------------------------------------------------------------
def name_problems(rows: Sequence[Row]) -> list[Problem]:
    """Each clip needs a name that can become its construct id and job name, unique within the set."""
    problems: list[Problem] = []
    first: dict[str, Row] = {}
    for row in rows:
        value = row.values.get("name")
        if value is None:
            problems.append(row.problem("name", "name", "is required: it is the clip's identity"))
            continue
        for violation in spec.check_name("name", value):
            rule = f"{violation.rule}: it becomes the clip's construct id and job name"
            problems.append(row.problem("name", "name", rule))
        if not isinstance(value, str):
            continue
        if value in first:
            rule = (
                f"{value!r} repeats the name of {first[value].where}: a clip's name is its identity, so each clip "
                "needs its own"
            )
            problems.append(row.problem("name", "name", rule))
        else:
            first[value] = row
    return problems
