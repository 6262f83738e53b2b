"""What both emulators share (``emulator/base.py``), run over v2 and v1 through unmodified boto3: finding the
emulator through the endpoint variable, the call log and its events, scripted-status snapshots, a bug answered
as the service's 500, one request at a time, start and stop."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from mediapackage_harvest.rehearsal.emulator.base import ScriptedJobsEmulator
from mediapackage_harvest.rehearsal.scenario import Fault, Scenario
from tests.rehearsal.emulator.wire import START, FakeClock, Flavour, client_for, error_of

StartEmulator = Callable[..., ScriptedJobsEmulator]


def test_boto3_finds_the_emulator_through_the_service_endpoint_variable(
    flavour: Flavour, emulator: ScriptedJobsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(flavour.endpoint_variable, emulator.url)
    client: Any = boto3.client(  # type: ignore[call-overload]
        emulator.api.model.service_name,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    created = client.create_harvest_job(**flavour.request())
    assert emulator.job(created["Arn"])[flavour.name_member] == "clip-1"
    assert [job[flavour.name_member] for job in emulator.jobs()] == ["clip-1"]


def test_calls_are_recorded_with_time_operation_job_and_outcome(
    flavour: Flavour, emulator: ScriptedJobsEmulator, clock: FakeClock
) -> None:
    client = client_for(emulator)
    client.create_harvest_job(**flavour.request())
    clock.advance(3)
    error_of(lambda: flavour.read(client, "missing"))
    flavour.list(client)
    assert [(c.at - START, c.operation, c.job_name, c.status, c.error_code) for c in emulator.calls] == [
        (0, "CreateHarvestJob", "clip-1", 200, None),
        (3, flavour.read_operation, "missing", 404, flavour.not_found_code),
        (3, "ListHarvestJobs", None, 200, None),
    ]


def test_a_create_reports_what_it_was_sent_even_when_refused(flavour: Flavour, start_emulator: StartEmulator) -> None:
    emulator = start_emulator(Scenario(faults=(Fault("CreateHarvestJob", "ThrottlingException", frozenset({1})),)))
    events: list[tuple[str, str]] = []
    emulator.on_event(lambda _at, kind, detail: events.append((kind, detail)))
    client = client_for(emulator)
    error_of(lambda: client.create_harvest_job(**flavour.request()))
    created = client.create_harvest_job(**flavour.request())
    flavour.read(client, "clip-1")
    throttled = f"{emulator.calls[0].status} {emulator.calls[0].error_code}"
    assert [detail for kind, detail in events if kind == "CreateHarvestJob"] == [
        f"clip-1: {throttled}; sent: {flavour.sent}",
        f"clip-1: 200 {created['Status']}; sent: {flavour.sent}",
    ]
    assert [call.sent for call in emulator.calls] == [flavour.sent, flavour.sent, None]  # reads send nothing new


def test_jobs_are_snapshots_and_an_unknown_arn_is_a_key_error(flavour: Flavour, emulator: ScriptedJobsEmulator) -> None:
    arn = client_for(emulator).create_harvest_job(**flavour.request())["Arn"]
    snapshot = emulator.job(arn)
    snapshot[flavour.name_member] = "changed"
    assert emulator.jobs() == [emulator.job(arn)]
    assert emulator.job(arn)[flavour.name_member] == "clip-1"
    with pytest.raises(KeyError):
        emulator.job(arn + "-nope")


def test_concurrent_creates_are_consistent(flavour: Flavour, start_emulator: StartEmulator) -> None:
    emulator = start_emulator(Scenario(active_jobs_quota=100))
    errors: list[BaseException] = []
    client = client_for(emulator)  # boto3 clients are thread-safe

    def create(index: int) -> None:
        try:
            client.create_harvest_job(**flavour.request(f"clip-{index}"))
        except BaseException as error:  # collected for the assertion below
            errors.append(error)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(j[flavour.name_member] for j in emulator.jobs()) == sorted(f"clip-{i}" for i in range(20))


def test_an_emulator_bug_is_a_500_and_is_kept(
    flavour: Flavour, emulator: ScriptedJobsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(params: dict[str, Any], now: float) -> dict[str, Any]:
        raise RuntimeError("boom")

    monkeypatch.setitem(emulator._handlers, flavour.read_operation, broken)
    error = error_of(lambda: flavour.read(client_for(emulator), "clip-1"))
    assert error.response["Error"]["Code"] == flavour.internal_code
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert [str(e) for e in emulator.internal_errors] == ["boom"]


def test_stop_then_url_is_an_error(flavour: Flavour, clock: FakeClock) -> None:
    with flavour.emulator(clock) as emulator:
        assert emulator.url.startswith("http://127.0.0.1:")
    with pytest.raises(RuntimeError):
        _ = emulator.url
