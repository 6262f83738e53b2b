"""Sixty jobs polling at once in one stack leave the handler's resource policy far under Lambda's 20 KB limit.

The resource policy is what the template's AWS::Lambda::Permission resources put there plus anything the handler
adds at runtime (crhelper 2.0.12 adds one statement per polling rule). The rehearsal plays the function in moto's
Lambda, so a runtime addition would show up in its policy; the size is sampled every 10 virtual seconds while all
sixty rules exist and the peak is printed.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from mediapackage_harvest.contract import spec
from mediapackage_harvest.rehearsal.scenario import JobScript, Scenario
from mediapackage_harvest.rehearsal.template import Template
from tests.reliability.faults import FaultRehearsal
from tests.reliability.helpers import CROWD, REHEARSAL_START, Stacks, answers, handler_logs, leaked_secrets

POLICY_LIMIT_BYTES = 20 * 1024  # Lambda's limit on a function's resource policy
SAMPLE_SECONDS = 10.0
SAMPLE_UNTIL_SECONDS = 300.0  # the jobs end after 65 s, their polls answer at 105 s; then the Deletes
LONG_JOB = JobScript(queued_seconds=5, in_progress_seconds=60)  # ends after the hand-over: sixty rules at once


def template_statements(template: Template, function_id: str) -> list[dict[str, Any]]:
    """The statements the template's permissions put in the function's policy, as Lambda writes them."""
    statements = []
    for logical_id, resource in template.resources.items():
        properties = resource.get("Properties", {})
        if resource["Type"] != "AWS::Lambda::Permission" or properties["FunctionName"] != {
            "Fn::GetAtt": [function_id, "Arn"]
        }:
            continue
        condition: dict[str, Any] = {"ArnLike": {"AWS:SourceArn": template.resolve(properties["SourceArn"])}}
        if "SourceAccount" in properties:
            condition["StringEquals"] = {"AWS:SourceAccount": template.resolve(properties["SourceAccount"])}
        statements.append(
            {
                "Sid": logical_id,
                "Effect": "Allow",
                "Principal": {"Service": properties["Principal"]},
                "Action": properties["Action"],
                "Resource": template.resolve(properties["FunctionName"]),
                "Condition": condition,
            }
        )
    return statements


def policy_bytes(statements: list[dict[str, Any]]) -> int:
    document = {"Version": "2012-10-17", "Id": "default", "Statement": statements}
    return len(json.dumps(document, separators=(",", ":")).encode())


def crhelper_statement(function_arn: str, rule_arn: str) -> dict[str, Any]:
    """The statement crhelper 2.0.12's ``_add_permission`` adds for each polling rule (Sid: the rule name)."""
    return {
        "Sid": rule_arn.rsplit("/", 1)[-1],
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": function_arn,
        "Condition": {"ArnLike": {"AWS:SourceArn": rule_arn}},
    }


@pytest.fixture(scope="module")
def crowd(stacks: Stacks) -> dict[str, Any]:
    template = stacks.template("Crowd")
    (function_id,) = {template.function_id_of(rid) for rid in template.harvest_job_ids()}
    static = template_statements(template, function_id)
    scenario = Scenario(default_job=LONG_JOB, active_jobs_quota=CROWD)
    peak = {"bytes": 0, "rules": 0, "runtime_statements": 0}
    with handler_logs("INFO") as logs, FaultRehearsal(scenario, start=REHEARSAL_START) as rehearsal:

        def sample() -> None:
            for function in rehearsal.functions.values():
                runtime = rehearsal.lambda_policy_statements(function.name)
                rules = rehearsal.eventbridge_rules()
                peak["runtime_statements"] = max(peak["runtime_statements"], len(runtime))
                peak["bytes"] = max(peak["bytes"], policy_bytes(static + runtime))
                peak["rules"] = max(peak["rules"], len(rules))
            if rehearsal.clock.time() < REHEARSAL_START.timestamp() + SAMPLE_UNTIL_SECONDS:
                rehearsal.clock.call_later(SAMPLE_SECONDS, sample)

        rehearsal.clock.call_later(SAMPLE_SECONDS, sample)
        created = rehearsal.deploy(template)
        function = next(iter(rehearsal.functions.values()))
        rule_arn = f"arn:aws:events:us-east-1:123456789012:rule/{'r' * 64}"  # the longest rule name
        crhelper = policy_bytes(static + [crhelper_statement(function.arn, rule_arn)] * CROWD)
        destroyed = rehearsal.destroy()
        rehearsal.settle(120)
        return {
            **peak,
            "static": policy_bytes(static),
            "crhelper": crhelper,
            "created": created.status,
            "destroyed": destroyed.status,
            "answers": [len(bodies) for bodies in answers(rehearsal).values()],
            "rules_left": rehearsal.eventbridge_rules(),
            "leaked": leaked_secrets(logs.lines, rehearsal),
        }


def test_sixty_jobs_poll_at_once(crowd: dict[str, Any]) -> None:
    assert crowd["created"] == "CREATE_COMPLETE"
    assert crowd["rules"] == CROWD  # every job handed over to EventBridge, all polling together
    assert crowd["answers"] == [1] * (2 * CROWD)
    assert crowd["destroyed"] == "DELETE_COMPLETE"
    assert crowd["rules_left"] == []
    assert crowd["leaked"] == []


def test_the_resource_policy_stays_far_under_its_limit(crowd: dict[str, Any], reliability_notes: list[str]) -> None:
    note = (
        f"peak resource policy with {crowd['rules']} rules polling at once: {crowd['bytes']} bytes "
        f"(limit {POLICY_LIMIT_BYTES}); crhelper's per-rule permissions would make it {crowd['crhelper']} bytes"
    )
    print(f"\n{note}")
    reliability_notes.append(note)
    assert crowd["runtime_statements"] == 0  # the handler adds no permission per rule
    assert crowd["bytes"] == crowd["static"]  # the one template permission is all there is
    assert crowd["bytes"] < POLICY_LIMIT_BYTES
    assert crowd["crhelper"] > POLICY_LIMIT_BYTES  # the measure would see a per-rule handler break the limit


def test_the_template_grants_events_once(stacks: Stacks) -> None:
    template = stacks.template("Crowd")
    permissions = [r for r in template.resources.values() if r["Type"] == "AWS::Lambda::Permission"]
    # One for every polling rule (rule/<prefix>*) and one for the stack's one job-events rule, however many jobs.
    assert len(permissions) == 2
    sources = sorted(str(template.resolve(p["Properties"]["SourceArn"])) for p in permissions)
    (rule_id,) = [rid for rid, r in template.resources.items() if r["Type"] == "AWS::Events::Rule"]
    assert sources[1].endswith("*") and ":rule/hj-" in sources[1] and sources[0] == f"{rule_id}.Arn"
    assert len(template.harvest_job_ids()) == CROWD
    assert template.resources[template.harvest_job_ids()[0]]["Type"] == spec.RESOURCE_TYPE
