"""Does the synthesized handler role allow every AWS call the handler can make, on every resource IAM checks?

The calls are read from the handler's code, not typed here: every ``<client>.<method>(...)`` in
``lambda/harvest_handler/`` whose method is an operation of a service the handler builds a client for (botocore's
models say which), plus ``iam:PassRole`` for a call whose input carries a ``RoleArn`` for the service to assume.
For each call and each job of a stack, the resources come from the Service Authorization Reference's data (the
rehearsal's ``resources_for``: one per required resource type) and the role is judged as the rehearsal judges it.

``python -m tests.role_coverage`` prints the table for a stack mixing v2 jobs by construct, v2 jobs by names with
tags and a v1 job.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session
from botocore import xform_name

from mediapackage_harvest.contract import iam_policy, spec
from mediapackage_harvest.rehearsal.authorization import Identity, resources_for
from mediapackage_harvest.rehearsal.template import Template

REPO = Path(__file__).resolve().parents[1]
HANDLER = REPO / "lambda" / "harvest_handler"
# An adapter module speaks one service: a method both services have is that module's service's.
MODULE_SERVICE = {"mediapackage_v1": "mediapackage", "mediapackage_v2": "mediapackagev2"}
JOB_NAME = "Clip-0123456789ab"  # a derived name's shape (the handler's names are only known at deploy time)


@dataclass(frozen=True)
class Call:
    service: str  # botocore's name, also the IAM prefix for these services
    operation: str
    passes_role: bool = False


def handler_calls() -> set[Call]:
    """Every AWS operation the handler's code calls, by service (see the module docstring)."""
    session = botocore.session.get_session()
    sources = {path.stem: path.read_text() for path in HANDLER.glob("*.py")}
    services = set(re.findall(r'client\("([a-z0-9-]+)"\)', sources["aws_clients"] + sources["mediapackage_v1"]))
    services |= {name for name in ("mediapackagev2", "events") if f"def {name}(" in sources["aws_clients"]}
    operations = {
        service: {xform_name(op): op for op in session.get_service_model(service).operation_names}
        for service in services
    }
    found: set[Call] = set()
    for module, source in sources.items():
        for node in ast.walk(ast.parse(source)):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owners = [s for s in services if node.func.attr in operations[s]]
            if len(owners) > 1:
                owners = [MODULE_SERVICE[module]] if module in MODULE_SERVICE else owners
            for service in owners:
                operation = operations[service][node.func.attr]
                input_shape = session.get_service_model(service).operation_model(operation).input_shape
                found.add(Call(service, operation, _carries_role(input_shape)))
    return found


def _carries_role(shape: Any, depth: int = 0) -> bool:
    if shape is None or depth > 4 or shape.type_name != "structure":
        return False
    return any(name == "RoleArn" or _carries_role(member, depth + 1) for name, member in shape.members.items())


@dataclass(frozen=True)
class Row:
    call: str
    resource: str  # the ARN IAM checks
    allowed_by: str  # the role's Resource patterns that match it in an Allow ("" when IAM refuses the call)


def coverage(template: Template, calls: set[Call]) -> list[Row]:
    """For each call of a service the stack's jobs use, on each of their resources: what allows it."""
    function_id = template.function_id_of(template.harvest_job_ids()[0])
    identity = Identity.of_function(template, function_id)
    prefix = template.function_environment(function_id)[spec.POLL_RULE_PREFIX_ENV]
    rows: list[Row] = []
    for call in sorted(calls, key=lambda c: (c.service, c.operation)):
        for params in _requests(template, call, prefix):
            for resource in resources_for(call.service, call.operation, params, template.env):
                rows.append(_row(identity, f"{call.service}:{call.operation}", resource, {}))
            if call.passes_role and "RoleArn" in params:
                context = {"iam:PassedToService": "mediapackage.amazonaws.com"}
                rows.append(_row(identity, "iam:PassRole", str(params["RoleArn"]), context))
    return list(dict.fromkeys(rows))


def _row(identity: Identity, action: str, resource: str, context: dict[str, str]) -> Row:
    request = iam_policy.Request(action, resource, context)
    allowing = [s for s in iam_policy.applying(identity.policies, request) if s.get("Effect") == "Allow"]
    denied = identity.denial(action, resource, context) is not None
    patterns = sorted(
        {str(p) for s in allowing for p in _as_list(s.get("Resource")) if iam_policy.arn_matches(str(p), resource)}
    )
    return Row(action, resource, "" if denied else ", ".join(patterns))


def _requests(template: Template, call: Call, rule_prefix: str) -> list[dict[str, Any]]:
    """The requests the handler would send for ``call``, one per job of the stack it concerns."""
    if call.service == "events":
        return [{"Name": f"{rule_prefix}-0123456789abcdef", "Rule": f"{rule_prefix}-0123456789abcdef"}]
    requests: list[dict[str, Any]] = []
    for logical_id in template.harvest_job_ids():
        kind = template.resources[logical_id]["Type"]
        props = template.properties(logical_id)
        if call.service == "mediapackagev2" and kind == spec.RESOURCE_TYPE:
            names = {k: props[k] for k in (spec.CHANNEL_GROUP, spec.CHANNEL, spec.ORIGIN_ENDPOINT)}
            name = props.get(spec.JOB_NAME) or JOB_NAME
            arn = (
                f"arn:{template.env.partition}:mediapackagev2:{template.env.region}:{template.env.account}:"
                f"channelGroup/{names[spec.CHANNEL_GROUP]}/channel/{names[spec.CHANNEL]}/originEndpoint/"
                f"{names[spec.ORIGIN_ENDPOINT]}/harvestJob/{name}"
            )
            requests.append(
                {**names, spec.JOB_NAME: name, "ResourceArn": arn}
                if call.operation.lower().endswith("tagresource")  # TagResource, UntagResource: the ARN itself
                else {**names, spec.JOB_NAME: name}
            )
        elif call.service == "mediapackage" and kind == spec.V1_RESOURCE_TYPE:
            endpoint = "OriginEndpoint" in call.operation
            role = props[spec.V1_DESTINATION]["RoleArn"]
            requests.append(
                {
                    "Id": props[spec.V1_ORIGIN_ENDPOINT] if endpoint else props.get(spec.V1_JOB_ID) or JOB_NAME,
                    "RoleArn": role,
                }
            )
    return requests


def _as_list(value: object) -> list[object]:
    return value if isinstance(value, list) else [value]


def table(rows: list[Row]) -> str:
    lines = ["| call | resource IAM checks | allowed by the role's statement(s) on |", "| --- | --- | --- |"]
    lines += [
        f"| `{r.call}` | `{r.resource}` | {f'`{r.allowed_by}`' if r.allowed_by else '**NOT ALLOWED**'} |" for r in rows
    ]
    return "\n".join(lines)


def main() -> None:
    from tests.test_role_coverage import mixed_template

    calls = handler_calls()
    print(
        f"{len(calls)} calls read from the handler's code:",
        ", ".join(sorted(f"{c.service}:{c.operation}" for c in calls)),
    )
    print(table(coverage(mixed_template(), calls)))


if __name__ == "__main__":
    main()
