"""The two job constructs as test parameters (v2 ``HarvestJob``, v1 ``MediaPackageV1HarvestJob``): where each puts
the props they share, and the one check that a construct refused its props, used by the validation tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk import Stack

from mediapackage_harvest import (
    HarvestJob,
    InvalidHarvestJob,
    InvalidProperties,
    InvalidV1HarvestJob,
    MediaPackageV1HarvestJob,
)
from mediapackage_harvest.contract import spec
from mediapackage_harvest.errors import PROPS_BY_FIELD, V1_PROPS_BY_FIELD, PropsByField


@dataclass(frozen=True)
class Flavour:
    """One job construct and where it puts the shared props."""

    id: str
    name: str
    construct: Callable[..., Any]
    error: type[InvalidHarvestJob]
    props_fixture: str  # the fixture giving valid props (tests/conftest.py)
    start_field: str  # the property path of start_time
    window_prop: str  # the prop a window over 24 hours is reported on
    props_by_field: PropsByField
    fields: tuple[str, ...]  # every property path spec may report


V2 = Flavour(
    id="v2",
    name="HarvestJob",
    construct=HarvestJob,
    error=InvalidHarvestJob,
    props_fixture="job_props",
    start_field=f"{spec.SCHEDULE}.StartTime",
    window_prop="start_time / end_time",
    props_by_field=PROPS_BY_FIELD,
    fields=(
        spec.CHANNEL_GROUP,
        spec.CHANNEL,
        spec.ORIGIN_ENDPOINT,
        spec.JOB_NAME,
        spec.MANIFESTS,
        spec.SCHEDULE,
        spec.DESTINATION,
        spec.DESCRIPTION,
        spec.TAGS,
        spec.WAIT_FOR_COMPLETION,
        spec.TIMEOUT,
    ),
)
V1 = Flavour(
    id="v1",
    name="MediaPackageV1HarvestJob",
    construct=MediaPackageV1HarvestJob,
    error=InvalidV1HarvestJob,
    props_fixture="v1_props",
    start_field=spec.V1_START,
    window_prop="end_time",
    props_by_field=V1_PROPS_BY_FIELD,
    fields=(
        spec.V1_JOB_ID,
        spec.V1_ORIGIN_ENDPOINT,
        spec.V1_START,
        spec.V1_END,
        spec.V1_DESTINATION,
        *(f"{spec.V1_DESTINATION}.{key}" for key in ("BucketName", "ManifestKey", "RoleArn")),
        spec.WAIT_FOR_COMPLETION,
        spec.TIMEOUT,
    ),
)


def assert_refused(flavour: Flavour, stack: Stack, props: dict[str, Any], prop: str, rule: str) -> None:
    """Declaring the job with ``props`` raises the construct's error naming ``prop`` and stating ``rule``, and
    leaves nothing in the tree (no job, role or provider: nothing to synthesize)."""
    with pytest.raises(flavour.error) as raised:
        flavour.construct(stack, "Clip", **props)
    message = str(raised.value)
    assert message.startswith(f"{flavour.name} '{stack.node.path}/Clip': ")
    assert f"{prop} (" in message
    assert rule in message
    assert isinstance(raised.value, InvalidProperties) and isinstance(raised.value, ValueError)
    assert raised.value.violations
    assert stack.node.children == []
