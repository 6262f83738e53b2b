"""Rehearsal scenarios: the documented JSON format loads, and a bad scenario says exactly what is wrong."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from mediapackage_harvest.rehearsal import scenario as scenario_module
from mediapackage_harvest.rehearsal.scenario import (
    DEFAULT_FAILURE_MESSAGE,
    EventDelivery,
    Fault,
    JobScript,
    Scenario,
    ScenarioError,
    Throttle,
)


def documented_example() -> dict[str, Any]:
    """The JSON example in the module docstring, so the documentation cannot drift from the loader."""
    doc = scenario_module.__doc__ or ""
    found = re.search(r"::\n\n(    \{.*?\n    \})\n", doc, re.DOTALL)
    assert found, "the module docstring lost its JSON example"
    loaded: dict[str, Any] = json.loads(found.group(1))
    return loaded


def test_defaults_rehearse_a_healthy_service() -> None:
    scenario = Scenario()
    assert scenario.default_job == JobScript(5.0, 30.0, "COMPLETED", DEFAULT_FAILURE_MESSAGE)
    assert scenario.script_for("anything") == scenario.default_job
    assert (scenario.faults, scenario.throttle) == ((), None)
    assert (scenario.active_jobs_quota, scenario.list_page_size) == (10, 10)
    assert Scenario.from_dict({}) == scenario


def test_the_documented_example_loads() -> None:
    scenario = Scenario.from_dict(documented_example())
    assert scenario.script_for("clip-broken-7") == JobScript(
        outcome="FAILED", error_message="Manifest not found on endpoint"
    )
    assert scenario.script_for("long-clip") == JobScript(queued_seconds=60, in_progress_seconds=1800)
    assert scenario.faults == (
        Fault("CreateHarvestJob", "ThrottlingException", frozenset({1, 2})),
        Fault("GetHarvestJob", "InternalServerException", "every", job_name="flaky-*", message="try again"),
    )
    assert scenario.throttle == Throttle(max_calls=5, per_seconds=1.0, operations=frozenset({"GetHarvestJob"}))


def test_load_reads_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(documented_example()))
    assert Scenario.load(path) == Scenario.from_dict(documented_example())
    assert Scenario.load(str(path)) == Scenario.load(path)


def test_job_scripts_inherit_what_they_omit_from_the_default_job() -> None:
    scenario = Scenario.from_dict(
        {"default_job": {"queued_seconds": 1, "in_progress_seconds": 2}, "jobs": {"slow": {"in_progress_seconds": 600}}}
    )
    assert scenario.script_for("slow") == JobScript(queued_seconds=1, in_progress_seconds=600)
    assert scenario.script_for("other") == JobScript(queued_seconds=1, in_progress_seconds=2)
    assert scenario.script_for("slow").finishes_after == 601


def test_an_exact_name_beats_patterns_and_patterns_go_in_order() -> None:
    scenario = Scenario.from_dict(
        {
            "jobs": {
                "clip-*": {"outcome": "FAILED"},
                "clip-1*": {"outcome": "CANCELLED"},
                "clip-10": {"queued_seconds": 0},
            }
        }
    )
    assert scenario.script_for("clip-10").queued_seconds == 0
    assert scenario.script_for("clip-10").outcome == "COMPLETED"
    assert scenario.script_for("clip-11").outcome == "FAILED"  # the first pattern in file order
    assert scenario.script_for("other").outcome == "COMPLETED"


def test_faults_match_operation_job_and_attempt() -> None:
    fault = Scenario.from_dict(
        {"faults": [{"operation": "GetHarvestJob", "code": "ThrottlingException", "attempts": 2, "job_name": "a*"}]}
    ).faults[0]
    assert fault.attempts == frozenset({2})
    assert fault.matches("GetHarvestJob", "abc") and not fault.matches("GetHarvestJob", "b")
    assert not fault.matches("GetHarvestJob", None) and not fault.matches("CancelHarvestJob", "abc")
    assert fault.fails(2) and not fault.fails(1)
    every = Fault("ListHarvestJobs", "AccessDeniedException")
    assert every.matches("ListHarvestJobs", None) and every.fails(1) and every.fails(99)


def test_a_throttle_covers_its_operations_or_all() -> None:
    assert Throttle(1).covers("CreateHarvestJob")
    only_get = Throttle(1, operations=frozenset({"GetHarvestJob"}))
    assert only_get.covers("GetHarvestJob") and not only_get.covers("CreateHarvestJob")


@pytest.mark.parametrize(
    "data, where",
    [
        ({"default_jobs": {}}, "scenario: unknown key(s) default_jobs"),
        ({"default_job": []}, "default_job: must be an object"),
        ({"default_job": {"queued": 5}}, "default_job: unknown key(s) queued"),
        ({"default_job": {"queued_seconds": -1}}, "default_job.queued_seconds: must be at least 0"),
        ({"default_job": {"in_progress_seconds": "30"}}, "default_job.in_progress_seconds: must be a number"),
        ({"jobs": {"x": {"outcome": "DONE"}}}, "jobs['x'].outcome: must be one of CANCELLED, COMPLETED, FAILED"),
        ({"jobs": {"x": {"error_message": ""}}}, "jobs['x'].error_message: must be a non-empty string"),
        ({"jobs": []}, "jobs: must be an object"),
        ({"faults": {}}, "faults: must be a list"),
        ({"faults": [{"code": "ThrottlingException"}]}, "faults[0].operation: is required"),
        ({"faults": [{"operation": "DeleteChannel", "code": "ThrottlingException"}]}, "faults[0].operation"),
        ({"faults": [{"operation": "GetHarvestJob", "code": "Boom"}]}, "faults[0].code: must be one of"),
        (
            {"faults": [{"operation": "GetHarvestJob", "code": "ThrottlingException", "attempts": [0]}]},
            "faults[0].attempts[0]: must be at least 1",
        ),
        (
            {"faults": [{"operation": "GetHarvestJob", "code": "ThrottlingException", "attempts": []}]},
            'faults[0].attempts: must be "every" or a non-empty list',
        ),
        (
            {"faults": [{"operation": "GetHarvestJob", "code": "ThrottlingException", "job_name": 3}]},
            "faults[0].job_name",
        ),
        ({"active_jobs_quota": 2.5}, "active_jobs_quota: must be an integer"),
        ({"active_jobs_quota": True}, "active_jobs_quota: must be an integer"),
        ({"list_page_size": 101}, "list_page_size: must be between 1 and 100"),
        ({"throttle": {"per_seconds": 1}}, "throttle.max_calls: is required"),
        ({"throttle": {"max_calls": 0}}, "throttle.max_calls: must be at least 1"),
        ({"throttle": {"max_calls": 1, "per_seconds": 0}}, "throttle.per_seconds: must be greater than 0"),
        ({"throttle": {"max_calls": 1, "operations": ["Nope"]}}, "throttle.operations[0]"),
        ({"throttle": {"max_calls": 1, "operations": []}}, "throttle.operations: must be a non-empty list"),
        ({"events": []}, "events: must be an object"),
        ({"events": {"delay": 1}}, "events: unknown key(s) delay"),
        ({"events": {"delay_seconds": -1}}, "events.delay_seconds: must be at least 0"),
        ({"events": {"loss": 1.5}}, 'events.loss: must be "all" or a fraction from 0 to 1'),
        ({"events": {"loss": "some"}}, 'events.loss: must be "all" or a fraction from 0 to 1'),
        ({"events": {"duplicate_after_seconds": "soon"}}, "events.duplicate_after_seconds: must be a number"),
    ],
)
def test_a_bad_scenario_names_the_key_at_fault(data: dict[str, Any], where: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_dict(data)
    assert where in str(caught.value)


def test_a_bad_file_names_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ScenarioError, match=r"broken\.json: not valid JSON"):
        Scenario.load(broken)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"faults": [{"operation": "GetHarvestJob", "code": "Nope"}]}))
    with pytest.raises(ScenarioError, match=r"wrong\.json: faults\[0\]\.code"):
        Scenario.load(wrong)
    listed = tmp_path / "list.json"
    listed.write_text("[]")
    with pytest.raises(ScenarioError, match=r"list\.json: scenario: must be an object"):
        Scenario.load(listed)


def test_event_delivery_keys_are_read() -> None:
    read = Scenario.from_dict({"events": {"delay_seconds": 2, "loss": "all", "duplicate_after_seconds": 30}})
    assert read.events == EventDelivery(delay_seconds=2.0, loss=1.0, duplicate_after_seconds=30.0)
    assert Scenario.from_dict({"events": {"loss": 0.25}}).events.loss == 0.25
    assert Scenario().events == EventDelivery()  # delivered once, at once
