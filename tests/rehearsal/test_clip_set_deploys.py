"""A ClipSet deployed on the rehearsal: its quota never exceeded and no slot left idle, an update that adds one clip
and removes another touching only those two, and a slot that another stack frees taken within seconds."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import boto3

from mediapackage_harvest import lanes
from mediapackage_harvest.rehearsal.harness import Rehearsal, default_start
from mediapackage_harvest.rehearsal.scenario import JobScript, Scenario
from tests.rehearsal.stacks import REEL, REEL_QUOTA, Synthesized

QUEUED = 5.0
QUOTA_ERROR = "ServiceQuotaExceededException"


def scenario(other_stack_seconds: float = 0.0) -> Scenario:
    """Each clip's job runs as long as its clip (QUEUED 5 s, then IN_PROGRESS), on a channel group of REEL_QUOTA;
    another stack's jobs (``other-stack-*``) for ``other_stack_seconds``."""
    jobs = {
        f"Reel{name.replace('-', '')}*": JobScript(queued_seconds=QUEUED, in_progress_seconds=seconds - QUEUED)
        for name, (_, seconds) in {**REEL, "goal-3": (0, 90)}.items()
    }
    jobs["other-stack-*"] = JobScript(queued_seconds=0.0, in_progress_seconds=other_stack_seconds)
    return Scenario(jobs=jobs, active_jobs_quota=REEL_QUOTA)


def active_at_most(rehearsal: Rehearsal) -> int:
    """The most jobs QUEUED or IN_PROGRESS at once, from the status changes MediaPackage reported."""
    active, most = set(), 0
    for entry in rehearsal.timeline.where("mediapackage", "status"):
        if entry.detail in ("QUEUED", "IN_PROGRESS"):
            active.add(entry.resource)
        else:
            active.discard(entry.resource)
        most = max(most, len(active))
    return most


def quota_errors(rehearsal: Rehearsal) -> list[float]:
    return [c.at for c in rehearsal.emulator.calls if c.error_code == QUOTA_ERROR]


def test_a_reel_runs_at_most_its_quota_at_once_and_leaves_no_slot_idle(stacks: Synthesized) -> None:
    template = stacks.template("Reel")
    with Rehearsal(scenario(), start=default_start(template)) as rehearsal:
        began = rehearsal.clock.time()
        created = rehearsal.deploy(template)
        took = rehearsal.clock.time() - began

        assert created.status == "CREATE_COMPLETE"
        assert quota_errors(rehearsal) == [] and active_at_most(rehearsal) == REEL_QUOTA
        lengths = {name: float(seconds) for name, (_, seconds) in REEL.items()}
        best = lanes.makespan(lengths, lanes.pack(lengths, REEL_QUOTA))  # 270 s: 120 + 90 | 120 + 60 + 60
        assert best <= took <= best + 3 * 2  # each next clip of a lane starts within 2 s of the one before
        table = rehearsal.timeline.table()
        resources = {line[27:61].strip() for line in table.splitlines()[2:]}  # the table's resource column
        assert {"goal-1", "red-card"} <= resources  # clips named as in the set, not by logical id or job name


def test_an_update_that_adds_one_clip_and_removes_another_sends_only_their_two_requests(stacks: Synthesized) -> None:
    template = stacks.template("Reel")
    with Rehearsal(scenario(), start=default_start(template)) as rehearsal:
        assert rehearsal.deploy(template).status == "CREATE_COMPLETE"
        before = {job["Arn"] for job in rehearsal.emulator.jobs()}

        updated = rehearsal.deploy(stacks.template("Reel", updated=True))

        assert updated.status == "UPDATE_COMPLETE"
        requests = sorted((r.request_type, re.sub("[0-9A-F]{8}$", "", r.logical_id)) for r in updated.requests)
        assert requests == [("Create", "Reelgoal3"), ("Delete", "Reelsave1")]
        assert [c.operation for c in rehearsal.emulator.calls].count("CancelHarvestJob") == 0  # its files stay
        assert before < {job["Arn"] for job in rehearsal.emulator.jobs()}  # every earlier job is still there


def test_a_slot_another_stack_frees_is_taken_within_seconds(stacks: Synthesized) -> None:
    template = stacks.template("Reel")
    start = default_start(template)
    with Rehearsal(scenario(other_stack_seconds=300.0), start=start) as rehearsal:
        occupy_every_slot(rehearsal.emulator.url, start)
        began = rehearsal.clock.time()

        created = rehearsal.deploy(template)

        assert created.status == "CREATE_COMPLETE"
        refused = quota_errors(rehearsal)
        assert refused and max(refused) - began < 300  # refused only while the other stack held every slot
        ours = [
            c.at - began
            for c in rehearsal.emulator.calls
            if c.operation == "CreateHarvestJob" and c.status == 200 and str(c.job_name).startswith("Reel")
        ]
        assert 300 <= min(ours) <= 302  # created within 2 s of the other stack's jobs ending, not at the next poll


def occupy_every_slot(url: str, now: datetime) -> None:
    """Another stack's jobs hold the channel group's quota, created through MediaPackage's API."""
    client = boto3.client("mediapackagev2", region_name="us-east-1", endpoint_url=url)
    for index in range(REEL_QUOTA):
        client.create_harvest_job(
            ChannelGroupName="live",
            ChannelName="other",
            OriginEndpointName="other",
            HarvestJobName=f"other-stack-{index}",
            HarvestedManifests={"HlsManifests": [{"ManifestName": "index"}]},
            ScheduleConfiguration={"StartTime": now - timedelta(minutes=10), "EndTime": now - timedelta(minutes=5)},
            Destination={"S3Destination": {"BucketName": "other-bucket", "DestinationPath": f"{index}/"}},
        )
