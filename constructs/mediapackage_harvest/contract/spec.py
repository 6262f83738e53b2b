"""The HarvestJob custom resource's contract: property names, service limits and their validation.

One place for the rules, used twice: by the construct at synth time (unresolved tokens skipped) and by the
Lambda handler at deploy time (on the raw properties CloudFormation sends, where every scalar is a string).
Standard library only: the handler asset carries it in ``mediapackage_harvest/contract/``.
Limits come from the botocore ``mediapackagev2`` 2022-12-25 model unless a comment says otherwise.

MediaPackage v1 harvest jobs (``Custom::MediaPackageV1HarvestJob``) have their own property names and rules
(:func:`validate_v1`), checked with the same helpers. The botocore ``mediapackage`` 2017-10-12 model constrains
none of its members beyond "required"; the v1 limits below come from the MediaPackage user guide and the
CloudFormation resource schemas, as their comments say.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

RESOURCE_TYPE = "Custom::MediaPackageV2HarvestJob"

# Resource properties (CreateHarvestJob's own names, plus the lifecycle options).
CHANNEL_GROUP = "ChannelGroupName"
CHANNEL = "ChannelName"
ORIGIN_ENDPOINT = "OriginEndpointName"
JOB_NAME = "HarvestJobName"
MANIFESTS = "HarvestedManifests"
SCHEDULE = "ScheduleConfiguration"
DESTINATION = "Destination"
DESCRIPTION = "Description"
TAGS = "Tags"
WAIT_FOR_COMPLETION = "WaitForCompletion"
TIMEOUT = "Timeout"  # seconds; the custom resource's ServiceTimeout too, up to one hour
SERVICE_TIMEOUT = "ServiceTimeout"  # CloudFormation's own wait for the custom resource
# Long-wait mode (Timeout over an hour): the URL of the AWS::CloudFormation::WaitConditionHandle the handler signals
# when the job ends. A credential, like the ResponseURL: never logged, never in the response Data.
SIGNAL_URL = "SignalUrl"

MANIFEST_KINDS = ("HlsManifests", "DashManifests", "LowLatencyHlsManifests")

# A ClipSet's clip ("true"): a create refused for the quota is tried again as soon as a job of the channel group
# ends, not only at the next poll (its rule also fires on those events). The set keeps its waiters few (its lanes).
RETRY_WHEN_SLOT_FREES = "RetryWhenSlotFrees"

# Properties that do not describe the job itself: changing only these never replaces it.
LIFECYCLE_PROPERTIES = frozenset(
    {"ServiceToken", SERVICE_TIMEOUT, WAIT_FOR_COMPLETION, TIMEOUT, TAGS, SIGNAL_URL, RETRY_WHEN_SLOT_FREES}
)

# Attributes the resource returns (Fn::GetAtt names).
ATTRIBUTES = ("Arn", "ETag", "Status", "HarvestJobName", "CreatedAt", "ModifiedAt")

# Long-wait mode's result resource: re-reads the job once its wait condition has completed and returns ATTRIBUTES.
RESULT_RESOURCE_TYPE = "Custom::MediaPackageV2HarvestJobResult"
RESULT_JOB_ARN = "JobArn"

# Environment of the handler function.
POLL_RULE_PREFIX_ENV = "HARVEST_POLL_RULE_PREFIX"
# The handler's rhythm: its rules poll a request or a watch this often (the fallback when a job's events are lost),
# and one invocation tries to PUT an answer this long before leaving it on the request's rule for the next poll.
POLL_PERIOD_SECONDS = 300
ANSWER_TRY_SECONDS = 50


NAME_PATTERN = re.compile(r"[a-zA-Z0-9_-]+")
NAME_MAX = 256
DESCRIPTION_MAX = 1024
DESTINATION_PATH_MAX = 1024
BUCKET_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")  # S3 bucket naming rules
MAX_WINDOW = timedelta(hours=24)
TIMEOUT_MIN_SECONDS = 60  # the handler needs a minute to cancel the job and answer before CloudFormation gives up
SERVICE_TIMEOUT_MAX_SECONDS = 3600  # CloudFormation's ServiceTimeout ceiling: longer waits use a wait condition
TIMEOUT_MAX_SECONDS = 43200  # a WaitCondition's Timeout ceiling (12 hours)
V1_TIMEOUT_MAX_SECONDS = SERVICE_TIMEOUT_MAX_SECONDS  # v1 jobs have no long-wait mode
# AWS tagging limits (the MediaPackage v2 model leaves the tag map unconstrained).
TAGS_MAX = 50
TAG_KEY_MAX = 128
TAG_VALUE_MAX = 256
TAG_PATTERN = re.compile(r"[\w\s.:/=+\-@]*")
# CloudFormation's limits on a custom resource's answer: the body (PUT to the ResponseURL) and what it keeps of Reason.
RESPONSE_BODY_MAX_BYTES = 4096
REASON_MAX_CHARS = 256
# The job ARN appears twice in the CloudFormation response (PhysicalResourceId and Data.Arn), which must stay
# under 4096 bytes with the stack id, logical id, ETag and Reason beside it; 800 leaves room for all of them.
NAMES_TOTAL_MAX = 800
# A derived HarvestJobName is at most this long; used for the combined-length rule when no name is given.
DERIVED_NAME_MAX = 64
# MediaPackage's default quota of QUEUED + IN_PROGRESS harvest jobs per channel group (adjustable on request).
ACTIVE_JOBS_QUOTA = 10
TIMESTAMP_RULE = "must be an ISO-8601 timestamp with a UTC offset (timezone-aware)"

# MediaPackage v1 (``mediapackage`` 2017-10-12): CreateHarvestJob's names, plus the same lifecycle options.
V1_RESOURCE_TYPE = "Custom::MediaPackageV1HarvestJob"
V1_JOB_ID = "Id"  # optional here: the handler derives one when absent (the service requires it)
V1_ORIGIN_ENDPOINT = "OriginEndpointId"
V1_START = "StartTime"
V1_END = "EndTime"
V1_DESTINATION = "S3Destination"  # {BucketName, ManifestKey, RoleArn}
V1_ATTRIBUTES = ("Arn", "Id", "Status", "ChannelId", "CreatedAt")
# v1 ids: the user guide allows letters, digits, '_' and '-' for a harvest job ID; AWS::MediaPackage::
# OriginEndpoint's schema gives 1 to 256 of the same characters. NAME_PATTERN and NAME_MAX say exactly that.
V1_ID_MAX = NAME_MAX
MANIFEST_KEY_MAX_BYTES = 1024  # an S3 object key: at most 1024 bytes of UTF-8
# The role MediaPackage assumes to write to S3 (IAM role names: 1-64 of [\w+=,.@-], paths of the same plus '/').
ROLE_ARN_PATTERN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}")


@dataclass(frozen=True)
class Violation:
    """One broken rule: ``field`` is the property path, ``rule`` says what the value must be."""

    field: str
    rule: str

    def __str__(self) -> str:
        return f"{self.field} {self.rule}"


class InvalidProperties(ValueError):
    """Raised for a property set that breaks one or more rules; the message lists each field and rule."""

    def __init__(self, violations: Sequence[Violation]) -> None:
        self.violations = list(violations)
        super().__init__("; ".join(str(v) for v in self.violations))


def never_unresolved(_value: object) -> bool:
    """Deploy time: every value is concrete."""
    return False


def validate(props: Mapping[str, Any], is_unresolved: Callable[[object], bool] = never_unresolved) -> list[Violation]:
    """Every rule a v2 harvest job's properties break, in property order; empty when they are valid."""
    check = _Checker(is_unresolved)
    for field in (CHANNEL_GROUP, CHANNEL, ORIGIN_ENDPOINT):
        check.name(field, props.get(field), required=True)
    check.name(JOB_NAME, props.get(JOB_NAME), required=False)
    check.manifests(props.get(MANIFESTS))
    check.schedule(props.get(SCHEDULE))
    check.destination(props.get(DESTINATION))
    check.text(DESCRIPTION, props.get(DESCRIPTION), DESCRIPTION_MAX)
    check.tags(props.get(TAGS))
    check.boolean(WAIT_FOR_COMPLETION, props.get(WAIT_FOR_COMPLETION))
    check.boolean(RETRY_WHEN_SLOT_FREES, props.get(RETRY_WHEN_SLOT_FREES))
    check.timeout(props.get(TIMEOUT), TIMEOUT_MAX_SECONDS)
    check.service_timeout(props.get(SERVICE_TIMEOUT))
    check.names_total(props)
    return check.violations


def validate_v1(
    props: Mapping[str, Any], is_unresolved: Callable[[object], bool] = never_unresolved
) -> list[Violation]:
    """Every rule a MediaPackage v1 harvest job's properties break, in property order; empty when they are valid."""
    check = _Checker(is_unresolved)
    check.name(V1_JOB_ID, props.get(V1_JOB_ID), required=False)
    check.name(V1_ORIGIN_ENDPOINT, props.get(V1_ORIGIN_ENDPOINT), required=True)
    check.window(V1_START, props.get(V1_START), V1_END, props.get(V1_END), span_field=V1_END)
    check.s3_destination_v1(props.get(V1_DESTINATION))
    check.boolean(WAIT_FOR_COMPLETION, props.get(WAIT_FOR_COMPLETION))
    check.timeout(props.get(TIMEOUT), V1_TIMEOUT_MAX_SECONDS)
    return check.violations


def check_name(field: str, value: object) -> list[Violation]:
    """The rules every MediaPackage name follows (channel, endpoint, job): 1 to NAME_MAX letters, digits, '-'
    and '_'."""
    check = _Checker(never_unresolved)
    check.name(field, value, required=True)
    return check.violations


def parse_timestamp(value: str) -> datetime:
    """An ISO-8601 timestamp with a UTC offset (``Z`` accepted); ValueError otherwise."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    if parsed.tzinfo is None:
        raise ValueError("no UTC offset")
    return parsed


# Advice in the props' own terms -----------------------------------------------------------------------------------
# What a real-time harvest needs after its EndTime to package what it harvested: an allowance (undocumented), so
# that a suggested timeout does not end with the window.
PACKAGING_ALLOWANCE_SECONDS = 900


def duration_expression(seconds: float) -> str:
    """A length of time as the ``aws_cdk.Duration`` a user writes: ``Duration.days(2)``, ``Duration.hours(4)``,
    ``Duration.minutes(90)``, ``Duration.seconds(45)``."""
    whole = int(seconds)
    if whole and whole % 86400 == 0:
        return f"Duration.days({whole // 86400})"
    if whole and whole % 3600 == 0:
        return f"Duration.hours({whole // 3600})"
    if whole and whole % 60 == 0:
        return f"Duration.minutes({whole // 60})"
    return f"Duration.seconds({whole})"


def timeout_to_cover(seconds: float) -> int:
    """The timeout, in whole hours, that waits for a job running ``seconds`` more and then packaging what it
    harvested (:data:`PACKAGING_ALLOWANCE_SECONDS`)."""
    return -(-int(seconds + PACKAGING_ALLOWANCE_SECONDS) // 3600) * 3600


def span(seconds: float) -> str:
    """A length of time a person reads at a glance: ``3 h``, ``2 h 50 min``, ``40 min``, ``30 s``."""
    minutes = int(seconds + 59) // 60  # whole minutes, rounded up
    if seconds < 60:
        return f"{int(seconds)} s"
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def parse_bool(value: object) -> bool:
    """CloudFormation sends booleans as the strings "true" / "false"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"not a boolean: {value!r}")


class _Checker:
    """Collects violations; each method checks one kind of field and skips unresolved tokens."""

    def __init__(self, is_unresolved: Callable[[object], bool]) -> None:
        self.is_unresolved = is_unresolved
        self.violations: list[Violation] = []

    def fail(self, field: str, rule: str) -> None:
        self.violations.append(Violation(field, rule))

    def skip(self, value: object) -> bool:
        return self.is_unresolved(value)

    def string(self, field: str, value: object, *, required: bool) -> str | None:
        """The value when it is a concrete string; None (after recording any violation) otherwise."""
        if value is None:
            if required:
                self.fail(field, "is required")
            return None
        if self.skip(value):
            return None
        if not isinstance(value, str):
            self.fail(field, f"must be a string, got {type(value).__name__}")
            return None
        return value

    def name(self, field: str, value: object, *, required: bool) -> None:
        text = self.string(field, value, required=required)
        if text is None:
            return
        if not 1 <= len(text) <= NAME_MAX:
            self.fail(field, f"must be 1 to {NAME_MAX} characters long, got {len(text)}")
        elif not NAME_PATTERN.fullmatch(text):
            self.fail(field, f"must match {NAME_PATTERN.pattern} (letters, digits, '-' and '_'), got {text!r}")

    def text(self, field: str, value: object, maximum: int) -> None:
        text = self.string(field, value, required=False)
        if text is not None and len(text) > maximum:
            self.fail(field, f"must be at most {maximum} characters long, got {len(text)}")

    def manifests(self, value: object) -> None:
        if value is None:
            self.fail(MANIFESTS, "is required: name at least one HLS, DASH or Low-Latency HLS manifest")
            return
        if self.skip(value):
            return
        if not isinstance(value, Mapping):
            self.fail(MANIFESTS, f"must be an object, got {type(value).__name__}")
            return
        unknown = sorted(set(value) - set(MANIFEST_KINDS))
        if unknown:
            self.fail(MANIFESTS, f"has unknown keys {unknown}; allowed: {list(MANIFEST_KINDS)}")
        count = 0
        for kind in MANIFEST_KINDS:
            entries = value.get(kind)
            field = f"{MANIFESTS}.{kind}"
            if entries is None or self.skip(entries):
                count += entries is not None
                continue
            if not isinstance(entries, list):
                self.fail(field, f"must be a list, got {type(entries).__name__}")
                continue
            seen: set[str] = set()
            for index, entry in enumerate(entries):
                count += 1
                entry_field = f"{field}[{index}].ManifestName"
                if not isinstance(entry, Mapping):
                    self.fail(f"{field}[{index}]", "must be an object with a ManifestName")
                    continue
                self.name(entry_field, entry.get("ManifestName"), required=True)
                manifest_name = entry.get("ManifestName")
                if isinstance(manifest_name, str) and not self.skip(manifest_name):
                    if manifest_name in seen:
                        self.fail(entry_field, f"must be unique within {kind}, {manifest_name!r} repeats")
                    seen.add(manifest_name)
        if count == 0:
            self.fail(MANIFESTS, "must name at least one HLS, DASH or Low-Latency HLS manifest")

    def timestamp(self, field: str, value: object) -> datetime | None:
        text = self.string(field, value, required=True)
        if text is None:
            return None
        try:
            return parse_timestamp(text)
        except ValueError:
            self.fail(field, f"{TIMESTAMP_RULE}, got {text!r}")
            return None

    def schedule(self, value: object) -> None:
        if value is None:
            self.fail(SCHEDULE, "is required: give StartTime and EndTime")
            return
        if self.skip(value):
            return
        if not isinstance(value, Mapping):
            self.fail(SCHEDULE, f"must be an object, got {type(value).__name__}")
            return
        start_field, end_field = f"{SCHEDULE}.StartTime", f"{SCHEDULE}.EndTime"
        self.window(start_field, value.get("StartTime"), end_field, value.get("EndTime"), span_field=SCHEDULE)

    def window(
        self, start_field: str, start_value: object, end_field: str, end_value: object, *, span_field: str
    ) -> None:
        """Two timestamps with offsets, the end after the start and at most 24 hours later (v1 and v2 alike)."""
        start = self.timestamp(start_field, start_value)
        end = self.timestamp(end_field, end_value)
        if start is None or end is None:
            return
        if end <= start:
            self.fail(end_field, f"must be after StartTime ({start.isoformat()}), got {end.isoformat()}")
        elif end - start > MAX_WINDOW:
            self.fail(span_field, f"must span at most 24 hours (EndTime - StartTime), got {end - start}")

    def destination(self, value: object) -> None:
        field = f"{DESTINATION}.S3Destination"
        if value is None:
            self.fail(DESTINATION, "is required: give S3Destination.BucketName and DestinationPath")
            return
        if self.skip(value):
            return
        s3 = value.get("S3Destination") if isinstance(value, Mapping) else None
        if s3 is None or self.skip(s3):
            if s3 is None:
                self.fail(field, "is required: give BucketName and DestinationPath")
            return
        if not isinstance(s3, Mapping):
            self.fail(field, f"must be an object, got {type(s3).__name__}")
            return
        self.bucket(f"{field}.BucketName", s3.get("BucketName"))
        path_field = f"{field}.DestinationPath"
        path = self.string(path_field, s3.get("DestinationPath"), required=True)
        if path is not None:
            if not 1 <= len(path) <= DESTINATION_PATH_MAX:
                self.fail(path_field, f"must be 1 to {DESTINATION_PATH_MAX} characters, got {len(path)}")
            elif not re.fullmatch(r"\S+", path):
                self.fail(path_field, f"must not contain whitespace, got {path!r}")

    def bucket(self, field: str, value: object) -> None:
        bucket = self.string(field, value, required=True)
        if bucket is not None and not (BUCKET_NAME_PATTERN.fullmatch(bucket) and ".." not in bucket):
            self.fail(
                field,
                f"must be a valid S3 bucket name (3 to 63 lowercase letters, digits, '.' and '-', "
                f"starting and ending with a letter or digit), got {bucket!r}",
            )

    def s3_destination_v1(self, value: object) -> None:
        """v1's S3Destination: BucketName, ManifestKey (the top-level manifest's object key) and RoleArn."""
        if value is None:
            self.fail(V1_DESTINATION, "is required: give BucketName, ManifestKey and RoleArn")
            return
        if self.skip(value):
            return
        if not isinstance(value, Mapping):
            self.fail(V1_DESTINATION, f"must be an object, got {type(value).__name__}")
            return
        self.bucket(f"{V1_DESTINATION}.BucketName", value.get("BucketName"))
        self.manifest_key(f"{V1_DESTINATION}.ManifestKey", value.get("ManifestKey"))
        role_field = f"{V1_DESTINATION}.RoleArn"
        role = self.string(role_field, value.get("RoleArn"), required=True)
        if role is not None and not ROLE_ARN_PATTERN.fullmatch(role):
            self.fail(role_field, f"must be an IAM role ARN (arn:<partition>:iam::<account>:role/<name>), got {role!r}")

    def manifest_key(self, field: str, value: object) -> None:
        """An S3 object key naming a file: no leading or trailing '/', no empty folder, no whitespace."""
        key = self.string(field, value, required=True)
        if key is None:
            return
        size = len(key.encode())
        if not 1 <= size <= MANIFEST_KEY_MAX_BYTES:
            self.fail(field, f"must be 1 to {MANIFEST_KEY_MAX_BYTES} bytes long (an S3 object key), got {size}")
        elif key.startswith("/") or key.endswith("/") or "//" in key:
            self.fail(
                field,
                f"must be an object key naming the manifest file, like 'clips/game/index.m3u8' (no leading or "
                f"trailing '/', no '//'), got {key!r}",
            )
        elif not re.fullmatch(r"\S+", key):
            self.fail(field, f"must not contain whitespace, got {key!r}")

    def tags(self, value: object) -> None:
        if value is None or self.skip(value):
            return
        if not isinstance(value, Mapping):
            self.fail(TAGS, f"must be a map of strings, got {type(value).__name__}")
            return
        if len(value) > TAGS_MAX:
            self.fail(TAGS, f"must have at most {TAGS_MAX} tags, got {len(value)}")
        for key, tag_value in value.items():
            field = f"{TAGS}[{key!r}]"
            if self.skip(key) or self.skip(tag_value):
                continue
            if not isinstance(key, str) or not 1 <= len(key) <= TAG_KEY_MAX:
                self.fail(field, f"key must be 1 to {TAG_KEY_MAX} characters")
            elif key.lower().startswith("aws:"):
                self.fail(field, "key must not start with 'aws:' (reserved for AWS)")
            elif not TAG_PATTERN.fullmatch(key):
                self.fail(field, "key may hold only letters, digits, spaces and _ . : / = + - @")
            if not isinstance(tag_value, str):
                self.fail(field, f"value must be a string, got {type(tag_value).__name__}")
            elif len(tag_value) > TAG_VALUE_MAX:
                self.fail(field, f"value must be at most {TAG_VALUE_MAX} characters, got {len(tag_value)}")
            elif not TAG_PATTERN.fullmatch(tag_value):
                self.fail(field, "value may hold only letters, digits, spaces and _ . : / = + - @")

    def boolean(self, field: str, value: object) -> None:
        if value is None or self.skip(value):
            return
        try:
            parse_bool(value)
        except ValueError:
            self.fail(field, f"must be true or false, got {value!r}")

    def timeout(self, value: object, maximum: int) -> None:
        if value is None or self.skip(value):
            return
        try:
            seconds = int(str(value))
        except ValueError:
            self.fail(TIMEOUT, f"must be a whole number of seconds, got {value!r}")
            return
        if not TIMEOUT_MIN_SECONDS <= seconds <= maximum:
            self.fail(TIMEOUT, f"must be {TIMEOUT_MIN_SECONDS} to {maximum} seconds, got {seconds}")

    def service_timeout(self, value: object) -> None:
        """CloudFormation's own limit on a custom resource; a longer Timeout waits on a wait condition."""
        if value is None or self.skip(value):
            return
        try:
            seconds = int(str(value))
        except ValueError:
            self.fail(SERVICE_TIMEOUT, f"must be a whole number of seconds, got {value!r}")
            return
        if not 1 <= seconds <= SERVICE_TIMEOUT_MAX_SECONDS:
            self.fail(SERVICE_TIMEOUT, f"must be 1 to {SERVICE_TIMEOUT_MAX_SECONDS} seconds, got {seconds}")

    def names_total(self, props: Mapping[str, Any]) -> None:
        values = [props.get(f) for f in (CHANNEL_GROUP, CHANNEL, ORIGIN_ENDPOINT)]
        if not all(isinstance(v, str) and not self.skip(v) for v in values):
            return
        job_name = props.get(JOB_NAME)
        job_length = len(job_name) if isinstance(job_name, str) and not self.skip(job_name) else DERIVED_NAME_MAX
        total = sum(len(str(v)) for v in values) + job_length
        if total > NAMES_TOTAL_MAX:
            self.fail(
                f"{CHANNEL_GROUP}+{CHANNEL}+{ORIGIN_ENDPOINT}+{JOB_NAME}",
                f"must together be at most {NAMES_TOTAL_MAX} characters so the job ARN fits CloudFormation's "
                f"4096-byte response, got {total}",
            )
