"""What the rehearsal's Lambda runtime does around the handler: load it, end its invocations at their timeout,
and let its waits (retry backoff included) pass on the virtual clock.

Every hook here swaps an implementation the handler offers for that purpose (``harvest_handler.clock.use``,
``harvest_handler.aws_clients.use``) or registers a botocore event handler on the clients the rehearsal builds;
nothing changes how the production path behaves.

- :func:`load_handler_module`: the handler as the Lambda asset bundles it, imported with the asset on
  ``sys.path`` only while importing (its modules live in one package, ``harvest_handler``).
- :class:`LambdaClock` and :func:`run_to_timeout`: Lambda ends an invocation at the function's Timeout; its
  threads never run again (:class:`InvocationEnded`) and its timers never fire.
- :func:`handler_seams`: the handler's clock and client factory for a rehearsal, put back afterwards.
- :func:`new_default_session`: boto3's default session as a new Lambda process starts with it.
"""

from __future__ import annotations

import atexit
import contextvars
import importlib
import importlib.util
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.retries import standard

from mediapackage_harvest.bundling import build_asset
from mediapackage_harvest.rehearsal.virtual_clock import VirtualClock

HANDLER_PACKAGE = "harvest_handler"  # the asset's one package; its entry module is index.py beside it
_INDEX_MODULE = "_mediapackage_harvest_index"  # the asset's index.py, under a name no user module has

ClientHook = Callable[[Any], None]

_handler_module: ModuleType | None = None
_load_lock = threading.Lock()


def load_handler_module() -> ModuleType:
    """The handler's entry module as the Lambda asset bundles it (built once per process into a temporary folder,
    removed when the process exits).

    The asset's folder is on ``sys.path`` only while its modules are imported; ``sys.path`` is restored after.
    """
    global _handler_module
    with _load_lock:
        if _handler_module is None:
            asset = Path(tempfile.mkdtemp(prefix="harvest-asset-"))
            atexit.register(shutil.rmtree, asset, ignore_errors=True)
            build_asset(asset)
            with _on_sys_path(asset):
                spec = importlib.util.spec_from_file_location(_INDEX_MODULE, asset / "index.py")
                assert spec is not None and spec.loader is not None
                module = importlib.util.module_from_spec(spec)
                sys.modules[_INDEX_MODULE] = module
                spec.loader.exec_module(module)
            _handler_module = module
        return _handler_module


def handler_module(name: str) -> ModuleType:
    """One module of the handler's package (``clock``, ``aws_clients``, ``crhelper_resource``, ``logs``, ...)."""
    load_handler_module()
    return importlib.import_module(f"{HANDLER_PACKAGE}.{name}")


@contextmanager
def _on_sys_path(folder: Path) -> Iterator[None]:
    saved = list(sys.path)
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        sys.path[:] = saved


_CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
_sessions: dict[tuple[str | None, ...], boto3.Session] = {}
_shared_loader = botocore.loaders.create_loader(os.environ.get("AWS_DATA_PATH"))  # as botocore's own sessions


def new_default_session() -> None:
    """boto3's default session as a new Lambda process starts with it: credentials read from the environment.

    One session per set of credentials is kept for the process (building a botocore session and parsing its
    service data again took a third of a rehearsal's CPU); all of them read botocore's data through one loader.
    """
    key = tuple(os.environ.get(name) for name in _CREDENTIAL_VARIABLES)
    with _load_lock:
        if key not in _sessions:
            core = botocore.session.get_session()
            core.register_component("data_loader", _shared_loader)
            session = boto3.Session(botocore_session=core)
            session.get_credentials()  # resolved now, from this environment, and kept by the session
            _sessions[key] = session
            paths = _shared_loader.search_paths  # each boto3 Session appends boto3's data folder: once is enough
            paths[:] = list(dict.fromkeys(paths))
        boto3.DEFAULT_SESSION = _sessions[key]


# Lambda's timeout ------------------------------------------------------------------------------------------------


class InvocationEnded(BaseException):
    """Raised in an invocation's threads when Lambda ends it: a BaseException, so the handler's ``except
    Exception`` blocks cannot answer CloudFormation from beyond the grave."""


_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("lambda_deadline", default=None)


class LambdaClock:
    """The handler clock inside a rehearsal: the virtual clock, but a wait that reaches the current invocation's
    timeout never returns (Lambda has ended the invocation), and a timer due after it never fires."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock

    def time(self) -> float:
        return self.clock.time()

    def sleep(self, seconds: float) -> None:
        deadline = _deadline.get()
        if deadline is not None and self.clock.time() + seconds >= deadline:
            self.clock.sleep(max(deadline - self.clock.time(), 0.0))
            raise InvocationEnded
        self.clock.sleep(seconds)

    def call_later(self, seconds: float, callback: Callable[[], None]) -> Any:
        deadline = _deadline.get()
        if deadline is not None and self.clock.time() + seconds >= deadline:
            return _NeverFires()
        context = contextvars.copy_context()

        def run() -> None:
            with suppress(InvocationEnded):
                context.run(callback)

        return self.clock.call_later(seconds, run)


class _NeverFires:
    def cancel(self) -> None:
        """Nothing to cancel: Lambda ends the invocation before the timer would fire."""


def run_to_timeout(handler: Callable[[dict[str, Any], Any], Any], event: dict[str, Any], context: Any) -> bool:
    """Run one invocation until it returns or reaches ``context.deadline``; True when Lambda ended it there."""
    token = _deadline.set(float(context.deadline))
    try:
        handler(event, context)
    except InvocationEnded:
        return True
    finally:
        _deadline.reset(token)
    return False


# The handler's seams ---------------------------------------------------------------------------------------------


def pace_retries_on_clock(client: Any, sleep: Callable[[float], None]) -> None:
    """Make botocore's retry backoff wait with ``sleep`` (the handler clock's) instead of ``time.sleep``.

    For the clients a rehearsal or a test builds, never for production ones.

    botocore's endpoint sleeps for whatever delay its ``needs-retry`` handler returns. The standard-mode handler
    (registered by botocore under the unique id ``retry-config-<service>``) is registered again behind a wrapper
    that waits the delay on the handler clock and hands the endpoint 0 s. Retry decisions, quota and backoff
    stay botocore's own.
    """
    service = client.meta.service_model.service_id.hyphenize()
    event, unique_id = f"needs-retry.{service}", f"retry-config-{service}"
    client.meta.events.unregister(event, unique_id=unique_id)
    retry = standard.register_retry_handler(client, max_attempts=client.meta.config.retries.get("total_max_attempts"))
    client.meta.events.unregister(event, unique_id=unique_id)

    def needs_retry(**kwargs: Any) -> float | None:
        delay = retry.needs_retry(**kwargs)
        if delay is None:
            return None
        sleep(delay)
        return 0.0

    client.meta.events.register(event, needs_retry, unique_id=f"clock-paced-{unique_id}")


@contextmanager
def handler_seams(clock: VirtualClock, *client_hooks: ClientHook) -> Iterator[None]:
    """The handler on the rehearsal's clock (Lambda's timeout included) and on clients built by the production
    factory, then paced on that clock and given ``client_hooks``; both put back afterwards."""
    handler_clock, aws_clients = handler_module("clock"), handler_module("aws_clients")

    def build(service_name: str) -> Any:
        client = aws_clients.build_client(service_name)
        pace_retries_on_clock(client, lambda seconds: handler_clock.current.sleep(seconds))
        for hook in client_hooks:
            hook(client)
        return client

    handler_clock.use(LambdaClock(clock))
    aws_clients.use(build)
    try:
        yield
    finally:
        aws_clients.use(None)
        handler_clock.use(handler_clock.SystemClock())
