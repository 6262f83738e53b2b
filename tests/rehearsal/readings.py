"""Reading what a rehearsal recorded, shared by the rehearsal tests: the emulator's calls, a stack operation's
requests by resource type."""

from __future__ import annotations

from mediapackage_harvest.rehearsal.cloudformation import Request, StackResult
from mediapackage_harvest.rehearsal.harness import Rehearsal
from mediapackage_harvest.rehearsal.template import Template


def calls(rehearsal: Rehearsal, operation: str, error: str | None = None) -> int:
    """How many ``operation`` calls reached the emulator (only those answered with ``error``, if given)."""
    return sum(
        call.operation == operation and (error is None or call.error_code == error) for call in rehearsal.emulator.calls
    )


def of_type(result: StackResult, template: Template, resource_type: str, request_type: str) -> list[Request]:
    """The operation's requests of ``request_type`` for resources of ``resource_type``."""
    return [
        r
        for r in result.requests
        if r.request_type == request_type and template.resources[r.logical_id]["Type"] == resource_type
    ]
