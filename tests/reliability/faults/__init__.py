"""Fault injection for this project's reliability tests: a test helper, not part of the published rehearsal.

The published :class:`~mediapackage_harvest.rehearsal.harness.Rehearsal` already rehearses what a user's stack
meets: MediaPackage errors and throttling scripted by its :class:`~mediapackage_harvest.rehearsal.scenario.Scenario`,
duplicate CloudFormation deliveries, and Lambda's timeout. What this package adds proves the handler's own
delivery guarantees (the fault matrix), one module per mechanism:

- :mod:`.eventbridge`: :class:`EventBridgeFaults`, an error-scripting proxy in front of moto's EventBridge.
- :mod:`.hangs`: :class:`Hang`, a service that does not answer within botocore's read timeout.
- :mod:`.lambda_faults`: :class:`LambdaFaults`, Lambda's retries after a timeout, polls delivered twice or dropped.
- :mod:`.responses`: :class:`LateListener`, the response URL's host refusing connections for a while.
- :mod:`.rehearsal`: :class:`FaultRehearsal`, a ``Rehearsal`` with all of them in place::

    with FaultRehearsal(scenario, eventbridge_faults=[Fault("PutRule", "InternalException")]) as rehearsal:
        result = rehearsal.deploy(template)
"""

from tests.reliability.faults.eventbridge import EventBridgeFaults, ProxiedCall, eventbridge_error_codes
from tests.reliability.faults.hangs import Hang, hang_calls
from tests.reliability.faults.lambda_faults import Delivery, LambdaFaults, lambda_retries
from tests.reliability.faults.rehearsal import FaultRehearsal
from tests.reliability.faults.responses import LateListener

__all__ = [
    "Delivery",
    "EventBridgeFaults",
    "FaultRehearsal",
    "Hang",
    "LambdaFaults",
    "LateListener",
    "ProxiedCall",
    "eventbridge_error_codes",
    "hang_calls",
    "lambda_retries",
]
