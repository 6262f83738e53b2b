"""Lambda entry point of the Custom::MediaPackageV2HarvestJob and Custom::MediaPackageV1HarvestJob provider.

An EventBridge harvest-job event goes to ``harvest_handler.job_events``. A poll (crhelper's poll of a request, or a
long-wait watch) runs as the Input its rule holds, read from EventBridge, never as the invocation's payload: anyone
allowed to invoke the function could forge a payload (a deadline, a URL), not a rule this function made. Everything
else is a CloudFormation request: the request's log keys, a crhelper resource
(``harvest_handler.crhelper_resource``) and the lifecycle's dispatchers, registered through crhelper's decorators,
bound to the service flavour of the resource type (``harvest_handler.flavours``). Nothing is built at import.

Seams for tests and the deploy rehearsal: ``harvest_handler.aws_clients.use(factory)`` / :func:`reset_clients`
(AWS clients), ``harvest_handler.clock.use(clock)`` (time), ``SSL_CERT_FILE`` (the CA of a local response
endpoint).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from harvest_handler import aws_clients, flavours, job_events, lifecycle, long_wait, rules
from harvest_handler.cfn_event import CloudFormationCustomResourceEvent
from harvest_handler.crhelper_resource import Function, SafeCfnResource
from harvest_handler.logs import logger
from harvest_handler.model import POLL_FLAG, RULE_KEY, Invocation, LambdaContext, Outcome, cause_of
from mediapackage_harvest.contract import spec

Dispatcher = Callable[[Invocation], Outcome]

# Resource types with their own dispatchers (Create, Update, Delete); the others are harvest jobs.
OWN_DISPATCHERS: dict[str, tuple[Dispatcher, Dispatcher, Dispatcher]] = {
    spec.RESULT_RESOURCE_TYPE: (long_wait.read_result, long_wait.read_result, long_wait.keep_job),
}

reset_clients = aws_clients.reset


def handler(event: dict[str, Any], context: LambdaContext) -> None:
    """Answer one CloudFormation request (or one EventBridge poll of it, or watch a long-wait job), or follow a
    harvest-job event up."""
    if job_events.is_job_event(event):
        job_events.handle(event, context, run_poll)
    elif POLL_FLAG in event or long_wait.WATCH_KEY in event:
        stored = _stored_poll(event)
        if stored is None:
            logger.info("No rule of this function holds this poll (answered meanwhile, or forged); ignored")
            return
        run_poll(stored, context)
    else:
        answer(event, context)


def run_poll(poll: dict[str, Any], context: LambdaContext) -> None:
    """Run a poll as its rule holds it (from EventBridge: never an invocation's payload)."""
    if long_wait.WATCH_KEY in poll:
        long_wait.poll(poll, context, flavours.for_resource_type(poll.get("ResourceType")))
    else:
        answer(poll, context)


def _stored_poll(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The Input of the rule a poll names, if this function made that rule (its name has the function's prefix);
    a watch made before its Input named its rule is found by its job."""
    try:
        watched = event.get(long_wait.WATCH_KEY)
        job = watched.get("job") if isinstance(watched, Mapping) else None
        name = rules.name_of(str(event.get(RULE_KEY) or "")) or (rules.job_rule_name(str(job)) if job else "")
        if not name.startswith(f"{rules.prefix()}-"):
            return None
        return rules.waiting_poll(name)
    except Exception as error:
        logger.warning("Could not read the poll's rule; its next fire tries again", extra={"problem": cause_of(error)})
        return None


def answer(event: dict[str, Any], context: LambdaContext) -> None:
    """A CloudFormation request, or crhelper's poll of one, through a crhelper resource."""
    service = flavours.for_resource_type(event.get("ResourceType"))
    request = CloudFormationCustomResourceEvent(event)
    _set_log_keys(request, context)
    resource = SafeCfnResource()
    try:
        rules.prefix()  # the function's configuration: without it, no request can be polled or watched
    except rules.RuleError as error:
        resource.init_failure(error)
    create, update, delete = OWN_DISPATCHERS.get(
        str(request.get("ResourceType")), (lifecycle.create, lifecycle.update, lifecycle.delete)
    )

    def bind(dispatch: Dispatcher) -> Function:
        def run(raw: dict[str, Any], ctx: LambdaContext) -> Outcome:
            invocation = Invocation(
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
