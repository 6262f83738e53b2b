"""Whether IAM policy documents allow a request, judged as IAM judges it (standard library only).

One engine for every policy the library reasons about: the handler's preflight asks whether an origin endpoint's
policy lets MediaPackage harvest it; the rehearsal asks the same of the endpoint and bucket policies it plays, and
judges every call the handler makes against the role's identity-based policies and permissions boundary.

What is evaluated: ``Effect``; ``Principal`` / ``NotPrincipal`` (``"*"``, ``{"Service": ...}``, ``{"AWS": ...}``)
for resource policies; ``Action`` / ``NotAction`` (case-insensitive, ``*`` and ``?`` wildcards); ``Resource`` /
``NotResource`` (ARNs matched component by component, case-sensitive, with wildcards); ``Condition`` with every
IAM operator (String, Arn, Numeric, Date, Bool, Binary, IpAddress, Null; ``...IfExists``; ``ForAnyValue:`` and
``ForAllValues:``), condition keys case-insensitive, several operators or keys ANDed, several values ORed (negated
operators: none may match), a key absent from the request context false for positive operators and true for negated
ones. An explicit Deny wins over any Allow; no Allow is an implicit deny.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

Context = Mapping[str, str | Sequence[str]]


class Verdict(Enum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit deny"
    IMPLICIT_DENY = "implicit deny"


@dataclass(frozen=True)
class Request:
    """One authorization question: may ``principal`` do ``action`` on ``resource``, given ``context``?

    ``principal`` matters only for resource policies: a service principal (``mediapackagev2.amazonaws.com``) or an
    AWS principal ARN."""

    action: str
    resource: str
    context: Context = field(default_factory=dict)
    principal: str = ""


def evaluate(documents: Sequence[object], request: Request) -> Verdict:
    """The verdict of ``documents`` (mappings or JSON texts) taken together on ``request``."""
    found = applying(documents, request)
    if any(_effect(s) == "deny" for s in found):
        return Verdict.EXPLICIT_DENY
    if any(_effect(s) == "allow" for s in found):
        return Verdict.ALLOW
    return Verdict.IMPLICIT_DENY


def applying(documents: Sequence[object], request: Request) -> list[Mapping[str, Any]]:
    """The statements of ``documents`` that apply to ``request`` (Allow and Deny alike), in document order."""
    return [s for document in documents for s in statements(parse(document)) if _applies(s, request)]


def allows(policy: object, *, service: str, action: str, resource: str, context: Context | None = None) -> bool:
    """Whether a resource policy (a document, or its JSON text) lets the service principal ``service`` do
    ``action`` on ``resource``, the request carrying ``context``."""
    request = Request(action, resource, context or {}, principal=service)
    return evaluate([policy], request) is Verdict.ALLOW


def parse(policy: object) -> Mapping[str, Any]:
    """The policy document, from a mapping or JSON text; empty when it is neither."""
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError:
            return {}
    return policy if isinstance(policy, Mapping) else {}


def statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The document's statements (one statement may stand alone, not in a list)."""
    found = document.get("Statement", [])
    listed = found if isinstance(found, list) else [found]
    return [s for s in listed if isinstance(s, Mapping)]


def arn_matches(pattern: str, arn: str) -> bool:
    """IAM's ARN matching: ``*`` alone matches anything; otherwise each of the six colon-separated parts is matched
    separately (case-sensitive, ``*`` and ``?`` wildcards)."""
    if pattern == "*":
        return True
    if not (pattern.startswith("arn:") and arn.startswith("arn:")):
        return _like(pattern, arn)
    wanted, actual = pattern.split(":", 5), arn.split(":", 5)
    return len(wanted) == len(actual) == 6 and all(_like(w, a) for w, a in zip(wanted, actual, strict=True))


# Statements ------------------------------------------------------------------------------------------------------
def _effect(statement: Mapping[str, Any]) -> str:
    return str(statement.get("Effect", "")).lower()


def _applies(statement: Mapping[str, Any], request: Request) -> bool:
    if "Principal" in statement and not _principal_matches(statement["Principal"], request.principal):
        return False
    if "NotPrincipal" in statement and _principal_matches(statement["NotPrincipal"], request.principal):
        return False
    if "Action" in statement:
        if not any(_like(p, request.action, ignore_case=True) for p in _strings(statement["Action"])):
            return False
    elif any(_like(p, request.action, ignore_case=True) for p in _strings(statement.get("NotAction"))):
        return False
    if "Resource" in statement:
        if not any(arn_matches(p, request.resource) for p in _strings(statement["Resource"])):
            return False
    elif any(arn_matches(p, request.resource) for p in _strings(statement.get("NotResource"))):
        return False
    condition = statement.get("Condition")
    return not isinstance(condition, Mapping) or _conditions_hold(condition, request.context)


def _principal_matches(principal: object, who: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping) or not who:
        return False
    listed = [*_strings(principal.get("Service")), *_strings(principal.get("AWS"))]
    return "*" in _strings(principal.get("AWS")) or who in listed


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _like(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcards: ``*`` any run of characters, ``?`` any one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL) is not None


# Conditions ------------------------------------------------------------------------------------------------------
def _conditions_hold(condition: Mapping[str, Any], context: Context) -> bool:
    keys = {key.lower(): ([value] if isinstance(value, str) else list(value)) for key, value in context.items()}
    for operator, tests in condition.items():
        if not isinstance(tests, Mapping):
            return False
        for key, wanted in tests.items():
            if not _test(str(operator), keys.get(str(key).lower()), _strings(wanted) or [str(wanted)]):
                return False
    return True


def _test(operator: str, values: list[str] | None, wanted: list[str]) -> bool:
    """One operator on one key: the key's values in the request (None when absent) against the policy's values."""
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists") and base != "IfExists"
    base = base.removesuffix("IfExists") if if_exists else base
    if base == "Null":
        return (values is None or values == []) == (wanted[0].lower() == "true")
    match, negated = _OPERATORS.get(base, (None, False))
    if match is None:
        raise ValueError(f"unknown IAM condition operator {operator!r}")
    if not values:
        if qualifier == "ForAllValues":
            return True
        return if_exists or (negated and qualifier != "ForAnyValue")

    def holds(value: str) -> bool:
        hit = any(match(value, w) for w in wanted)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(holds(v) for v in values)
    return any(holds(v) for v in values)


def _number(text: str) -> float:
    return float(text)


def _instant(text: str) -> float:
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return float(text)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _in_network(address: str, network: str) -> bool:
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False


def _compare(read: Any, compare: Any) -> Any:
    def match(value: str, wanted: str) -> bool:
        try:
            return bool(compare(read(value), read(wanted)))
        except ValueError:
            return False

    return match


_OPERATORS: dict[str, tuple[Any, bool]] = {
    "StringEquals": (lambda v, w: v == w, False),
    "StringNotEquals": (lambda v, w: v == w, True),
    "StringEqualsIgnoreCase": (lambda v, w: v.lower() == w.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda v, w: v.lower() == w.lower(), True),
    "StringLike": (lambda v, w: _like(w, v), False),
    "StringNotLike": (lambda v, w: _like(w, v), True),
    "ArnEquals": (lambda v, w: arn_matches(w, v), False),
    "ArnLike": (lambda v, w: arn_matches(w, v), False),
    "ArnNotEquals": (lambda v, w: arn_matches(w, v), True),
    "ArnNotLike": (lambda v, w: arn_matches(w, v), True),
    "Bool": (lambda v, w: v.lower() == w.lower(), False),
    "BinaryEquals": (lambda v, w: v == w, False),
    "IpAddress": (_in_network, False),
    "NotIpAddress": (_in_network, True),
    "NumericEquals": (_compare(_number, lambda a, b: a == b), False),
    "NumericNotEquals": (_compare(_number, lambda a, b: a == b), True),
    "NumericLessThan": (_compare(_number, lambda a, b: a < b), False),
    "NumericLessThanEquals": (_compare(_number, lambda a, b: a <= b), False),
    "NumericGreaterThan": (_compare(_number, lambda a, b: a > b), False),
    "NumericGreaterThanEquals": (_compare(_number, lambda a, b: a >= b), False),
    "DateEquals": (_compare(_instant, lambda a, b: a == b), False),
    "DateNotEquals": (_compare(_instant, lambda a, b: a == b), True),
    "DateLessThan": (_compare(_instant, lambda a, b: a < b), False),
    "DateLessThanEquals": (_compare(_instant, lambda a, b: a <= b), False),
    "DateGreaterThan": (_compare(_instant, lambda a, b: a > b), False),
    "DateGreaterThanEquals": (_compare(_instant, lambda a, b: a >= b), False),
}
