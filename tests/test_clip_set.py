"""``ClipSet`` at synth: each clip a HarvestJob named after it, lanes under the quota, what downstream reads, and every
bad row of a file reported at once with its file, row and column."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from mediapackage_harvest import RESOURCE_TYPE, Clip, ClipSet, InvalidClipSet, lanes
from tests.endpoints import origin_endpoint
from tests.template_values import flat

HEADER = "name,start_time,end_time,hls_manifests,tags,destination_path"
ROWS = [
    "goal-1,2026-01-15T10:04:00Z,2026-01-15T10:06:00Z,,team=home,",
    "save-1,2026-01-15T10:10:00Z,2026-01-15T10:11:00Z,,,",
    "goal-2,2026-01-15T10:20:00Z,2026-01-15T10:23:00Z,backup,,",
    "red-card,2026-01-15T10:30:00Z,2026-01-15T10:30:30Z,,,cards/red/",
    "corner,2026-01-15T10:40:00Z,2026-01-15T10:42:00Z,,,",
]
SETS: dict[str, Any] = {"channel_group_name": "live", "channel_name": "main", "origin_endpoint_name": "hls"}


def csv_file(tmp_path: Path, rows: list[str], name: str = "reel.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def reel(stack: Stack, clips_file: Path, **overrides: Any) -> ClipSet:
    props: dict[str, Any] = {
        **SETS,
        "clips_file": clips_file,
        "destination_bucket": "harvest-bucket",
        "destination_path": "highlights/2026-01-15",
        "hls_manifests": ["index"],
        "tags": {"event": "final", "team": "both"},
        "max_active_jobs": 2,
        **overrides,
    }
    return ClipSet(stack, "Reel", **props)


def clips_of(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rid: r for rid, r in template["Resources"].items() if r["Type"] == RESOURCE_TYPE}


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """One App: the reel, the same rows in another order, and two sets sharing a channel group's lanes."""
    folder = tmp_path_factory.mktemp("clips")
    app = App()
    stacks = {name: Stack(app, name) for name in ("Reel", "Reordered", "TwoSets")}
    reel(stacks["Reel"], csv_file(folder, ROWS))
    reel(stacks["Reordered"], csv_file(folder, ROWS[::-1], "reordered.csv"))
    reel(stacks["TwoSets"], csv_file(folder, ROWS[:2], "first.csv"))
    more = [Clip("extra-0", datetime(2026, 1, 15, 11, 0, tzinfo=UTC), datetime(2026, 1, 15, 11, 1, tzinfo=UTC))]
    ClipSet(
        stacks["TwoSets"],
        "More",
        clips=[*more],
        destination_bucket="b-u-c",
        hls_manifests=["i"],
        max_active_jobs=2,
        **SETS,
    )
    return {name: dict(Template.from_stack(stack).to_json()) for name, stack in stacks.items()}


def test_each_clip_is_a_harvest_job_named_after_it_with_the_sets_defaults(synthesized: dict[str, Any]) -> None:
    clips = clips_of(synthesized["Reel"])
    by_name = {re.sub(r"^Reel|[0-9A-F]{8}$", "", rid): r["Properties"] for rid, r in clips.items()}
    assert sorted(by_name) == ["corner", "goal1", "goal2", "redcard", "save1"]
    goal = by_name["goal1"]
    assert goal["Destination"]["S3Destination"] == {
        "BucketName": "harvest-bucket",
        "DestinationPath": "highlights/2026-01-15/goal-1/",
    }
    assert goal["Tags"] == {"event": "final", "team": "home"}  # the clip's own tag wins
    assert goal["HarvestedManifests"] == {"HlsManifests": [{"ManifestName": "index"}]}
    assert goal["WaitForCompletion"] == "true" and "HarvestJobName" not in goal  # a derived, never-colliding name
    assert by_name["goal2"]["HarvestedManifests"] == {"HlsManifests": [{"ManifestName": "backup"}]}
    assert by_name["redcard"]["Destination"]["S3Destination"]["DestinationPath"] == "cards/red/"


def test_the_order_of_the_rows_never_changes_the_template(synthesized: dict[str, Any]) -> None:
    reel_, reordered = synthesized["Reel"], synthesized["Reordered"]
    assert clips_of(reel_) == clips_of(reordered)
    assert [o["Value"] for o in reel_["Outputs"].values()] == [o["Value"] for o in reordered["Outputs"].values()]


def test_at_most_max_active_jobs_clips_run_at_once_each_after_the_one_before_it_in_its_lane(
    synthesized: dict[str, Any],
) -> None:
    clips = clips_of(synthesized["Reel"])
    after = {rid: [d for d in r["DependsOn"] if d in clips] for rid, r in clips.items()}
    assert all(len(deps) <= 1 for deps in after.values())
    heads = [rid for rid, deps in after.items() if not deps]
    chains = []
    for head in sorted(heads):
        chain = [head]
        while nxt := [rid for rid, deps in after.items() if deps == [chain[-1]]]:
            chain += nxt
        chains.append(chain)
    seconds = {rid: _seconds(r["Properties"]["ScheduleConfiguration"]) for rid, r in clips.items()}
    assert sorted(chains) == sorted(lanes.pack(seconds, 2))  # longest first onto the least-loaded lane


def test_downstream_gets_each_clips_attributes_and_one_output_listing_every_clip(tmp_path: Path) -> None:
    stack = Stack(App(), "Downstream")
    bucket = s3.Bucket(stack, "Bucket")
    clip_set = reel(stack, csv_file(tmp_path, ROWS[:2]), destination_bucket=bucket)
    goal = clip_set.clips["goal-1"]
    resolve = stack.resolve
    logical_id = resolve(goal.job.resource.node.default_child.logical_id)  # type: ignore[union-attr]
    assert resolve(goal.harvest_job_arn) == {"Fn::GetAtt": [logical_id, "Arn"]}
    assert resolve(goal.etag) == {"Fn::GetAtt": [logical_id, "ETag"]}
    assert (
        flat(resolve(goal.s3_prefix))
        == "s3://${" + resolve(bucket.bucket_name)["Ref"] + "}/highlights/2026-01-15/goal-1/"
    )
    (output,) = Template.from_stack(stack).to_json()["Outputs"].values()
    listing = flat(output["Value"])
    assert listing.startswith(
        '[{"name":"goal-1","arn":"${' + logical_id + '.Arn}","status":"${' + logical_id + '.Status}"'
    )
    assert list(clip_set.clips) == ["goal-1", "save-1"] and '"name":"save-1"' in listing


def test_three_bad_rows_are_reported_at_once_naming_file_row_and_column_and_nothing_is_created(tmp_path: Path) -> None:
    rows = [
        ROWS[0],
        "save 1,2026-01-15T10:10:00Z,2026-01-15T10:11:00Z,,,",
        "goal-2,2026-01-15T10:20:00Z,2026-01-15T10:19:00Z,,,",
        "goal-1,2026-01-15 10:30,2026-01-15T10:32:00Z,,,",
    ]
    path = csv_file(tmp_path, rows)
    stack = Stack(App(), "Bad")
    with pytest.raises(InvalidClipSet) as raised:
        reel(stack, path)
    assert str(raised.value) == "\n".join(
        [
            "ClipSet 'Bad/Reel': 4 problems:",
            f"  {path} row 3, column A (name): name must match [a-zA-Z0-9_-]+ (letters, digits, '-' and '_'), "
            "got 'save 1': it becomes the clip's construct id and job name",
            f"  {path} row 4, column C (end_time): end_time (ScheduleConfiguration.EndTime) must be after StartTime "
            "(2026-01-15T10:20:00+00:00), got 2026-01-15T10:19:00+00:00",
            f"  {path} row 5, column A (name): name 'goal-1' repeats the name of {path} row 2: a clip's name is its "
            "identity, so each clip needs its own",
            f"  {path} row 5, column B (start_time): start_time (ScheduleConfiguration.StartTime) must be an ISO-8601 "
            "timestamp with a UTC offset (timezone-aware), got '2026-01-15 10:30'",
        ]
    )
    assert stack.node.try_find_child("Reel") is None


def test_a_clip_is_checked_against_the_origin_endpoint_as_a_harvest_job_is(tmp_path: Path) -> None:
    stack = Stack(App(), "Endpoint")
    endpoint = origin_endpoint(stack)
    now = datetime.now(UTC).replace(microsecond=0)
    recent, old = now - timedelta(hours=2), now - timedelta(days=2)
    rows = [
        f"recent,{recent.isoformat()},{(recent + timedelta(minutes=1)).isoformat()},idx,,",
        f"old,{old.isoformat()},{(old + timedelta(minutes=1)).isoformat()},,,",
    ]
    with pytest.raises(InvalidClipSet) as raised:
        reel(stack, csv_file(tmp_path, rows), origin_endpoint=endpoint, **dict.fromkeys(SETS))
    problems = [(p.where, p.prop) for p in raised.value.problems]
    assert problems == [
        (f"{tmp_path / 'reel.csv'} row 2, column D (hls_manifests)", "hls_manifests[0]"),
        (f"{tmp_path / 'reel.csv'} row 3, column B (start_time)", "start_time"),
    ]
    assert "which origin endpoint 'Endpoint/Endpoint' does not declare as a HLS manifest" in str(raised.value)
    assert "older than the startover window of origin endpoint 'Endpoint/Endpoint'" in str(raised.value)


def test_a_set_default_that_breaks_a_rule_is_reported_once_for_the_set(tmp_path: Path) -> None:
    with pytest.raises(InvalidClipSet) as raised:
        reel(Stack(App(), "Defaults"), csv_file(tmp_path, ROWS), hls_manifests=["bad name"], max_active_jobs=0)
    assert [str(p) for p in raised.value.problems] == [
        "ClipSet: max_active_jobs must be a whole number of jobs, at least 1 (MediaPackage's default quota is 10), "
        "got 0",
        "ClipSet: hls_manifests[0] (HarvestedManifests.HlsManifests[0].ManifestName) must match [a-zA-Z0-9_-]+ "
        "(letters, digits, '-' and '_'), got 'bad name'",
    ]


def test_sets_of_one_stack_on_one_channel_group_share_its_lanes(synthesized: dict[str, Any], tmp_path: Path) -> None:
    clips = clips_of(synthesized["TwoSets"])
    extra = next(rid for rid in clips if rid.startswith("Moreextra0"))
    assert [d for d in clips[extra]["DependsOn"] if d in clips]  # after a clip of the first set, in its lane
    stack = Stack(App(), "Shared")
    reel(stack, csv_file(tmp_path, ROWS[:1]))
    with pytest.raises(
        InvalidClipSet, match="max_active_jobs must be 2, as for the sets of this stack declared before"
    ):
        ClipSet(
            stack,
            "Other",
            clips=[Clip("x", "2026-01-15T10:00:00Z", "2026-01-15T10:01:00Z")],
            destination_bucket="b-u-c",
            hls_manifests=["i"],
            max_active_jobs=3,
            **SETS,
        )


def test_the_bucket_policy_grants_the_sets_prefix_once(tmp_path: Path) -> None:
    stack = Stack(App(), "Policy")
    reel(stack, csv_file(tmp_path, ROWS), destination_bucket=s3.Bucket(stack, "Bucket"))
    (policy,) = Template.from_stack(stack).find_resources("AWS::S3::BucketPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    (statement,) = [s for s in statements if s.get("Principal") == {"Service": "mediapackagev2.amazonaws.com"}]
    resources = [flat(r) for r in statement["Resource"]]
    assert [r.split("}", 1)[1] for r in resources] == ["/highlights/2026-01-15/*", "/cards/red/*"]


def _seconds(schedule: dict[str, str]) -> float:
    start, end = (datetime.fromisoformat(schedule[key]) for key in ("StartTime", "EndTime"))
    return (end - start).total_seconds()


def test_json_output_is_valid_json_once_resolved(synthesized: dict[str, Any]) -> None:
    (output,) = synthesized["Reel"]["Outputs"].values()
    listing = json.loads(flat(output["Value"]))
    assert [clip["name"] for clip in listing] == ["corner", "goal-1", "goal-2", "red-card", "save-1"]
    assert listing[3]["s3_prefix"] == "s3://harvest-bucket/cards/red/"
