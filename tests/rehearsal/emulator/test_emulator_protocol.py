"""The rest-json wire format (``emulator/protocol.py``): routes from the model, label decoding, type and
constraint errors, error bodies; over the v2 model, and over both served emulators where the wire is the same."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator

import botocore.session
import pytest

from mediapackage_harvest.rehearsal.emulator import V2_OPERATIONS, MediaPackageV2Emulator, RestJsonApi
from mediapackage_harvest.rehearsal.emulator.base import ScriptedJobsEmulator
from tests.rehearsal.emulator.wire import (
    CHANNEL,
    ENDPOINT,
    GROUP,
    V2_MODEL,
    FakeClock,
    Flavour,
    client_for,
    error_of,
    v2_request,
)


@pytest.fixture
def v2_emulator() -> Iterator[MediaPackageV2Emulator]:
    with MediaPackageV2Emulator(FakeClock()) as served:
        yield served


def test_routes_come_from_the_model_for_every_served_operation() -> None:
    api = RestJsonApi.load("mediapackagev2", "2022-12-25", V2_OPERATIONS, validation_code="ValidationException")
    for name in V2_OPERATIONS:
        http = V2_MODEL.operation_model(name).http
        path = re.sub(r"\{(\w+)\}", lambda m: f"{m.group(1)}-value", http["requestUri"])
        operation, labels = api.route(http["method"], path)
        assert operation.name == name
        assert all(value == f"{label}-value" for label, value in labels.items())


def test_an_encoded_slash_stays_inside_its_label() -> None:
    api = RestJsonApi.load("mediapackagev2", "2022-12-25", V2_OPERATIONS, validation_code="ValidationException")
    operation, labels = api.route("GET", "/tags/arn%3Aaws%3Amediapackagev2%3A%3A1%3AchannelGroup%2Fg")
    assert (operation.name, labels) == (
        "ListTagsForResource",
        {"ResourceArn": "arn:aws:mediapackagev2::1:channelGroup/g"},
    )


def test_only_rest_json_models_are_accepted() -> None:
    with pytest.raises(ValueError, match="not rest-json"):
        RestJsonApi(botocore.session.get_session().get_service_model("sqs"), [], validation_code="X")


def test_an_unknown_route_is_404_unknown_operation(emulator: ScriptedJobsEmulator) -> None:
    request = urllib.request.Request(f"{emulator.url}/nothing/here", method="GET")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request)
    assert caught.value.code == 404
    assert caught.value.headers["x-amzn-errortype"] == "UnknownOperationException"
    assert emulator.calls[-1].operation == "UnknownOperation"


def test_a_body_that_is_not_json_is_a_serialization_error(flavour: Flavour, emulator: ScriptedJobsEmulator) -> None:
    request = urllib.request.Request(f"{emulator.url}{flavour.create_path}", data=b"{not json", method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request)
    assert caught.value.code == 400
    assert caught.value.headers["x-amzn-errortype"] == "SerializationException"
    assert emulator.jobs() == []


def test_a_value_of_the_wrong_type_is_a_validation_error_naming_it(v2_emulator: MediaPackageV2Emulator) -> None:
    client = client_for(v2_emulator, validate_params=False)
    error = error_of(lambda: client.create_harvest_job(**v2_request(Description=42)))
    assert error.response["Error"]["Code"] == "ValidationException"
    assert "Description: must be a string" in error.response["Error"]["Message"]
    assert error.response.get("ValidationExceptionType") == "MEMBER_INVALID"
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{v2_emulator.url}/channelGroup/{GROUP}/harvestJob?maxResults=many")
    assert caught.value.code == 400
    assert "MaxResults" in json.loads(caught.value.read())["message"]


def test_error_body_is_json_with_message(v2_emulator: MediaPackageV2Emulator) -> None:
    path = f"/channelGroup/{GROUP}/channel/{CHANNEL}/originEndpoint/{ENDPOINT}/harvestJob/none"
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{v2_emulator.url}{path}")
    body = json.loads(caught.value.read())
    assert body["message"] == "Harvest job none not found"
    assert body["ResourceTypeNotFound"] == "HARVEST_JOB"
