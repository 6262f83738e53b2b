"""The handler's one logger (Powertools, JSON, level from POWERTOOLS_LOG_LEVEL) and the libraries kept quiet.

The pre-signed ResponseURL lets anyone who holds it decide the resource's fate, so it must never reach a log.
crhelper logs the whole event at DEBUG, and botocore logs request parameters at DEBUG (the EventBridge target
Input carries the ResponseURL): those loggers are held at INFO whatever the root logger's level.
"""

from __future__ import annotations

import logging
import os

from aws_lambda_powertools.logging import Logger

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "mediapackage-harvest")

QUIET_LIBRARIES = ("crhelper", "botocore", "boto3", "urllib3")


def quiet_libraries() -> None:
    """Hold the libraries' loggers at INFO or above (explicitly, so a DEBUG root cannot lower them)."""
    for name in QUIET_LIBRARIES:
        library = logging.getLogger(name)
        if library.level < logging.INFO:
            library.setLevel(logging.INFO)
