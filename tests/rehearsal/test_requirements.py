"""The live-to-VOD requirements checked at every layer that can see them, shown through the rehearsal: a manifest
filtered on time, and a window longer than the endpoint's startover window. With ``origin_endpoint=`` synth refuses
them (tests/test_origin_endpoint.py); for an endpoint named by its names the handler's preflight reads the endpoint
and fails the request creating nothing; when it cannot read it, MediaPackage (the emulator) refuses the create."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_mediapackagev2 as mediapackagev2
from aws_cdk.assertions import Template as CdkTemplate

from mediapackage_harvest.rehearsal import Environment, Rehearsal, Scenario, Template, default_start
from mediapackage_harvest.rehearsal.scenario import Fault
from tests.endpoints import origin_endpoint
from tests.rehearsal.stacks import END, START, job


def _endpoint(stack: Stack, *, window: int, delayed: bool) -> None:
    """The endpoint the job names, declared in the stack (so the rehearsal knows it), with its one policy."""
    filters = mediapackagev2.CfnOriginEndpoint.FilterConfigurationProperty(time_delay_seconds=30) if delayed else None
    origin_endpoint(stack, startover_window_seconds=window, filter_configuration=filters)
    grant = {
        "Effect": "Allow",
        "Principal": {"Service": "mediapackagev2.amazonaws.com"},
        "Action": ["mediapackagev2:HarvestObject", "mediapackagev2:GetObject"],
        "Resource": "*",
    }
    mediapackagev2.CfnOriginEndpointPolicy(
        stack,
        "Policy",
        channel_group_name="live",
        channel_name="main",
        origin_endpoint_name="hls",
        policy={"Version": "2012-10-17", "Statement": [grant]},
    )


def _delayed_manifest(stack: Stack) -> None:
    job(stack, "Clip")
    _endpoint(stack, window=14 * 86400, delayed=True)


def _short_startover(stack: Stack) -> None:
    job(stack, "Clip")  # a 30-minute window
    _endpoint(stack, window=int(timedelta(minutes=20).total_seconds()), delayed=False)


@pytest.fixture(scope="module")
def bodies() -> dict[str, dict[str, Any]]:
    app = App()
    stacks = {"Delayed": Stack(app, "Delayed"), "Short": Stack(app, "Short")}
    _delayed_manifest(stacks["Delayed"])
    _short_startover(stacks["Short"])
    return {name: dict(CdkTemplate.from_stack(stack).to_json()) for name, stack in stacks.items()}


@pytest.mark.parametrize(
    ("stack", "preflight", "refusal"),
    [
        (
            "Delayed",
            "manifest 'index' of origin endpoint live/main/hls (hls_manifests[0]) is filtered on time",
            "has a start, end, clip start or time delay in its filter configuration",
        ),
        (
            "Short",
            "is longer than the startover window of origin endpoint live/main/hls (1200 s)",
            "cannot outlast the origin endpoint's startover window (1200 s)",
        ),
    ],
)
def test_the_preflight_refuses_first_and_mediapackage_when_it_cannot_read(
    bodies: dict[str, dict[str, Any]], stack: str, preflight: str, refusal: str
) -> None:
    template = Template(copy.deepcopy(bodies[stack]), Environment(stack))
    start = default_start(template, margin=timedelta(minutes=1))
    assert timedelta(minutes=30) == END - START
    with Rehearsal(start=start) as rehearsal:
        result = rehearsal.deploy(template)
        assert result.status == "ROLLBACK_COMPLETE"
        assert preflight in result.failures[0].reason
        assert [c for c in rehearsal.emulator.calls if c.operation == "CreateHarvestJob"] == []
    unreadable = Scenario(faults=(Fault("GetOriginEndpoint", "AccessDeniedException"),))
    with Rehearsal(unreadable, start=start) as rehearsal:
        result = rehearsal.deploy(Template(copy.deepcopy(bodies[stack]), Environment(stack)))
        assert result.status == "ROLLBACK_COMPLETE"
        (create,) = [c for c in rehearsal.emulator.calls if c.operation == "CreateHarvestJob"]
        assert (create.status, create.error_code) == (400, "ValidationException")
        assert refusal in result.failures[0].reason
        assert rehearsal.emulator.jobs() == []
