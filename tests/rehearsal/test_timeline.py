"""The rehearsal's timeline, as a person reads it (the table) and a program reads it (the JSON).

A stack with a v2 and a v1 job is rehearsed end to end: the bundled handler calls the emulators over HTTP with
unmodified boto3, and the timeline must show what each CreateHarvestJob was sent, whole.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aws_cdk import App, Stack

from mediapackage_harvest import HarvestJob, MediaPackageV1HarvestJob
from mediapackage_harvest.rehearsal.harness import Rehearsal
from mediapackage_harvest.rehearsal.timeline import DETAIL_COLUMN, Entry, Timeline
from tests.v1.v1_stacks import rehearsal_template

START = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
END = START + timedelta(minutes=30)


def clips_stack() -> Stack:
    stack = Stack(App(), "TimelineClips")
    HarvestJob(
        stack,
        "Goal",
        channel_group_name="live",
        channel_name="main",
        origin_endpoint_name="hls",
        hls_manifests=["index"],
        dash_manifests=["dash-main"],
        start_time=START,
        end_time=END,
        destination_bucket="harvest-bucket",
        destination_path="clips/goal/",
        tags={"team": "sport", "cost-centre": "clips"},
    )
    MediaPackageV1HarvestJob(
        stack,
        "Legacy",
        origin_endpoint_id="sports-hls",
        start_time=START,
        end_time=END,
        destination_bucket="harvest-bucket",
        manifest_key="clips/legacy/index.m3u8",
        harvest_job_id="legacy-goal",
    )
    return stack


def table_rows(table: str, entry: Entry) -> list[str]:
    """The table's row for ``entry``: its first line and its continuation lines."""
    lines = table.splitlines()
    first = next(
        i
        for i, line in enumerate(lines)
        if line[DETAIL_COLUMN - 22 :].startswith(entry.what) and entry.resource in line
    )
    return [lines[first], *_continuations(lines[first + 1 :])]


def _continuations(lines: list[str]) -> list[str]:
    taken = []
    for line in lines:
        if not line.startswith(" " * DETAIL_COLUMN):
            break
        taken.append(line)
    return taken


def test_each_create_shows_what_it_was_sent_in_the_table_and_the_json(tmp_path: Path) -> None:
    with Rehearsal(start=END + timedelta(minutes=5)) as rehearsal:
        assert rehearsal.deploy(rehearsal_template(clips_stack())).status == "CREATE_COMPLETE"
        (v2_job,) = rehearsal.emulator.jobs()
        timeline = rehearsal.timeline
        table = timeline.table()
        timeline.write_json(tmp_path / "timeline.json")

    name = v2_job["HarvestJobName"]
    v2_sent = (
        "endpoint live/main/hls; manifests HLS index, DASH dash-main; "
        "window 2026-01-15T10:00:00Z to 2026-01-15T10:30:00Z; "
        "destination s3://harvest-bucket/clips/goal/; tags team=sport, cost-centre=clips"
    )
    v1_sent = (
        "endpoint sports-hls; window 2026-01-15T10:00:00+00:00 to 2026-01-15T10:30:00+00:00; "
        "destination s3://harvest-bucket/clips/legacy/index.m3u8; role arn:aws:iam::123456789012:role/"
    )
    (v2_create,) = timeline.where("mediapackage", "CreateHarvestJob")
    (v1_create,) = timeline.where("mediapackage-v1", "CreateHarvestJob")
    assert (v2_create.resource, v2_create.detail) == (name, f"200 QUEUED; sent: {v2_sent}")
    assert v1_create.resource == "legacy-goal"
    assert v1_create.detail.startswith(f"200 IN_PROGRESS; sent: {v1_sent}")

    # The JSON carries the same detail, whole.
    written = json.loads((tmp_path / "timeline.json").read_text())
    creates = {(e["source"], e["resource"]): e["detail"] for e in written if e["what"] == "CreateHarvestJob"}
    assert creates == {("mediapackage", name): v2_create.detail, ("mediapackage-v1", "legacy-goal"): v1_create.detail}

    # The table wraps a long detail under its column: nothing is cut, and only a word longer than the column (an
    # ARN, kept whole so that it can be copied) makes a line wider than the table.
    assert all(len(line) <= 140 or len(line.split()[-1]) > 140 - DETAIL_COLUMN for line in table.splitlines())
    for entry in (v2_create, v1_create):
        rows = table_rows(table, entry)
        assert len(rows) > 1
        shown = "".join(row[DETAIL_COLUMN:] for row in rows)
        assert shown.replace(" ", "") == entry.detail.replace(" ", "")
    v2_rows = table_rows(table, v2_create)  # no word of it is longer than the column: it wraps at spaces only
    assert " ".join(row[DETAIL_COLUMN:].strip() for row in v2_rows) == f"200 QUEUED; sent: {v2_sent}"


def test_a_short_detail_stays_on_one_line_and_an_unbroken_one_stays_whole() -> None:
    timeline = Timeline(origin=0)
    timeline.add(1, "mediapackage", "clip-1", "status", "clip-1: QUEUED")
    timeline.add(2, "lambda", "Fn", "invoked", "x" * 130)
    lines = timeline.table(width=120).splitlines()
    assert lines[3].endswith("clip-1: QUEUED") and len(lines) == 5
    assert lines[4][DETAIL_COLUMN:] == "x" * 130  # a word longer than the column (an ARN) is never split


def test_each_row_shows_the_time_of_day_next_to_the_virtual_seconds_and_the_date_where_it_changes() -> None:
    deploy = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    timeline = Timeline(origin=deploy.timestamp())
    timeline.add(deploy.timestamp() + 5, "mediapackage", "clip-1", "status", "QUEUED")
    timeline.add(deploy.timestamp() + 3600.25, "mediapackage", "clip-1", "status", "COMPLETED")
    lines = timeline.table().splitlines()
    assert lines[0].split()[:3] == ["t", "(s)", "UTC"]
    assert [line.split()[:2] for line in lines[2:]] == [
        ["2026-11-20"],
        ["5.0", "23:30:05"],
        ["2026-11-21"],
        ["3600.2", "00:30:00"],
    ]
    assert [(e["at"], e["time"]) for e in timeline.to_json()] == [
        (5.0, "2026-11-20T23:30:05Z"),
        (3600.25, "2026-11-21T00:30:00.250Z"),
    ]
    assert timeline.entries[1].time == datetime(2026, 11, 21, 0, 30, 0, 250000, tzinfo=UTC)
