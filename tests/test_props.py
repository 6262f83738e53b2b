"""The props v1 and v2 jobs share (the window's times, the bucket, wait_for_completion, timeout) follow the same
rules in both constructs, named by the Python prop; tokens are recognized as aws-cdk-lib recognizes them."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from aws_cdk import CfnParameter, Duration, Fn, Stack, Token
from aws_cdk import aws_s3 as s3

from mediapackage_harvest import InvalidHarvestJob, MediaPackageV1HarvestJob
from mediapackage_harvest.errors import python_prop
from mediapackage_harvest.props import is_unresolved, per_object
from tests.job_flavours import V1, V2, Flavour, assert_refused

START = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)


@pytest.fixture(params=[V2, V1], ids=[V2.id, V1.id])
def flavour(request: pytest.FixtureRequest) -> Flavour:
    flavour: Flavour = request.param
    return flavour


@pytest.fixture
def valid(flavour: Flavour, request: pytest.FixtureRequest) -> dict[str, Any]:
    """Valid props of the flavour's construct."""
    props: dict[str, Any] = request.getfixturevalue(flavour.props_fixture)
    return props


WINDOW_PROP = "<the flavour's window prop>"
# (id, prop overrides, the prop the message must name, words of the rule it must state)
REJECTED: list[tuple[str, dict[str, Any], str, str]] = [
    ("start-naive", {"start_time": datetime(2026, 1, 15, 10, 0)}, "start_time", "timezone-aware"),
    ("end-naive", {"end_time": datetime(2026, 1, 15, 10, 30)}, "end_time", "timezone-aware"),
    ("start-a-string", {"start_time": "2026-01-15T10:00:00Z"}, "start_time", "must be a timezone-aware datetime"),
    ("end-equals-start", {"end_time": START}, "end_time", "must be after StartTime"),
    ("end-before-start", {"end_time": START - timedelta(minutes=1)}, "end_time", "must be after StartTime"),
    ("window-over-24h", {"end_time": START + timedelta(hours=24, seconds=1)}, WINDOW_PROP, "at most 24 hours"),
    ("bucket-uppercase", {"destination_bucket": "Harvest-Bucket"}, "destination_bucket", "valid S3 bucket name"),
    ("bucket-too-short", {"destination_bucket": "ab"}, "destination_bucket", "valid S3 bucket name"),
    ("bucket-double-dot", {"destination_bucket": "a..b"}, "destination_bucket", "valid S3 bucket name"),
    ("bucket-wrong-type", {"destination_bucket": 42}, "destination_bucket", "must be an s3.IBucket"),
    ("timeout-under-a-minute", {"timeout": Duration.seconds(59)}, "timeout", "must be 60 to"),
    ("timeout-over-twelve-hours", {"timeout": Duration.hours(13)}, "timeout", "seconds, got 46800"),
    ("timeout-fractional", {"timeout": Duration.millis(90_500)}, "timeout", "whole number of seconds"),
    ("timeout-not-a-duration", {"timeout": 600}, "timeout", "must be a Duration"),
    ("wait-not-a-boolean", {"wait_for_completion": "yes"}, "wait_for_completion", "must be true or false"),
]


@pytest.mark.parametrize(("overrides", "prop", "rule"), [c[1:] for c in REJECTED], ids=[c[0] for c in REJECTED])
def test_rejected(
    stack: Stack, flavour: Flavour, valid: dict[str, Any], overrides: dict[str, Any], prop: str, rule: str
) -> None:
    assert_refused(flavour, stack, {**valid, **overrides}, flavour.window_prop if prop == WINDOW_PROP else prop, rule)


@pytest.mark.parametrize(
    "overrides",
    [
        {"end_time": START + timedelta(hours=24)},
        {"timeout": Duration.minutes(1)},
        {"timeout": Duration.hours(1)},
        {"start_time": datetime(2026, 1, 15, 11, 0, tzinfo=timezone(timedelta(hours=1)))},
        {"destination_bucket": "my.harvest-bucket-1"},
        {"wait_for_completion": False},
    ],
    ids=["window-24h", "timeout-1min", "timeout-1h", "offset-timezone", "bucket-dots", "no-wait"],
)
def test_limits_are_inclusive(stack: Stack, flavour: Flavour, valid: dict[str, Any], overrides: dict[str, Any]) -> None:
    flavour.construct(stack, "Clip", **{**valid, **overrides})


def test_naive_datetime_reported_once(stack: Stack, flavour: Flavour, valid: dict[str, Any]) -> None:
    with pytest.raises(flavour.error) as raised:
        flavour.construct(stack, "Clip", **{**valid, "start_time": datetime(2026, 1, 15, 10, 0)})
    assert [v.field for v in raised.value.violations] == [flavour.start_field]


def test_a_token_duration_is_rejected(stack: Stack, flavour: Flavour, valid: dict[str, Any]) -> None:
    seconds = CfnParameter(stack, "Seconds", type="Number").value_as_number
    with pytest.raises(flavour.error, match=r"timeout \(Timeout\) must be a concrete Duration"):
        flavour.construct(stack, "Clip", **{**valid, "timeout": Duration.seconds(seconds)})


def test_a_token_bucket_name_passes(stack: Stack, flavour: Flavour, valid: dict[str, Any]) -> None:
    flavour.construct(stack, "Clip", **{**valid, "destination_bucket": Fn.import_value("HarvestBucket")})


def test_every_property_names_a_python_prop(flavour: Flavour) -> None:
    """Guards each construct's table against a spec that grows a field the construct maps to no Python prop."""
    for field in flavour.fields:
        assert python_prop(field, flavour.props_by_field) != field, f"{field} maps to no Python prop"


def test_a_v1_error_is_also_a_harvest_job_error(stack: Stack, v1_props: dict[str, Any]) -> None:
    with pytest.raises(InvalidHarvestJob):
        MediaPackageV1HarvestJob(stack, "Clip", **{**v1_props, "origin_endpoint_id": "bad id"})


# Tokens --------------------------------------------------------------------------------------------------------
def _values(stack: Stack) -> list[tuple[str, object]]:
    """Values a job's props may hold: tokens of every encoding, and look-alikes that are not tokens."""
    number = CfnParameter(stack, "Number", type="Number").value_as_number
    text = CfnParameter(stack, "Text").value_as_string
    return [
        ("string-token", text),
        ("string-token-inside", f"clips/{text}/index"),
        ("import-value", Fn.import_value("Bucket")),
        ("number-token", number),
        ("number-token-as-text", f"Token[ {number}"),
        ("number-as-text-without-marker", str(number)),
        ("list-token", CfnParameter(stack, "List", type="List<String>").value_as_list),
        ("intrinsic", Fn.get_att("Thing", "Arn")),
        ("bucket-name", s3.Bucket(stack, "Clips").bucket_name),
        ("plain", "live"),
        ("marker-only", "${Token[not a token]}"),
        ("marker-unclosed", "${Token[TOKEN.1"),
        ("list-marker-in-string", "#{Token[TOKEN.1]}"),
        ("empty", ""),
        ("zero", 0),
        ("float", 1.5),
        ("huge-int", 10**400),
        ("nan", math.nan),
        ("negative-huge", -1.8e289),
        ("bool", True),
        ("none", None),
        ("list", ["a", "b"]),
        ("list-of-one", ["a"]),
        ("list-of-two-tokens", [text, text]),
        ("empty-list", []),
        ("dict", {"team": text}),
        ("datetime", START),
        ("date", date(2026, 1, 15)),
        ("duration", Duration.hours(1)),
    ]


def test_is_unresolved_answers_as_aws_cdk_lib_does(stack: Stack) -> None:
    values = _values(stack)
    ours = {name: is_unresolved(value) for name, value in values}
    unsendable = ("date", "nan")  # jsii raises for a date, and its Node process dies of a NaN; neither is a token
    theirs = {name: Token.is_unresolved(value) for name, value in values if name not in unsendable}
    assert {name: ours[name] for name in theirs} == theirs
    assert [ours[name] for name in unsendable] == [False, False]
    # The fixture really holds tokens of each encoding.
    assert {name for name, unresolved in theirs.items() if unresolved} == {
        "string-token",
        "string-token-inside",
        "import-value",
        "number-token",
        "number-token-as-text",
        "list-token",
        "intrinsic",
        "bucket-name",
    }


def test_per_object_asks_once_per_object() -> None:
    asked: list[object] = []

    @per_object
    def name_of(obj: object) -> str:
        asked.append(obj)
        return type(obj).__name__

    first, second = Duration.hours(1), Duration.hours(1)
    assert [name_of(first), name_of(first), name_of(second)] == ["Duration"] * 3
    assert asked == [first, second]
    assert [name_of("text"), name_of("text")] == ["str", "str"]  # not weakly referenceable: asked each time
    assert asked[2:] == ["text", "text"]
