"""Whether a resource policy lets a service principal do one action on one resource.

Asked in three places about the same documents: the handler's preflight (the origin endpoint's policy, before
CreateHarvestJob), and the rehearsal's emulator (the endpoint's policy when it judges CreateHarvestJob, the
bucket's policy when a job starts writing). Standard library only: the handler asset ships this file beside
``spec.py``.

What is evaluated: ``Effect``, ``Principal`` (``"*"``, ``{"Service": ...}``, ``{"AWS": "*"}``), ``Action`` /
``NotAction`` and ``Resource`` / ``NotResource`` with IAM's ``*`` and ``?`` wildcards (case-insensitive actions),
and an explicit Deny winning over any Allow. Conditions are not evaluated: an Allow with conditions counts as
applying (the source account and ARN are the service's to check), a Deny with conditions as not applying (such
as the Deny of requests without TLS that ``enforce_ssl`` adds): the benefit of the doubt goes to the grant.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any


def allows(policy: object, *, service: str, action: str, resource: str) -> bool:
    """Whether ``policy`` (a document, or its JSON text) allows ``service`` to do ``action`` on ``resource``."""
    document = parse(policy)
    if document is None:
        return False
    applying = [s for s in statements(document) if _applies(s, service, action, resource)]
    if any(str(s.get("Effect", "")).lower() == "deny" and not s.get("Condition") for s in applying):
        return False
    return any(str(s.get("Effect", "")).lower() == "allow" for s in applying)


def parse(policy: object) -> Mapping[str, Any] | None:
    """The policy document, from a mapping or JSON text; None when it is neither."""
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError:
            return None
    return policy if isinstance(policy, Mapping) else None


def statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The document's statements (one statement may stand alone, not in a list)."""
    found = document.get("Statement", [])
    listed = found if isinstance(found, list) else [found]
    return [s for s in listed if isinstance(s, Mapping)]


def _applies(statement: Mapping[str, Any], service: str, action: str, resource: str) -> bool:
    if not _principal_matches(statement.get("Principal"), service):
        return False
    if "Action" in statement:
        if not any(_matches(p, action, ignore_case=True) for p in _strings(statement["Action"])):
            return False
    elif any(_matches(p, action, ignore_case=True) for p in _strings(statement.get("NotAction"))):
        return False
    if "Resource" in statement:
        return any(_matches(p, resource) for p in _strings(statement["Resource"]))
    return not any(_matches(p, resource) for p in _strings(statement.get("NotResource")))


def _principal_matches(principal: object, service: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    return service in _strings(principal.get("Service")) or "*" in _strings(principal.get("AWS"))


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcards: ``*`` any run of characters (``/`` included), ``?`` any one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None
