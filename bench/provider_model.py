"""Approach (c): a model of the CDK Provider framework's default waiter, run on the rehearsal's virtual clock.

What it models (aws-cdk-lib 2.275, ``custom_resources.Provider`` with an ``is_complete_handler``):
CloudFormation invokes the framework's onEvent function, which invokes the user's onEvent synchronously and
starts a Step Functions execution. The state machine's one Task invokes the framework's isComplete function
(which invokes the user's isComplete) at once, then retries it every ``query_interval`` (default 5 s, backoff
rate 1) up to ``total_timeout / query_interval`` times; after that its Catch runs the framework's onTimeout
function, which answers FAILED. A user function's error answers FAILED at once. The framework functions answer
CloudFormation.

The user functions are this project's handler logic cut the Provider way: onEvent creates the job (or cancels
it on Delete) and returns its ARN, isComplete reads it once. Lambda and Step Functions latencies are not
modelled: on the virtual clock every AWS call takes no time, for all three approaches alike.

Import this module only after ``rehearsal.lambda_runtime.load_handler_module()`` (it uses the asset's modules).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.records import InvocationRecord
from harvest_handler import lifecycle, model
from harvest_handler.cfn_event import CloudFormationCustomResourceEvent
from harvest_handler.cfn_response import put_response, response_body
from harvest_handler.mediapackage_v2 import MediaPackageV2
from harvest_handler.model import LambdaContext
from mediapackage_harvest.contract import spec
from mediapackage_harvest.rehearsal.virtual_clock import VirtualClock

DEFAULT_QUERY_INTERVAL = 5.0  # Provider(query_interval=Duration.seconds(5)), the default
DEFAULT_TOTAL_TIMEOUT = 1800.0  # Provider(total_timeout=Duration.minutes(30)), the default
MAX_TOTAL_TIMEOUT = 3600.0  # "The maximum timeout is 1 hour"
RESPONSE_GIVE_UP_SECONDS = 30.0

UserResult = dict[str, Any]


@dataclass
class ProviderFramework:
    """The framework's three functions and its waiter state machine; :meth:`on_event` is the ServiceToken."""

    clock: VirtualClock
    record: Callable[[InvocationRecord], None]
    query_interval: float = DEFAULT_QUERY_INTERVAL
    total_timeout: float = DEFAULT_TOTAL_TIMEOUT
    transitions: int = 0  # Step Functions state transitions (each Task attempt counts, retries included)
    executions: int = 0
    service: MediaPackageV2 = field(default_factory=MediaPackageV2)

    # Framework functions -----------------------------------------------------------------------------------
    def on_event(self, event: dict[str, Any], context: LambdaContext) -> None:
        """framework-onEvent: the user's onEvent, then the waiter; a user error answers FAILED."""
        try:
            result = self._invoke("user-onEvent", lambda: self.user_on_event(event, context))
        except Exception as error:
            self._submit("FAILED", event, reason=str(error))
            return
        resource_event = {**event, **result, "Data": dict(result.get("Data") or {})}
        resource_event.setdefault("PhysicalResourceId", event["RequestId"])
        self.executions += 1
        self.clock.spawn(lambda: self._waiter(resource_event, context))

    def _waiter(self, event: dict[str, Any], context: LambdaContext) -> None:
        """The state machine: the isComplete Task at once, then a retry every query_interval until it is done."""
        retries_left = round(self.total_timeout / self.query_interval)
        while True:
            self.transitions += 1
            if self._invoke("framework-isComplete", lambda: self._framework_is_complete(event, context)):
                return
            if retries_left == 0:
                self.transitions += 1
                self._invoke("framework-onTimeout", lambda: self._submit("FAILED", event, reason="Operation timed out"))
                return
            retries_left -= 1
            self.clock.sleep(self.query_interval)

    def _framework_is_complete(self, event: dict[str, Any], context: LambdaContext) -> bool:
        """framework-isComplete: True once it has answered CloudFormation (done, or the user function failed)."""
        try:
            result = self._invoke("user-isComplete", lambda: self.user_is_complete(event, context))
        except Exception as error:
            self._submit("FAILED", event, reason=str(error))
            return True
        if not result.get("IsComplete"):
            return False  # the framework throws Retry; Step Functions waits query_interval
        self._submit("SUCCESS", event, data={**event.get("Data", {}), **result.get("Data", {})})
        return True

    # User functions: this project's handler logic, the Provider way -----------------------------------------
    def user_on_event(self, event: dict[str, Any], context: LambdaContext) -> UserResult:
        """Create: validate and create the job. Delete: cancel it when it still runs (the handler's delete)."""
        invocation = self._invocation(event, context)
        request_type = invocation.event.request_type
        if request_type == "Create":
            props = invocation.event.resource_properties
            problems = self.service.problems(props)
            if problems:
                raise ValueError(model.invalid_reason(problems))
            name = str(props.get(spec.JOB_NAME) or invocation.derived_name())
            job = self.service.create(lifecycle.job_properties(props), name=name, token=invocation.digest)
            return {"PhysicalResourceId": job.arn}
        if request_type == "Delete":
            lifecycle.delete(invocation)
            return {"PhysicalResourceId": invocation.event.physical_resource_id}
        raise NotImplementedError(f"the Provider model does not rehearse {request_type}")

    def user_is_complete(self, event: dict[str, Any], context: LambdaContext) -> UserResult:
        """One GetHarvestJob: complete when the job is COMPLETED (Create) or no longer runs (Delete)."""
        physical_id = str(event["PhysicalResourceId"])
        if event["RequestType"] == "Delete":
            if not self.service.is_job_id(physical_id):
                return {"IsComplete": True}
            gone = self.service.get(physical_id)
            return {"IsComplete": gone is None or gone.status not in model.ACTIVE}
        job = self.service.get(physical_id)
        if job is None:
            raise RuntimeError(f"Harvest job {physical_id} disappeared before it finished")
        wait = spec.parse_bool(event["ResourceProperties"].get(spec.WAIT_FOR_COMPLETION, True))
        if job.status == model.JobStatus.COMPLETED or not wait:
            return {"IsComplete": True, "Data": job.attributes()}
        if job.status in model.ACTIVE:
            return {"IsComplete": False}
        raise RuntimeError(f"Harvest job {job.name} {job.status.value}: {job.error_message or 'no error message'}")

    # Plumbing ----------------------------------------------------------------------------------------------
    def _invocation(self, event: dict[str, Any], context: LambdaContext) -> model.Invocation:
        return model.Invocation(CloudFormationCustomResourceEvent(event), context, self.service, lambda _id: None)

    def _invoke(self, function: str, body: Callable[[], Any]) -> Any:
        """One (synchronous) Lambda invocation of ``function``, recorded."""
        start, wall = self.clock.time(), time.perf_counter()
        try:
            return body()
        finally:
            self.record(InvocationRecord(function, start, self.clock.time(), time.perf_counter() - wall))

    def _submit(
        self, status: str, event: dict[str, Any], *, reason: str = "", data: dict[str, str] | None = None
    ) -> None:
        """The framework's cfn-response submitResponse: PUT the answer to the pre-signed URL."""
        body = response_body(
            status=status,
            reason=reason,
            physical_id=str(event.get("PhysicalResourceId") or event["RequestId"]),
            stack_id=event["StackId"],
            request_id=event["RequestId"],
            logical_id=event["LogicalResourceId"],
            data=data if status == "SUCCESS" and data else {},
        )
        put_response(event["ResponseURL"], body, give_up_at=self.clock.time() + RESPONSE_GIVE_UP_SECONDS)
