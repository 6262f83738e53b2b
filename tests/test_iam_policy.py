"""The IAM policy judgement the handler's preflight and the rehearsal share (pure logic, on documents): resource
policies for MediaPackage's harvester, identity-based policies and their conditions, as IAM evaluates them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Stack

from mediapackage_harvest import harvester_origin_endpoint_policy_statement
from mediapackage_harvest.contract.iam_policy import Request, Verdict, allows, arn_matches, evaluate
from mediapackage_harvest.contract.services import harvester_context

HARVESTER = "mediapackagev2.amazonaws.com"
ENDPOINT = "arn:aws:mediapackagev2:us-east-1:123456789012:channelGroup/live/channel/main/originEndpoint/hls"


def statement(**fields: Any) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Principal": {"Service": HARVESTER},
        "Action": "mediapackagev2:HarvestObject",
        "Resource": ENDPOINT,
        **fields,
    }


def without_resource() -> dict[str, Any]:
    return {key: value for key, value in statement().items() if key != "Resource"}


def harvest(policy: object, resource: str = ENDPOINT, account: str = "123456789012") -> bool:
    context = harvester_context(f"arn:aws:mediapackagev2:us-east-1:{account}:channelGroup/live/channel/main/x")
    return allows(policy, service=HARVESTER, action="mediapackagev2:HarvestObject", resource=resource, context=context)


def test_the_librarys_own_statement_grants_the_harvester() -> None:
    stack = Stack()
    document = {
        "Statement": [
            stack.resolve(
                harvester_origin_endpoint_policy_statement(
                    "live", "main", "hls", account="123456789012", region="us-east-1", partition="aws"
                ).to_statement_json()
            )
        ]
    }
    assert harvest(json.dumps(document))
    assert not harvest(document, ENDPOINT.replace("/hls", "/dash"))  # another endpoint
    assert not harvest(document, account="999999999999")  # the harvester working for another account


@pytest.mark.parametrize(
    ("policy", "granted"),
    [
        ({"Statement": statement()}, True),  # one statement, not in a list
        ({"Statement": [statement(Action="mediapackagev2:*")]}, True),
        ({"Statement": [statement(Action="MediaPackageV2:harvestobject")]}, True),  # actions ignore case
        ({"Statement": [statement(Resource="arn:aws:mediapackagev2:*:*:channelGroup/live/*")]}, True),
        ({"Statement": [statement(Principal="*")]}, True),
        ({"Statement": [statement(Principal={"Service": "s3.amazonaws.com"})]}, False),
        ({"Statement": [statement(Action="mediapackagev2:GetObject")]}, False),
        ({"Statement": [statement(Effect="Deny")]}, False),
        ({"Statement": [statement(), statement(Effect="Deny")]}, False),  # an explicit Deny wins
        (
            {
                "Statement": [
                    statement(),
                    statement(Effect="Deny", Condition={"Bool": {"aws:SecureTransport": "false"}}),
                ]
            },
            True,
        ),  # a conditional Deny (enforce_ssl's) does not take the grant away
        ({"Statement": [{**without_resource(), "NotResource": ENDPOINT}]}, False),
        ({"Statement": [{**without_resource(), "NotResource": ENDPOINT + "/other"}]}, True),
        ({"Statement": []}, False),
        ("not json", False),
        (None, False),
    ],
)
def test_what_counts_as_the_grant(policy: object, granted: bool) -> None:
    assert harvest(policy) is granted


ROLE_POLICY = {
    "Statement": [
        {"Effect": "Allow", "Action": "mediapackagev2:*HarvestJob", "Resource": f"{ENDPOINT}/harvestJob/*"},
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:events:us-east-1:123456789012:rule/hj-*"},
        {"Effect": "Deny", "Action": "mediapackagev2:CancelHarvestJob", "NotResource": f"{ENDPOINT}/harvestJob/keep-*"},
    ]
}


@pytest.mark.parametrize(
    ("action", "resource", "verdict"),
    [
        ("mediapackagev2:CreateHarvestJob", f"{ENDPOINT}/harvestJob/clip", Verdict.ALLOW),
        ("mediapackagev2:CreateHarvestJob", ENDPOINT, Verdict.IMPLICIT_DENY),  # a job pattern misses the endpoint
        ("mediapackagev2:CancelHarvestJob", f"{ENDPOINT}/harvestJob/clip", Verdict.EXPLICIT_DENY),
        ("mediapackagev2:CancelHarvestJob", f"{ENDPOINT}/harvestJob/keep-1", Verdict.ALLOW),
        ("events:PutRule", "arn:aws:events:us-east-1:123456789012:rule/hj-abc", Verdict.ALLOW),
        ("iam:PassRole", "arn:aws:events:us-east-1:123456789012:rule/hj-abc", Verdict.IMPLICIT_DENY),
        ("events:PutRule", "arn:aws:events:us-east-1:123456789012:rule/other", Verdict.IMPLICIT_DENY),
    ],
)
def test_an_identity_policy_is_judged_like_iam(action: str, resource: str, verdict: Verdict) -> None:
    assert evaluate([ROLE_POLICY], Request(action, resource)) is verdict


def test_arns_match_part_by_part() -> None:
    assert arn_matches("arn:aws:events:*:*:rule/hj-*", "arn:aws:events:us-east-1:123456789012:rule/hj-1")
    assert not arn_matches("arn:aws:events:*:rule/hj-*", "arn:aws:events:us-east-1:123456789012:rule/hj-1")
    assert not arn_matches("arn:aws:s3:::Bucket/*", "arn:aws:s3:::bucket/key")  # case-sensitive
    assert arn_matches("*", "anything")


def _holds(condition: dict[str, Any], context: dict[str, Any]) -> bool:
    statement = {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*", "Condition": condition}
    return evaluate([{"Statement": [statement]}], Request("s3:PutObject", "arn:aws:s3:::b/k", context)) is Verdict.ALLOW


@pytest.mark.parametrize(
    ("condition", "context", "holds"),
    [
        ({"StringEquals": {"AWS:SourceAccount": "1"}}, {"aws:sourceaccount": "1"}, True),  # keys ignore case
        ({"StringEquals": {"aws:SourceAccount": "1"}}, {}, False),  # absent: a positive operator fails
        ({"StringNotEquals": {"aws:SourceAccount": "1"}}, {}, True),  # absent: a negated one holds
        ({"StringEqualsIfExists": {"aws:SourceAccount": "1"}}, {}, True),
        ({"StringEquals": {"aws:SourceAccount": ["1", "2"]}}, {"aws:SourceAccount": "2"}, True),  # values: OR
        ({"StringNotEquals": {"aws:SourceAccount": ["1", "2"]}}, {"aws:SourceAccount": "2"}, False),  # none may match
        (
            {"StringEquals": {"aws:SourceAccount": "1"}, "ArnLike": {"aws:SourceArn": "arn:aws:x:*:1:job/*"}},
            {"aws:SourceAccount": "1", "aws:SourceArn": "arn:aws:x:us-east-1:1:job/a"},
            True,
        ),  # operators: AND
        ({"ArnLike": {"aws:SourceArn": "arn:aws:x:*:1:job/*"}}, {"aws:SourceArn": "arn:aws:x:eu:2:job/a"}, False),
        ({"StringLike": {"s3:prefix": "clips/*"}}, {"s3:prefix": "clips/a/b"}, True),
        ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": "true"}, False),
        ({"Null": {"aws:SourceArn": "true"}}, {}, True),
        ({"Null": {"aws:SourceArn": "false"}}, {}, False),
        ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "5"}, True),
        (
            {"DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}},
            {"aws:CurrentTime": "2026-06-01T00:00:00Z"},
            True,
        ),
        ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "10.1.2.3"}, True),
        ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a"]}}, {"aws:TagKeys": ["b", "a"]}, True),
        ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a"]}}, {}, False),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["b", "c"]}, False),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {}, True),
    ],
)
def test_conditions_are_judged_like_iam(condition: dict[str, Any], context: dict[str, Any], holds: bool) -> None:
    assert _holds(condition, context) is holds


def test_an_unknown_condition_operator_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown IAM condition operator 'StringSimilar'"):
        _holds({"StringSimilar": {"aws:SourceAccount": "1"}}, {"aws:SourceAccount": "1"})
