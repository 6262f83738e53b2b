"""The handler's request accessors answer exactly as Powertools' CloudFormationCustomResourceEvent they replace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.cloudformation_custom_resource_event import (
    CloudFormationCustomResourceEvent as PowertoolsEvent,
)

from harvest_handler.cfn_event import CloudFormationCustomResourceEvent

EVENTS = Path(__file__).parent / "events"
ACCESSORS = (
    "request_type",
    "service_token",
    "response_url",
    "stack_id",
    "request_id",
    "logical_resource_id",
    "physical_resource_id",
    "resource_type",
    "resource_properties",
    "old_resource_properties",
    "raw_event",
)


def _events() -> list[tuple[str, dict[str, Any]]]:
    found = [(p.stem, json.loads(p.read_text())) for p in sorted(EVENTS.glob("*.json"))]
    create = dict(found[0][1])
    create.pop("PhysicalResourceId", None)
    bare = {k: v for k, v in create.items() if k != "ResourceProperties"}  # a poll's Input carries no properties
    return [*found, ("poll without properties", bare)]


@pytest.mark.parametrize(("name", "event"), _events(), ids=[name for name, _ in _events()])
def test_accessors_match_powertools(name: str, event: dict[str, Any]) -> None:
    ours, theirs = CloudFormationCustomResourceEvent(event), PowertoolsEvent(event)
    for accessor in ACCESSORS:
        assert getattr(ours, accessor) == getattr(theirs, accessor), accessor
    assert ours.get("RequestType") == theirs.get("RequestType")
    assert ours.get("HarvestPollState") is theirs.get("HarvestPollState") is None
    assert ours["StackId"] == theirs["StackId"]
    assert dict(ours) == dict(theirs.raw_event)


def test_a_missing_required_key_raises_as_powertools_does() -> None:
    with pytest.raises(KeyError):
        _ = CloudFormationCustomResourceEvent({}).stack_id
    with pytest.raises(KeyError):
        _ = PowertoolsEvent({}).stack_id
