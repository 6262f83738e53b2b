"""The L1 origin endpoint the tests declare: channel group ``live``, channel ``main``, endpoint ``hls``, one HLS
manifest ``index``, a one-day startover window; a test changes only what it is about."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_mediapackagev2 as mediapackagev2
from constructs import Construct

NAMES = {"channel_group_name": "live", "channel_name": "main", "origin_endpoint_name": "hls"}
HLS = mediapackagev2.CfnOriginEndpoint.HlsManifestConfigurationProperty


def origin_endpoint(
    scope: Construct,
    id: str = "Endpoint",
    *,
    container_type: str = "TS",
    startover_window_seconds: int | None = 86400,
    filter_configuration: mediapackagev2.CfnOriginEndpoint.FilterConfigurationProperty | None = None,
    **names: Any,
) -> mediapackagev2.CfnOriginEndpoint:
    """The endpoint (``names`` replace the channel group's, channel's or endpoint's name)."""
    return mediapackagev2.CfnOriginEndpoint(
        scope,
        id,
        **{**NAMES, **names},
        container_type=container_type,
        hls_manifests=[HLS(manifest_name="index", filter_configuration=filter_configuration)],
        startover_window_seconds=startover_window_seconds,
    )
