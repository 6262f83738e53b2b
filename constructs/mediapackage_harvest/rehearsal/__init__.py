"""The local deploy rehearsal: the unmodified handler against stand-ins for every service it talks to.

CloudFormation's driver, MediaPackage v1 and v2 emulators, moto for EventBridge and a local HTTPS endpoint for
the pre-signed response URLs all run on one machine, on a virtual clock, so a 20-minute harvest rehearses in
seconds with the same figures on every run. Needs the ``[rehearsal]`` extra (``pip install
"<the wheel>[rehearsal]"``, with ``,alpha`` inside the brackets for both).

Import what you use from here::

    from mediapackage_harvest.rehearsal import Environment, Rehearsal, Scenario, Template, default_start

The names are imported on first use, so ``mediapackage-harvest-rehearse`` can tell a user without the extra
what to install instead of failing on import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mediapackage_harvest.rehearsal.cloudformation import Request, StackResult
    from mediapackage_harvest.rehearsal.harness import Figures, Rehearsal, default_start
    from mediapackage_harvest.rehearsal.scenario import (
        EventDelivery,
        Fault,
        JobScript,
        Scenario,
        ScenarioError,
        Throttle,
    )
    from mediapackage_harvest.rehearsal.template import Environment, Template, UnresolvableError
    from mediapackage_harvest.rehearsal.timeline import Entry, Timeline

_LAZY = {
    "Rehearsal": "harness",
    "Figures": "harness",
    "default_start": "harness",
    "Scenario": "scenario",
    "JobScript": "scenario",
    "EventDelivery": "scenario",
    "Fault": "scenario",
    "Throttle": "scenario",
    "ScenarioError": "scenario",
    "Template": "template",
    "Environment": "template",
    "UnresolvableError": "template",
    "StackResult": "cloudformation",
    "Request": "cloudformation",
    "Timeline": "timeline",
    "Entry": "timeline",
}

__all__ = [
    "Entry",
    "Environment",
    "EventDelivery",
    "Fault",
    "Figures",
    "JobScript",
    "Rehearsal",
    "Request",
    "Scenario",
    "ScenarioError",
    "StackResult",
    "Template",
    "Throttle",
    "Timeline",
    "UnresolvableError",
    "default_start",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted(__all__)
