"""Long-wait mode of ``HarvestJob``: a ``timeout`` over one hour, which a custom resource cannot wait.

CloudFormation waits at most an hour for a custom resource (ServiceTimeout) but up to 12 hours for an
``AWS::CloudFormation::WaitCondition``. So past an hour a job is declared as:

- ``WaitHandle<suffix>``: an ``AWS::CloudFormation::WaitConditionHandle``; its Ref (a pre-signed URL) reaches the
  job's custom resource as ``SignalUrl``. The URL expires a fixed time after the handle is created (not documented;
  observed ``X-Amz-Expires=86399``), so the handle depends on what the job depends on: created as the job starts,
  not when the stack operation starts (a job behind a 12-hour job would signal an expired URL);
- the job's custom resource (ServiceTimeout one hour): answered as soon as the job exists; the handler then
  watches the job and signals the handle when it ends (SUCCESS when COMPLETED, FAILURE with the service's message,
  or FAILURE after cancelling it at ``timeout``);
- ``Wait<suffix>``: an ``AWS::CloudFormation::WaitCondition`` (Handle, Timeout = ``timeout``, Count 1), after the job;
- ``Result``: a ``Custom::MediaPackageV2HarvestJobResult`` after the condition, which re-reads the finished job and
  returns the same attributes as the job's resource does in the one-hour mode.

``<suffix>`` is a digest of what describes the job (every property but tags and the lifecycle options) and of the
timeout: a change that replaces the job, or changes the timeout, declares a new handle and condition, so the stack
waits again (a wait condition cannot be updated).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from aws_cdk import CfnWaitCondition, CfnWaitConditionHandle, CustomResource, Duration, Stack
from constructs import Construct

from mediapackage_harvest.contract import spec

# How long CloudFormation waits for the result resource: one GetHarvestJob, answered at once, unless the answer's PUT
# fails for a whole try; then each poll (a poll period later) tries again. Room for the first try and two retries.
RESULT_ANSWER_TRIES = 3
RESULT_SERVICE_TIMEOUT = Duration.seconds(RESULT_ANSWER_TRIES * (spec.POLL_PERIOD_SECONDS + spec.ANSWER_TRY_SECONDS))
SUFFIX_CHARS = 10


def is_long(properties: Mapping[str, Any]) -> bool:
    """Whether the rendered properties ask for the long-wait mode: waiting, with a Timeout over an hour."""
    timeout = properties.get(spec.TIMEOUT)
    waits = properties.get(spec.WAIT_FOR_COMPLETION) != "false"
    return waits and isinstance(timeout, str) and int(timeout) > spec.SERVICE_TIMEOUT_MAX_SECONDS


def declare_handle(scope: Construct, properties: Mapping[str, Any]) -> CfnWaitConditionHandle:
    """The handle, named after what describes the job and its timeout (see the module docstring)."""
    return CfnWaitConditionHandle(scope, f"WaitHandle{_suffix(scope, properties)}")


def declare_wait(
    scope: Construct,
    job: CustomResource,
    handle: CfnWaitConditionHandle,
    properties: Mapping[str, Any],
    service_token: str,
) -> CustomResource:
    """The wait condition after the job, and the result resource after the condition; returns the result."""
    suffix = handle.node.id.removeprefix("WaitHandle")
    condition = CfnWaitCondition(scope, f"Wait{suffix}", handle=handle.ref, timeout=properties[spec.TIMEOUT], count=1)
    condition.node.add_dependency(job)
    result_properties: dict[str, Any] = {spec.RESULT_JOB_ARN: job.get_att_string("Arn"), "Condition": condition.ref}
    if properties.get(spec.TAGS):
        result_properties["JobTags"] = properties[spec.TAGS]  # a tags update re-reads the job (its new ETag)
    return CustomResource(
        scope,
        "Result",
        resource_type=spec.RESULT_RESOURCE_TYPE,
        service_token=service_token,
        service_timeout=RESULT_SERVICE_TIMEOUT,
        properties=result_properties,
    )


def _suffix(scope: Construct, properties: Mapping[str, Any]) -> str:
    describing = {
        key: value for key, value in properties.items() if key not in spec.LIFECYCLE_PROPERTIES or key == spec.TIMEOUT
    }
    resolved = Stack.of(scope).resolve(describing)  # tokens as their Ref / GetAtt: stable from synth to synth
    text = json.dumps(resolved, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:SUFFIX_CHARS].upper()
