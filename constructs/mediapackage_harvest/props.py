"""From a construct's Python props to its custom resource's properties, the same way for v1 and v2 jobs.

``HarvestJob`` and ``MediaPackageV1HarvestJob`` each render their props with :class:`Rendering` (the props they
share: the window's times, the bucket, ``wait_for_completion`` and ``timeout``; plus what only Python types can
show), then :func:`raise_if_invalid` runs spec's rules over the result, the same rules the handler runs at deploy
time, and raises one error naming every Python prop and rule broken (:mod:`mediapackage_harvest.errors`).

Rendering and validating run before the construct joins the tree and, for a stack of many clips, once per job:
values read from CDK objects are memoized per object (:func:`per_object`) and tokens are recognized in Python
(:func:`is_unresolved`), because every read through jsii is a round trip to its Node process.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from aws_cdk import Duration, Token
from constructs import Construct

from mediapackage_harvest.contract import spec
from mediapackage_harvest.errors import InvalidJobProps

DEFAULT_TIMEOUT = Duration.hours(1)

Validate = Callable[[Mapping[str, Any], Callable[[object], bool]], list[spec.Violation]]

_Value = TypeVar("_Value")


def raise_if_invalid(
    error: type[InvalidJobProps],
    scope: Construct,
    id: str,
    properties: Mapping[str, Any],
    violations: Sequence[spec.Violation],
    validate: Validate,
) -> None:
    """Raise ``error`` for the construct ``id`` in ``scope``: the rendering's violations plus those of spec's
    ``validate`` (tokens skipped).

    A rendering check replaces spec's rule for the same field: it knows the Python type the user passed.
    """
    found = combine(violations, validate(properties, is_unresolved))
    if found:
        raise error(f"{scope.node.path}/{id}".lstrip("/"), found)


def combine(first: Sequence[spec.Violation], then: Sequence[spec.Violation]) -> list[spec.Violation]:
    """``first``, then those of ``then`` about a field ``first`` does not name: a check that knows more (the
    Python type the user passed, the file a value came from) replaces the general rule for the same field."""
    seen = {v.field for v in first}
    return [*first, *(v for v in then if v.field not in seen)]


class Rendering:
    """Renders the props v1 and v2 jobs share and collects the violations only Python types can show."""

    def __init__(self) -> None:
        self.violations: list[spec.Violation] = []

    def fail(self, field: str, rule: str) -> None:
        self.violations.append(spec.Violation(field, rule))

    def timestamp(self, field: str, value: object) -> str:
        """A timezone-aware datetime as ISO-8601; anything else as text, to be named by ``field``."""
        if isinstance(value, datetime) and value.utcoffset() is not None:
            return value.isoformat()
        kind = "naive datetime (no tzinfo)" if isinstance(value, datetime) else type(value).__name__
        self.fail(field, f"must be a timezone-aware datetime, got a {kind}")
        return value.isoformat() if isinstance(value, datetime) else str(value)

    def bucket_name(self, field: str, bucket: object) -> object:
        """The name of an ``s3.IBucket`` or the name given as a string."""
        name = bucket if isinstance(bucket, str) else _bucket_name(bucket)
        if name is None:
            self.fail(field, f"must be an s3.IBucket or a bucket name, got {type(bucket).__name__}")
        return name

    def wait_for_completion(self, value: object) -> object:
        """CloudFormation sends booleans as strings; a non-boolean stays as it is, for spec to name."""
        return str(value).lower() if isinstance(value, bool) else value

    def timeout(self, value: object) -> str | None:
        """``timeout`` in whole seconds as CloudFormation sends it (a string); None when it has none."""
        if not isinstance(value, Duration):
            self.fail(spec.TIMEOUT, f"must be a Duration, got {type(value).__name__}")
            return None
        seconds, problem = _timeout_seconds(value)
        if problem:
            self.fail(spec.TIMEOUT, problem)
        return seconds


def per_object(compute: Callable[[Any], _Value]) -> Callable[[Any], _Value]:
    """``compute(obj)`` once per object: what a CDK object answers never changes, and asking costs a jsii round
    trip. Objects that cannot be weakly referenced (strings, numbers) are asked every time."""
    cache: WeakKeyDictionary[Any, _Value] = WeakKeyDictionary()

    def cached(obj: Any) -> _Value:
        try:
            return cache[obj]
        except KeyError:
            value = cache[obj] = compute(obj)
            return value
        except TypeError:  # not weakly referenceable, or not hashable
            return compute(obj)

    return cached


@per_object
def _bucket_name(bucket: object) -> object:
    return getattr(bucket, "bucket_name", None)


@per_object
def _timeout_seconds(timeout: Duration) -> tuple[str | None, str | None]:
    """A Duration in whole seconds, or why it has none."""
    if timeout.is_unresolved():
        return None, "must be a concrete Duration, not a token (it is also the custom resource's ServiceTimeout)"
    try:
        return str(int(timeout.to_seconds())), None
    except Exception:  # jsii raises a plain RuntimeError for a fractional number of seconds
        return None, f"must be a whole number of seconds, got {timeout.to_human_string()}"


# aws-cdk-lib's token encodings (core/lib/private/encoding.ts): a string token, a number token written as a
# string, a list token, and a number token (a NaN-range double whose top 16 bits are 0xFBFF).
_STRING_TOKEN = re.compile(r"\$\{Token\[[a-zA-Z0-9:._-]+\]\}|-1\.\d{10,16}e\+289")
_LIST_TOKEN = re.compile(r"#\{Token\[[a-zA-Z0-9:._-]+\]\}")
_DOUBLE_TOKEN_BITS = 0xFBFF0000


def is_unresolved(value: object) -> bool:
    """``aws_cdk.Token.is_unresolved(value)`` without the round trip to jsii for plain Python values.

    Strings, numbers, lists, mappings, booleans, dates and None are answered here exactly as aws-cdk-lib's
    ``unresolved()`` answers them; any other object (a CDK object may be resolvable) is asked of aws-cdk-lib.
    """
    if value is None or isinstance(value, (bool, date, Mapping)):
        return False  # not a string, number or array, and no resolve() method: never a token
    if isinstance(value, str):
        return "Token[" in value and _STRING_TOKEN.search(value) is not None
    if isinstance(value, (int, float)):
        try:
            high: int = struct.unpack("<II", struct.pack("<d", float(value)))[1]
        except OverflowError:  # an int past the largest double: jsii's answer (False) is the authority
            return bool(Token.is_unresolved(value))
        return high & 0xFFFF0000 == _DOUBLE_TOKEN_BITS
    if isinstance(value, list):
        return len(value) == 1 and isinstance(value[0], str) and _LIST_TOKEN.search(value[0]) is not None
    return bool(Token.is_unresolved(value))
