"""Reading a synthesized CloudFormation template the way the rehearsal needs it.

CloudFormation resolves intrinsic functions before it calls a custom resource; with no account behind the
rehearsal, this module resolves them with stand-in values instead: a bucket's Ref becomes a valid placeholder
bucket name, a function's Arn an ARN in the rehearsal's account, pseudo parameters the rehearsal's region and
account, and GetAtt on a custom resource the Data that resource returned.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mediapackage_harvest.contract import spec

HARVEST_RESOURCE_TYPES = frozenset({spec.RESOURCE_TYPE, spec.V1_RESOURCE_TYPE})
_CLIP_NAME = re.compile(r'"name":"([A-Za-z0-9_-]+)","arn":"$')  # a ClipSet listing's clip, before its ARN
WAIT_HANDLE_TYPE = "AWS::CloudFormation::WaitConditionHandle"
WAIT_CONDITION_TYPE = "AWS::CloudFormation::WaitCondition"


class UnresolvableError(ValueError):
    """An intrinsic function the rehearsal cannot give a stand-in value for."""


@dataclass(frozen=True)
class Environment:
    """Where the rehearsal pretends the stack is deployed."""

    stack_name: str
    account: str = "123456789012"
    region: str = "us-east-1"
    partition: str = "aws"

    @property
    def stack_id(self) -> str:
        """The stack's ARN, as CloudFormation would give it (``AWS::StackId``)."""
        digest = hashlib.sha256(self.stack_name.encode()).hexdigest()
        uuid_like = f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
        return f"arn:{self.partition}:cloudformation:{self.region}:{self.account}:stack/{self.stack_name}/{uuid_like}"


@dataclass
class Template:
    """A synthesized template and the stand-in values its intrinsics resolve to.

    ``body`` is the template as JSON data: what ``Template.load`` reads from a ``*.template.json``, or what
    ``aws_cdk.assertions.Template.from_stack(stack).to_json()`` returns (any mapping; it is only read).
    """

    body: Mapping[str, Any]
    env: Environment
    # Custom resource Data by logical id, filled in as the rehearsal's CloudFormation receives responses.
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    physical_ids: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, env: Environment | None = None) -> Template:
        """Read a synthesized ``*.template.json``; ``env`` names the stack, account and Region."""
        body: Mapping[str, Any] = json.loads(path.read_text())
        return cls(body, env or Environment(stack_name=path.name.removesuffix(".template.json")))

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        """The template's ``Resources``, by logical id."""
        resources: dict[str, dict[str, Any]] = self.body.get("Resources", {})
        return resources

    def harvest_job_ids(self) -> list[str]:
        """Logical ids of the harvest-job custom resources, in template order."""
        return [rid for rid, res in self.resources.items() if res.get("Type") in HARVEST_RESOURCE_TYPES]

    def labels(self) -> dict[str, str]:
        """The name of each ClipSet clip, by its logical id, read from the set's output listing (a JSON list built
        with ``Fn::Join``, each clip's ``"name":"<clip>","arn":"`` followed by ``Fn::GetAtt`` of its job)."""
        found: dict[str, str] = {}
        for output in self.body.get("Outputs", {}).values():
            value = output.get("Value")
            parts = value.get("Fn::Join", [None, []])[1] if isinstance(value, dict) else []
            for text, following in itertools.pairwise(parts):
                name = _CLIP_NAME.search(text) if isinstance(text, str) else None
                get_att = following.get("Fn::GetAtt") if isinstance(following, dict) else None
                if name and isinstance(get_att, list) and get_att[0] in self.resources:
                    found[str(get_att[0])] = name[1]
        return found

    def played_ids(self) -> list[str]:
        """Logical ids of the resources the rehearsal's CloudFormation plays, in template order: custom resources
        served by a function of this template, wait condition handles and wait conditions."""
        return [rid for rid, res in self.resources.items() if self._is_played(res)]

    def dependencies(self, logical_id: str) -> set[str]:
        """The played resources this one must wait for (DependsOn, Ref and GetAtt)."""
        resource = self.resources[logical_id]
        depends = resource.get("DependsOn", [])
        names = set([depends] if isinstance(depends, str) else depends)
        names |= _referenced(resource.get("Properties", {}))
        return names & set(self.played_ids())

    def is_custom_resource(self, logical_id: str) -> bool:
        """Whether CloudFormation sends this resource's requests to a function of this template."""
        return _served_by_function(self.resources[logical_id])

    def wait_condition(self, logical_id: str) -> tuple[str, int, int]:
        """A wait condition's handle (logical id), timeout in seconds (at most 43200) and signal count."""
        properties = self.resources[logical_id].get("Properties", {})
        handle = properties.get("Handle", {})
        if not (isinstance(handle, dict) and isinstance(handle.get("Ref"), str)):
            raise UnresolvableError(f"{logical_id}: Handle is not a Ref to a wait condition handle of this template")
        return handle["Ref"], int(self.resolve(properties.get("Timeout", 43200))), int(properties.get("Count", 1))

    def _is_played(self, resource: Mapping[str, Any]) -> bool:
        return _served_by_function(resource) or resource.get("Type") in (WAIT_HANDLE_TYPE, WAIT_CONDITION_TYPE)

    def properties(self, logical_id: str) -> dict[str, Any]:
        """The resource's properties as CloudFormation would send them: resolved, scalars as strings."""
        resolved: dict[str, Any] = _stringify(self.resolve(self.resources[logical_id].get("Properties", {})))
        return resolved

    def service_timeout(self, logical_id: str) -> int:
        """The custom resource's ``ServiceTimeout`` in seconds (CloudFormation's default: 3600)."""
        value = self.resources[logical_id].get("Properties", {}).get("ServiceTimeout", 3600)
        return int(self.resolve(value))

    def function_id_of(self, logical_id: str) -> str:
        """The logical id of the Lambda function behind a custom resource's ServiceToken."""
        token = self.resources[logical_id]["Properties"]["ServiceToken"]
        if isinstance(token, dict) and "Fn::GetAtt" in token:
            return str(token["Fn::GetAtt"][0])
        raise UnresolvableError(f"{logical_id}: ServiceToken is not a GetAtt of a function in this template")

    def function_name(self, function_id: str) -> str:
        """The function's name: its ``FunctionName``, else one made up as CloudFormation would."""
        name = self.resources[function_id].get("Properties", {}).get("FunctionName")
        return str(self.resolve(name)) if name else f"{self.env.stack_name}-{function_id}"[:64]

    def function_environment(self, function_id: str) -> dict[str, str]:
        """The function's environment variables, resolved."""
        variables = self.resources[function_id].get("Properties", {}).get("Environment", {}).get("Variables", {})
        return {k: str(v) for k, v in self.resolve(variables).items()}

    def function_timeout(self, function_id: str) -> int:
        """The function's timeout in seconds (Lambda's default: 3)."""
        return int(self.resources[function_id].get("Properties", {}).get("Timeout", 3))

    def outputs(self) -> dict[str, str]:
        """Stack outputs, resolved with the Data the custom resources returned."""
        return {name: str(self.resolve(out["Value"])) for name, out in self.body.get("Outputs", {}).items()}

    def resolve(self, value: Any) -> Any:
        """The value with every intrinsic function replaced by its stand-in."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            handler = self._intrinsics().get(key)
            if handler is not None:
                return handler(arg)
        return {k: self.resolve(v) for k, v in value.items()}

    def _intrinsics(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Join": lambda a: str(self.resolve(a[0])).join(str(self.resolve(p)) for p in self.resolve(a[1])),
            "Fn::Select": lambda a: self.resolve(a[1])[int(self.resolve(a[0]))],
            "Fn::Split": lambda a: str(self.resolve(a[1])).split(str(self.resolve(a[0]))),
            "Fn::Sub": self._sub,
        }

    def _pseudo(self) -> dict[str, str]:
        env = self.env
        return {
            "AWS::AccountId": env.account,
            "AWS::Region": env.region,
            "AWS::Partition": env.partition,
            "AWS::StackName": env.stack_name,
            "AWS::StackId": env.stack_id,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": "",
        }

    def _ref(self, name: str) -> Any:
        pseudo = self._pseudo()
        if name in pseudo:
            return pseudo[name]
        if name in self.body.get("Parameters", {}):
            parameter = self.body["Parameters"][name]
            if "Default" not in parameter:
                raise UnresolvableError(f"parameter {name} has no Default to rehearse with")
            return parameter["Default"]
        resource = self.resources.get(name)
        if resource is None:
            raise UnresolvableError(f"Ref to unknown resource {name}")
        if resource["Type"] == "AWS::S3::Bucket":
            return placeholder_bucket_name(self.env.stack_name, name)
        if resource["Type"] == "AWS::Lambda::Function":
            return self.function_name(name)
        return self.physical_ids.get(name, f"{name}-rehearsal")

    def _get_att(self, arg: Any) -> Any:
        logical_id, attribute = arg.split(".", 1) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
        resource = self.resources.get(logical_id)
        if resource is None:
            raise UnresolvableError(f"GetAtt on unknown resource {logical_id}")
        env = self.env
        if resource["Type"] == "AWS::Lambda::Function" and attribute == "Arn":
            return f"arn:{env.partition}:lambda:{env.region}:{env.account}:function:{self.function_name(logical_id)}"
        if resource["Type"] == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:{env.partition}:s3:::{placeholder_bucket_name(env.stack_name, logical_id)}"
        if resource["Type"] == "AWS::IAM::Role" and attribute == "Arn":  # a v1 job's S3Destination.RoleArn
            return f"arn:{env.partition}:iam::{env.account}:role/{f'{env.stack_name}-{logical_id}'[:64]}"
        if logical_id in self.attributes:
            if attribute not in self.attributes[logical_id]:
                raise UnresolvableError(f"{logical_id} returned no attribute {attribute}")
            return self.attributes[logical_id][attribute]
        return f"{logical_id}.{attribute}"

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
        out = text
        for name, value in {**self._pseudo(), **variables}.items():
            out = out.replace("${" + name + "}", str(value))
        return out


def placeholder_bucket_name(stack_name: str, logical_id: str) -> str:
    """A valid, stable S3 bucket name standing in for a bucket the template creates."""
    digest = hashlib.sha256(f"{stack_name}/{logical_id}".encode()).hexdigest()[:8]
    stem = "".join(c for c in logical_id.lower() if c.isalnum())[:40]
    return f"rehearsal-{stem}-{digest}"


def _served_by_function(resource: Mapping[str, Any]) -> bool:
    token = resource.get("Properties", {}).get("ServiceToken")
    return isinstance(token, dict) and "Fn::GetAtt" in token


def _referenced(value: Any) -> set[str]:
    if isinstance(value, list):
        return set().union(*(_referenced(v) for v in value)) if value else set()
    if not isinstance(value, dict):
        return set()
    found: set[str] = set()
    for key, arg in value.items():
        if key == "Ref" and isinstance(arg, str):
            found.add(arg)
        elif key == "Fn::GetAtt":
            found.add(arg.split(".")[0] if isinstance(arg, str) else str(arg[0]))
        else:
            found |= _referenced(arg)
    return found


def _stringify(value: Any) -> Any:
    """CloudFormation hands custom resources every scalar as a string."""
    if isinstance(value, Mapping):
        return {k: _stringify(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value
