"""Reading clips (mediapackage_harvest.clips) and packing lanes (mediapackage_harvest.lanes): pure Python, no synth."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mediapackage_harvest import Clip, lanes
from mediapackage_harvest.clips import name_problems, read_clips, to_datetime


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_csv_row_is_a_clip_with_lists_tags_and_the_cells_a_spreadsheet_shows(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "reel.csv",
        "\ufeffend_time,name,start_time,hls_manifests,tags,description\n"
        '2026-01-15T10:06:00Z,goal-1,2026-01-15T10:04:00Z,index; backup,team=home;half=1,"First goal,\n header"\n'
        ",,,,,\n"  # a spreadsheet's empty row
        "2026-01-15T10:12:00Z,save-1,2026-01-15T10:10:00Z,,,\n",
    )
    rows, problems = read_clips(None, path)

    assert problems == []
    first, second = rows
    assert first.values == {
        "end_time": "2026-01-15T10:06:00Z",
        "name": "goal-1",
        "start_time": "2026-01-15T10:04:00Z",
        "hls_manifests": ["index", "backup"],
        "tags": {"team": "home", "half": "1"},
        "description": "First goal,\n header",
    }
    assert first.at("start_time") == f"{path} row 2, column C (start_time)"
    assert second.where == f"{path} row 4" and "hls_manifests" not in second.values  # an empty cell gives nothing


def test_csv_header_and_cell_problems_name_the_row_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "reel.csv", "name,start,end_time,tags\ngoal-1,x,2026-01-15T10:06:00Z,team\n")
    _, problems = read_clips(None, path)
    assert [str(p) for p in problems] == [
        f"{path} row 1, column B: 'start' is not a column a clip has; columns: name, start_time, end_time, "
        "destination_path, hls_manifests, dash_manifests, low_latency_hls_manifests, description, tags",
        f"{path} row 1: start_time is a required column and the header does not name it",
        f"{path} row 2, column D (tags): tags must be key=value pairs separated by ';', got 'team'",
    ]


def test_a_json_clip_is_named_by_its_index_and_each_key_by_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "reel.json",
        '[\n  {"name": "goal-1", "start_time": "2026-01-15T10:04:00Z", "end_time": "2026-01-15T10:06:00Z",\n'
        '   "hls_manifests": ["index"], "tags": {"team": "home"}},\n'
        '  {"name": "save-1",\n   "start_time": 5,\n   "colour": "red"}\n]\n',
    )
    rows, problems = read_clips(None, path)

    assert rows[0].values["hls_manifests"] == ["index"] and rows[0].values["tags"] == {"team": "home"}
    assert rows[1].where == f"{path} [1] (line 4)"
    assert [str(p) for p in problems] == [
        f'{path} [1] (line 5) "start_time": start_time must be a string, got 5',
        f"{path} [1] (line 6) \"colour\": 'colour' is not a key a clip has; keys: name, start_time, end_time, "
        "destination_path, hls_manifests, dash_manifests, low_latency_hls_manifests, description, tags",
    ]


@pytest.mark.parametrize(
    ("name", "text", "rule"),
    [
        ("reel.txt", "", "clips_file must be a .csv or .json file, got 'reel.txt'"),
        ("reel.json", '{"clips": []}', "clips_file must be a JSON list of clip objects: the file does not start"),
        ("reel.csv", "", "header must name the columns, at least name, start_time, end_time"),
    ],
)
def test_a_file_that_is_no_list_of_clips_says_what_it_must_be(tmp_path: Path, name: str, text: str, rule: str) -> None:
    _, problems = read_clips(None, write(tmp_path, name, text))
    assert rule in str(problems[0])


def test_a_missing_file_says_where_it_was_looked_for(tmp_path: Path) -> None:
    _, problems = read_clips(None, tmp_path / "nowhere.csv")
    assert str(problems[0]).endswith("clips_file cannot be read: No such file or directory")


def test_python_clips_and_mappings_read_alike_and_names_must_be_unique_and_valid() -> None:
    start, end = datetime(2026, 1, 15, 10, 4, tzinfo=UTC), datetime(2026, 1, 15, 10, 6, tzinfo=UTC)
    rows, problems = read_clips(
        [Clip("goal-1", start, end), {"name": "goal-1", "start_time": start, "end_time": end}, {"name": "a b"}], None
    )
    assert problems == [] and rows[1].values == {"name": "goal-1", "start_time": start, "end_time": end}
    assert [str(p) for p in name_problems(rows)] == [
        "clips[1] (goal-1), name: name 'goal-1' repeats the name of clips[0] (goal-1): a clip's name is its identity, "
        "so each clip needs its own",
        "clips[2] (a b), name: name must match [a-zA-Z0-9_-]+ (letters, digits, '-' and '_'), got 'a b': it becomes "
        "the clip's construct id and job name",
    ]
    assert "give exactly one of clips" in str(read_clips(None, None)[1][0])


def test_times_are_iso_8601_with_an_offset() -> None:
    assert to_datetime("2026-01-15T10:04:00Z") == (datetime(2026, 1, 15, 10, 4, tzinfo=UTC), "")
    assert to_datetime("2026-01-15 10:04")[1] == (
        "must be an ISO-8601 timestamp with a UTC offset (timezone-aware), got '2026-01-15 10:04'"
    )


def test_lanes_take_the_longest_first_onto_the_least_loaded_lane_whatever_the_order() -> None:
    durations = {"a": 5.0, "b": 4.0, "c": 3.0, "d": 3.0, "e": 3.0}
    packed = lanes.pack(durations, 2)
    assert packed == [["a", "d"], ["b", "c", "e"]] and lanes.makespan(durations, packed) == 10.0
    assert lanes.pack(dict(reversed(durations.items())), 2) == packed
    equal = {f"clip{i:02d}": 120.0 for i in range(30)}
    assert lanes.makespan(equal, lanes.pack(equal, 10)) == 360.0  # the best schedule for equal clips
    assert lanes.pack({"only": 1.0}, 10) == [["only"]]
