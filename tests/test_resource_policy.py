"""The resource-policy judgement the handler's preflight and the rehearsal share (pure logic, on documents)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Stack

from mediapackage_harvest import harvester_origin_endpoint_policy_statement
from mediapackage_harvest.contract.resource_policy import allows

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


def harvest(policy: object, resource: str = ENDPOINT) -> bool:
    return allows(policy, service=HARVESTER, action="mediapackagev2:HarvestObject", resource=resource)


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
