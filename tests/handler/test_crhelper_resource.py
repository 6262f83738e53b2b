"""crhelper used as a library: its public decorators work on the handler's resource, with crhelper's own contract
(a function returns the physical id and sets ``Data``; a poll function returns None until it is done), while the
traps stay closed (rule name, no per-rule permission, one answer), including those that concern the process
(timer, root logger, clients at import)."""

from __future__ import annotations

import copy
import json
import logging
import os
import subprocess
import sys
from typing import Any

from harvest_handler.crhelper_resource import SafeCfnResource
from harvest_handler.model import InProgress, Succeeded
from tests.handler.fakes import RULE_PREFIX, START, Harness, LambdaContext, with_properties

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def quick_create(harness: Harness) -> dict[str, object]:
    """A Create answered right after CreateHarvestJob (WaitForCompletion false)."""
    event = with_properties(harness.event("create"), WaitForCompletion="false")
    harness.expect_create(event)
    return event


def invoke(harness: Harness, resource: SafeCfnResource, event: dict[str, Any]) -> None:
    resource(copy.deepcopy(event), LambdaContext(harness.clock))


def test_crhelpers_decorators_register_the_functions_it_runs(harness: Harness) -> None:
    resource = SafeCfnResource()
    seen: list[str] = []

    @resource.create
    def create(event: dict[str, Any], context: Any) -> str:
        seen.append(event["RequestType"])
        resource.Data["Answer"] = 42
        return "my-resource-id"

    event = harness.event("create")
    invoke(harness, resource, event)

    response = harness.response(event)
    assert seen == ["Create"]
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", "my-resource-id")
    assert response["Data"] == {"Answer": "42"}
    assert harness.rules() == []  # no poll function registered: answered at once


def test_crhelpers_poll_decorator_polls_until_the_function_returns_an_id(harness: Harness) -> None:
    def resource_with_functions(polls_left: list[int]) -> SafeCfnResource:
        resource = SafeCfnResource()

        @resource.create
        def create(event: dict[str, Any], context: Any) -> None:
            resource.Data["started"] = "yes"

        @resource.poll_create
        def poll(event: dict[str, Any], context: Any) -> str | None:
            assert resource.Data == {"started": "yes"}  # crhelper hands the state over in the poll event
            polls_left[0] -= 1
            return "done-id" if polls_left[0] == 0 else None

        return resource

    polls_left = [2]
    event = harness.event("create")
    invoke(harness, resource_with_functions(polls_left), event)
    (rule,) = harness.rules()
    assert rule.startswith(f"{RULE_PREFIX}-") and len(rule) <= 64  # this project's rule name, not crhelper's
    assert harness.responses(event) == []

    for _ in range(2):
        harness.clock.advance(60)
        invoke(harness, resource_with_functions(polls_left), json.loads(harness.poll_input()))

    response = harness.response(event)
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", "done-id")
    assert harness.rules() == []  # removed once the answer landed


def test_registered_functions_return_outcomes_and_their_errors_answer_failed(harness: Harness) -> None:
    """``register`` puts Outcome-returning functions behind crhelper's decorators."""

    def create(event: dict[str, Any], context: Any) -> Succeeded:
        return Succeeded("outcome-id", {"Arn": "arn:example"})

    def update(event: dict[str, Any], context: Any) -> InProgress:
        raise RuntimeError("the update broke")

    created, updated = harness.event("create"), harness.event("update")
    for event in (created, updated):
        resource = SafeCfnResource()
        resource.register(create=create, update=update, delete=create, poll=create)
        invoke(harness, resource, event)

    assert harness.response(created)["PhysicalResourceId"] == "outcome-id"
    assert harness.response(created)["Data"] == {"Arn": "arn:example"}
    failed = harness.response(updated)
    assert failed["Status"] == "FAILED"
    assert failed["Reason"].endswith("the update broke")
    assert harness.rules() == []  # finished at once: nothing handed over to polling


def test_crhelper_builds_none_of_its_clients() -> None:
    """crhelper's constructor would build lambda, events and logs clients that nothing here uses: none is built
    (boto3 makes its default session with the first client), and the instance is back in Lambda mode."""
    code = (
        "import os, boto3\n"
        "from harvest_handler.crhelper_resource import SafeCfnResource\n"
        "resource = SafeCfnResource()\n"
        "assert boto3.DEFAULT_SESSION is None, 'crhelper built a client'\n"
        "assert resource._sam_local is None and 'AWS_SAM_LOCAL' not in os.environ\n"
    )
    paths = os.pathsep.join([os.path.join(REPO, "lambda"), os.path.join(REPO, "constructs")])
    env = {k: v for k, v in os.environ.items() if k != "AWS_SAM_LOCAL"}
    subprocess.run([sys.executable, "-c", code], env={**env, "PYTHONPATH": paths}, check=True)


def test_crhelpers_timeout_timer_runs_on_the_handler_clock(harness: Harness) -> None:
    event = quick_create(harness)

    harness.invoke(event, timeout=120)

    (timer,) = harness.clock.timers
    assert timer.due == START + 120 - 0.5
    assert timer.cancelled and not timer.fired


def test_the_root_logger_is_left_alone(harness: Harness) -> None:
    root = logging.getLogger()
    before = (root.level, list(root.handlers), [handler.formatter for handler in root.handlers])
    event = quick_create(harness)

    harness.invoke(event)

    assert (root.level, list(root.handlers), [handler.formatter for handler in root.handlers]) == before


def test_importing_the_handler_builds_no_client() -> None:
    code = "import boto3, index; assert boto3.DEFAULT_SESSION is None, 'a client was built at import'"
    paths = os.pathsep.join([os.path.join(REPO, "lambda"), os.path.join(REPO, "constructs")])
    subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": paths}, check=True)
