"""The handler's one registry of service flavours: which adapter serves a resource type or an event source.

The flavours themselves (resource types, IAM prefixes, principals, job events) are the contract's
(:mod:`mediapackage_harvest.contract.services`); this module only adds the adapter that speaks each service.
"""

from __future__ import annotations

from collections.abc import Callable

from harvest_handler.mediapackage_v1 import MediaPackageV1
from harvest_handler.mediapackage_v2 import MediaPackageV2
from harvest_handler.model import HarvestService
from mediapackage_harvest.contract import services

ADAPTERS: dict[services.Flavour, Callable[[], HarvestService]] = {
    services.V2: MediaPackageV2,
    services.V1: MediaPackageV1,
}


def for_resource_type(resource_type: object) -> HarvestService:
    """The adapter of a custom resource type (v2 for anything unknown: its validation then names the problem)."""
    flavour = services.BY_RESOURCE_TYPE.get(str(resource_type), services.V2)
    return ADAPTERS[flavour]()


def for_job_event(event: object) -> tuple[services.Flavour, HarvestService] | None:
    """The flavour and adapter of an EventBridge harvest-job event (``source`` and its ``detail-type``); None for
    any other event."""
    if not isinstance(event, dict):
        return None
    flavour = services.BY_EVENT_SOURCE.get(str(event.get("source")))
    if flavour is None or flavour.event_detail_type != event.get("detail-type"):
        return None
    return flavour, ADAPTERS[flavour]()
