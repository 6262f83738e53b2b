"""Reading synthesized template values in assertions, shared by the synth tests."""

from __future__ import annotations

from typing import Any


def flat(value: Any) -> Any:
    """A template value with Fn::Join, Ref and GetAtt written as one readable string."""
    if isinstance(value, list):
        return [flat(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(str(flat(p)) for p in parts)
    if "Ref" in value:
        return "${" + value["Ref"] + "}"
    if "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    return {k: flat(v) for k, v in value.items()}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
