"""Lambda entry point of the Custom::MediaPackageV2HarvestJob and Custom::MediaPackageV1HarvestJob provider.

An EventBridge harvest-job event goes to ``harvest_handler.job_events``. Per request: the request's log keys,
a fresh crhelper resource (``harvest_handler.crhelper_resource``) and the lifecycle's dispatchers, registered
with crhelper's decorators, bound to the service flavour of the resource type (MediaPackage v2 or v1). Nothing is
built at import. The entry point is ``index.handler(event, context)``; everything else lives in the
``harvest_handler`` package.

Seams for tests and the deploy rehearsal: ``harvest_handler.aws_clients.use(factory)`` / :func:`reset_clients`
(AWS clients), ``harvest_handler.clock.use(clock)`` (time), ``SSL_CERT_FILE`` (the CA of a local response
endpoint).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harvest_handler import aws_clients, job_events, lifecycle, long_wait
from harvest_handler.cfn_event import CloudFormationCustomResourceEvent
from harvest_handler.crhelper_resource import POLL_FLAG, Function, LambdaContext, Outcome, SafeCfnResource
from harvest_handler.logs import logger
from harvest_handler.mediapackage_v1 import MediaPackageV1
from harvest_handler.mediapackage_v2 import MediaPackageV2
from mediapackage_harvest.contract import spec

Dispatcher = Callable[[lifecycle.Invocation], Outcome]

# The service flavour per custom resource type.
FLAVOURS: dict[str, Callable[[], lifecycle.HarvestService]] = {
    spec.RESOURCE_TYPE: MediaPackageV2,
    spec.V1_RESOURCE_TYPE: MediaPackageV1,
    spec.RESULT_RESOURCE_TYPE: MediaPackageV2,
}
# Resource types with their own dispatchers (Create, Update, Delete); the others are harvest jobs.
OWN_DISPATCHERS: dict[str, tuple[Dispatcher, Dispatcher, Dispatcher]] = {
    spec.RESULT_RESOURCE_TYPE: (long_wait.read_result, long_wait.read_result, long_wait.keep_job),
}

reset_clients = aws_clients.reset


def handler(event: dict[str, Any], context: LambdaContext) -> None:
    """Answer one CloudFormation request (or one EventBridge poll of it, or watch a long-wait job), or follow a
    harvest-job event up."""
    if job_events.is_job_event(event):
        job_events.handle(event, context, handler)
        return
    service = FLAVOURS.get(str(event.get("ResourceType")), MediaPackageV2)()
    if long_wait.WATCH_KEY in event:
        long_wait.poll(event, context, service)
        return
    request = CloudFormationCustomResourceEvent(event)
    _set_log_keys(request, context)
    resource = SafeCfnResource.for_invocation(rule_prefix_env=spec.POLL_RULE_PREFIX_ENV)
    create, update, delete = OWN_DISPATCHERS.get(
        str(request.get("ResourceType")), (lifecycle.create, lifecycle.update, lifecycle.delete)
    )

    def bind(dispatch: Dispatcher) -> Function:
        def run(raw: dict[str, Any], ctx: LambdaContext) -> Outcome:
            invocation = lifecycle.Invocation(
                CloudFormationCustomResourceEvent(raw),
                ctx,
                service,
                resource.set_failure_physical_id,
                resource.answer_by,
            )
            return dispatch(invocation)

        return run

    resource.register(create=bind(create), update=bind(update), delete=bind(delete), poll=bind(lifecycle.poll))
    resource(event, context)


def _set_log_keys(request: CloudFormationCustomResourceEvent, context: LambdaContext) -> None:
    """Correlation keys for this request's log lines (per thread: the rehearsal runs requests side by side)."""
    logger.thread_safe_clear_keys()
    logger.thread_safe_append_keys(
        stack_id=request.stack_id,
        logical_resource_id=request.logical_resource_id,
        request_id=request.request_id,
        request_type=request.request_type,
        poll=bool(request.get(POLL_FLAG)),
        function_request_id=getattr(context, "aws_request_id", None),
    )
