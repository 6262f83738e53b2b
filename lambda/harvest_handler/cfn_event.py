"""The CloudFormation custom resource request as the handler reads it: a thin, typed view of the event dict.

The same accessors as Powertools' ``CloudFormationCustomResourceEvent`` (aws-lambda-powertools 3.x), owned here
because importing that class runs ``aws_lambda_powertools.utilities.data_classes/__init__``, which imports 29 other
event modules: some 20 to 40 ms of every cold start (see the README's "Handler cold start") for a dict wrapper.
Powertools stays the handler's logger (``logs.py``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal, cast


class CloudFormationCustomResourceEvent(Mapping[str, Any]):
    """Read-only accessors over a custom resource request (or an EventBridge poll of one)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    @property
    def raw_event(self) -> dict[str, Any]:
        """The event dict as Lambda delivered it."""
        return self._data

    @property
    def request_type(self) -> Literal["Create", "Update", "Delete"]:
        return cast(Literal["Create", "Update", "Delete"], self._data["RequestType"])

    @property
    def service_token(self) -> str:
        return cast(str, self._data["ServiceToken"])

    @property
    def response_url(self) -> str:
        return cast(str, self._data["ResponseURL"])

    @property
    def stack_id(self) -> str:
        return cast(str, self._data["StackId"])

    @property
    def request_id(self) -> str:
        return cast(str, self._data["RequestId"])

    @property
    def logical_resource_id(self) -> str:
        return cast(str, self._data["LogicalResourceId"])

    @property
    def physical_resource_id(self) -> str:
        return cast(str, self._data.get("PhysicalResourceId") or "")

    @property
    def resource_type(self) -> str:
        return cast(str, self._data["ResourceType"])

    @property
    def resource_properties(self) -> dict[str, Any]:
        return cast(dict[str, Any], self._data.get("ResourceProperties") or {})

    @property
    def old_resource_properties(self) -> dict[str, Any]:
        return cast(dict[str, Any], self._data.get("OldResourceProperties") or {})
