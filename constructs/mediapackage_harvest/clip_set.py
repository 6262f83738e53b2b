"""``ClipSet``: many clips of one origin endpoint, declared as data, harvested at the channel group's quota.

Each clip is a :class:`~mediapackage_harvest.HarvestJob` whose construct id is the clip's name, so its
CloudFormation logical id depends on that name alone: adding a clip creates only its job, removing one deletes only
its resource (the harvested files stay), changing one harvests only it again, and the order of the rows never
matters (the jobs are declared in name order).

Every clip is checked before anything joins the tree, with ``HarvestJob``'s own rendering and rules
(``harvest_job.plan_properties``), and every broken rule is raised at once in one :class:`InvalidClipSet`, each
named by the file, row and column to fix (:mod:`mediapackage_harvest.clips`).

Scheduling (:mod:`mediapackage_harvest.lanes`): the clips of a stack's sets on one channel group fill
``max_active_jobs`` lanes, longest first onto the least-loaded lane, as the sets are declared. Each clip waits for
its job to complete, and its resource (and in long-wait mode its handle) DependsOn the completion of the clip
before it in its lane.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from aws_cdk import CfnOutput, Duration, Fn, Stack
from aws_cdk import aws_mediapackagev2 as mediapackagev2
from aws_cdk import aws_s3 as s3
from constructs import Construct, IDependable

from mediapackage_harvest import clips as clip_data
from mediapackage_harvest import lanes
from mediapackage_harvest.contract import spec
from mediapackage_harvest.errors import PROPS_BY_FIELD, InvalidClipSet, python_prop
from mediapackage_harvest.harvest_job import HarvestJob, plan_properties
from mediapackage_harvest.origin_endpoint import Endpoint, resolve_endpoint
from mediapackage_harvest.props import DEFAULT_TIMEOUT, combine, per_object
from mediapackage_harvest.provider import HarvestJobProvider

if TYPE_CHECKING:  # the alpha L2 module is an optional extra (`cdk-mediapackage-harvest[alpha]`)
    from aws_cdk.aws_mediapackagev2_alpha import IOriginEndpoint

# Props of the set that give every clip the same value (a rule they break is reported once, for the set).
SET_PROPS = ("channel_group_name", "channel_name", "origin_endpoint_name", "destination_bucket", "timeout")


@dataclass(frozen=True)
class HarvestedClip:
    """One clip of a :class:`ClipSet` as deployed: its job and where its files go.

    :param name: the clip's name.
    :param job: the clip's ``HarvestJob``.
    :param destination_path: the key prefix its files are written under.
    :param s3_prefix: ``s3://<bucket>/<destination_path>``, for the pipeline that picks the files up.
    """

    name: str
    job: HarvestJob
    destination_path: str
    s3_prefix: str

    @property
    def harvest_job_arn(self) -> str:
        """The job's ARN (a CloudFormation attribute)."""
        return self.job.harvest_job_arn

    @property
    def etag(self) -> str:
        """The job's ETag (a CloudFormation attribute)."""
        return self.job.etag

    @property
    def status(self) -> str:
        """The job's status: COMPLETED once the clip's resource is (a CloudFormation attribute)."""
        return self.job.status


class ClipSet(Construct):
    """A set of clips harvested from one origin endpoint: each clip a ``HarvestJob``, at most ``max_active_jobs``
    of the stack's jobs on the channel group running at once, one starting as soon as another ends.

    Clips come from Python data (``clips``) or a CSV or JSON file (``clips_file``, see
    :mod:`mediapackage_harvest.clips` for the format): per clip a name, a start and an end, and optionally its
    destination path, manifests, description and tags; the props below give the rest and the defaults. A clip's
    name is its identity: add, remove, change or reorder clips and only the clips added, removed or changed get
    requests. Every clip waits until its job has completed, then the next clip of its lane starts.

    Downstream: :attr:`clips` gives each clip's ARN, ETag and S3 prefix, and the stack output ``<id>Clips``
    (also :attr:`listing`) lists every clip's name, ARN, status and S3 prefix as JSON.

    :param clips: the clips as Python data: ``Clip`` objects or mappings with ``Clip``'s fields.
    :param clips_file: a ``.csv`` or ``.json`` file of clips (a path relative to the working directory of the
        synth, i.e. the app's folder for ``cdk synth``; ``Path(__file__).parent / "clips.csv"`` is safest).
        Give ``clips`` or ``clips_file``.
    :param origin_endpoint: the origin endpoint to harvest (a ``CfnOriginEndpoint`` or the alpha L2), as
        ``HarvestJob`` takes it; replaces the three names below.
    :param channel_group_name: the origin endpoint's channel group.
    :param channel_name: the origin endpoint's channel.
    :param origin_endpoint_name: the origin endpoint to harvest.
    :param destination_bucket: the bucket every clip is written to, as a bucket construct or a bucket name.
    :param destination_path: the key prefix of the set: a clip without its own path is written under
        ``<destination_path>/<clip name>/`` (default ``clips``).
    :param hls_manifests: HLS manifests to harvest for clips that name none.
    :param dash_manifests: DASH manifests to harvest for clips that name none.
    :param low_latency_hls_manifests: Low-Latency HLS manifests to harvest for clips that name none. A clip that
        names any manifest names all of its own.
    :param description: the description of clips that give none.
    :param tags: tags of every clip's job (a clip's own tags are added, and win).
    :param max_active_jobs: at most this many of the stack's clips on the channel group run at once: MediaPackage's
        quota of active harvest jobs per channel group (default 10, the service's default). Lower it when other
        stacks harvest the same channel group.
    :param timeout: how long each clip may take once it starts, as ``HarvestJob``'s (default 1 hour).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        clips: Sequence[clip_data.Clip | Mapping[str, Any]] | None = None,
        clips_file: str | os.PathLike[str] | None = None,
        origin_endpoint: mediapackagev2.CfnOriginEndpoint | IOriginEndpoint | None = None,
        channel_group_name: str | None = None,
        channel_name: str | None = None,
        origin_endpoint_name: str | None = None,
        destination_bucket: s3.IBucket | str,
        destination_path: str = "clips",
        hls_manifests: Sequence[str] | None = None,
        dash_manifests: Sequence[str] | None = None,
        low_latency_hls_manifests: Sequence[str] | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        max_active_jobs: int = spec.ACTIVE_JOBS_QUOTA,
        timeout: Duration = DEFAULT_TIMEOUT,
    ) -> None:
        rows, problems = clip_data.read_clips(clips, clips_file)
        endpoint, endpoint_violations = resolve_endpoint(
            origin_endpoint, (channel_group_name, channel_name, origin_endpoint_name)
        )
        names = endpoint.names if endpoint is not None else (channel_group_name, channel_name, origin_endpoint_name)
        defaults = _Defaults(
            names=names,
            endpoint=endpoint,
            endpoint_violations=endpoint_violations,
            destination_bucket=destination_bucket,
            destination_path=destination_path,
            manifests=(hls_manifests, dash_manifests, low_latency_hls_manifests),
            description=description,
            tags=tags,
            timeout=timeout,
        )
        group = str(names[0])
        problems += _set_problems(rows, clips_file, max_active_jobs, _Lanes.known(Stack.of(scope), group))
        problems += clip_data.name_problems(rows)
        bad_names = {row.index for row in rows if any(p.where == row.at("name") for p in problems)}
        planned = [_plan(row, defaults, row.index in bad_names) for row in rows]
        problems += _dedupe([problem for _, _, found in planned for problem in found])
        path = f"{scope.node.path}/{id}".lstrip("/")
        if problems:
            raise InvalidClipSet(path, sorted(problems, key=lambda p: p.order))

        super().__init__(scope, id)
        stack = Stack.of(self)
        bucket_name = destination_bucket if isinstance(destination_bucket, str) else _bucket_name(destination_bucket)
        if not isinstance(destination_bucket, str):  # the set's prefix once in the bucket policy, not every clip's
            HarvestJobProvider.of(self).allow_harvester_writes(destination_bucket, destination_path, *map(str, names))
        lanes_of_group = _Lanes.of(stack, group, max_active_jobs)
        harvested: dict[str, HarvestedClip] = {}
        for job_props, duration, _ in sorted(planned, key=lambda plan: (-plan[1], str(plan[0]["name"]))):
            name = str(job_props.pop("name"))
            job = _LaneJob(self, name, after=lanes_of_group.next(duration), **job_props)
            lanes_of_group.took(job)
            if endpoint is not None:
                endpoint.grant_harvester(job, *job._starting)
            destination = str(job_props["destination_path"])
            harvested[name] = HarvestedClip(name, job, destination, f"s3://{bucket_name}/{destination}")
        self.clips: dict[str, HarvestedClip] = dict(sorted(harvested.items()))
        """Each clip by name, in name order: its ``HarvestJob``, ARN, ETag, status and S3 prefix."""
        self.listing = _listing(self.clips.values(), bucket_name)
        """Every clip's name, ARN, status and S3 prefix as a JSON list, in name order (a deploy-time value)."""
        self.output = CfnOutput(
            self,
            "Clips",
            value=self.listing,
            description=f"cdk-mediapackage-harvest: the clips of {path} (name, arn, status, s3_prefix) as JSON",
        )
        """The stack output of :attr:`listing`."""


def _listing(clips: Iterable[HarvestedClip], bucket_name: str) -> str:
    """A JSON list of each clip's name, arn, status and s3_prefix, joined by CloudFormation (``Fn::Join``): the text
    between the attributes is written (and escaped) here, so synth has only the tokens to resolve."""
    parts: list[str] = []
    text = "["
    for index, clip in enumerate(clips):
        text += ("," if index else "") + '{"name":' + json.dumps(clip.name) + ',"arn":"'
        parts += [text, clip.harvest_job_arn, '","status":"', clip.status, '","s3_prefix":"s3://', bucket_name]
        text = "/" + json.dumps(clip.destination_path)[1:-1] + '"}'
    return Fn.join("", [*parts, text + "]"])


@dataclass(frozen=True)
class _Defaults:
    """What the set gives every clip."""

    names: tuple[object, object, object]
    endpoint: Endpoint | None
    endpoint_violations: list[spec.Violation]
    destination_bucket: object
    destination_path: object
    manifests: tuple[object, object, object]
    description: object
    tags: object
    timeout: object


def _set_problems(
    rows: Sequence[clip_data.Row], clips_file: object, max_active_jobs: object, lanes_before: int | None
) -> list[clip_data.Problem]:
    problems: list[clip_data.Problem] = []
    if isinstance(max_active_jobs, bool) or not isinstance(max_active_jobs, int) or max_active_jobs < 1:
        rule = f"must be a whole number of jobs, at least 1 (MediaPackage's default quota is {spec.ACTIVE_JOBS_QUOTA})"
        problems.append(clip_data.Problem("ClipSet", "max_active_jobs", f"{rule}, got {max_active_jobs!r}"))
    elif lanes_before is not None and lanes_before != max_active_jobs:
        rule = (
            f"must be {lanes_before}, as for the sets of this stack declared before on the same channel group: they "
            f"share its quota, so they share one max_active_jobs; got {max_active_jobs}"
        )
        problems.append(clip_data.Problem("ClipSet", "max_active_jobs", rule))
    if not rows:
        where = str(clips_file) if clips_file is not None else "ClipSet"
        problems.append(clip_data.Problem(where, "clips", "must list at least one clip"))
    return problems


def _plan(
    row: clip_data.Row, defaults: _Defaults, bad_name: bool
) -> tuple[dict[str, Any], float, list[clip_data.Problem]]:
    """The clip's ``HarvestJob`` props (plus its name), its window's length in seconds, and what is wrong, each
    problem at the place to fix it: the clip's row and column when the clip gives the value, else the set's prop."""
    values = row.values
    start, start_problem = clip_data.to_datetime(values.get("start_time"))
    end, end_problem = clip_data.to_datetime(values.get("end_time"))
    own = [
        spec.Violation(f"{spec.SCHEDULE}.{key}", problem)
        for key, problem in (("StartTime", start_problem), ("EndTime", end_problem))
        if problem
    ]
    given_manifests = any(column in values for column in clip_data.MANIFEST_COLUMNS)
    manifests = (
        tuple(values.get(column) for column in clip_data.MANIFEST_COLUMNS) if given_manifests else defaults.manifests
    )
    tags = {**_as_dict(defaults.tags), **_as_dict(values.get("tags"))} if defaults.tags or values.get("tags") else None
    path = values.get("destination_path") or f"{str(defaults.destination_path).rstrip('/')}/{row.name}/"
    job_props: dict[str, Any] = {
        "channel_group_name": defaults.names[0],
        "channel_name": defaults.names[1],
        "origin_endpoint_name": defaults.names[2],
        "start_time": start,
        "end_time": end,
        "destination_bucket": defaults.destination_bucket,
        "destination_path": path,
        "hls_manifests": manifests[0],
        "dash_manifests": manifests[1],
        "low_latency_hls_manifests": manifests[2],
        "description": values.get("description", defaults.description),
        "tags": tags,
        "timeout": defaults.timeout,
    }
    properties, found = plan_properties(
        endpoint=defaults.endpoint,
        endpoint_violations=defaults.endpoint_violations,
        manifests=manifests,
        harvest_job_name=None,
        wait_for_completion=True,
        **{k: v for k, v in job_props.items() if not k.endswith("manifests")},
    )
    problems = []
    for violation in combine(own, found):
        if bad_name and violation.field.startswith(spec.DESTINATION) and "destination_path" not in values:
            continue  # a path made of a bad name: the name's problem says it
        problems.append(_locate(row, violation, given_manifests))
    duration = (end - start).total_seconds() if isinstance(start, datetime) and isinstance(end, datetime) else 0.0
    return {"name": row.name, "planned": properties, **job_props}, duration, problems


def _locate(row: clip_data.Row, violation: spec.Violation, given_manifests: bool) -> clip_data.Problem:
    """Where a broken rule is fixed: the clip's cell when the clip gives the value, else the set's prop."""
    prop = python_prop(violation.field, PROPS_BY_FIELD)
    column = "end_time" if prop == "start_time / end_time" else prop.split("[", 1)[0]
    if prop.startswith("hls_manifests / "):
        column, given = "manifests", given_manifests
    elif column == "tags":
        key = prop[len("tags[") : -1]
        given = isinstance(row.values.get("tags"), Mapping) and _unquote(key) in row.values["tags"]  # type: ignore[operator]
    else:
        given = column in row.values and column not in SET_PROPS
    if not given:
        return clip_data.Problem("ClipSet", prop, violation.rule, violation.field)
    return row.problem(column, prop, violation.rule, violation.field)


def _dedupe(problems: Sequence[clip_data.Problem]) -> list[clip_data.Problem]:
    """A set prop breaks a rule once, however many clips take it."""
    return list(dict.fromkeys(problems))


def _as_dict(value: object) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _unquote(key: str) -> str:
    return key[1:-1] if len(key) >= 2 and key[0] == key[-1] and key[0] in "'\"" else key


@per_object
def _bucket_name(bucket: s3.IBucket) -> str:
    return bucket.bucket_name


class _LaneJob(HarvestJob):
    """A clip's ``HarvestJob``: its resource (and handle) also waits for the completion of the clip before it in its
    lane (in the one dependency call the job makes; DependsOn is no property: a new lane never updates the job), and a
    create refused for the quota (another stack holding the slots) is tried again as soon as one frees."""

    def __init__(
        self, scope: Construct, id: str, *, after: HarvestJob | None, planned: dict[str, Any], **props: Any
    ) -> None:
        self._after, self._planned = after, planned
        super().__init__(scope, id, **props)

    def _plan(self, **props: Any) -> tuple[dict[str, Any], list[spec.Violation]]:
        return dict(self._planned), []  # rendered and checked with the set, every clip at once

    def _starts_after(self) -> list[IDependable]:
        return [self._after._completion] if self._after is not None else []

    def _lifecycle_properties(self) -> dict[str, str]:
        return {spec.RETRY_WHEN_SLOT_FREES: "true"}  # the set's lanes keep those waiting for a slot few


class _Lanes:
    """The lanes of one stack's clips on one channel group (:class:`mediapackage_harvest.lanes.Lanes`), filled as
    its sets are declared, and the last clip of each lane (the one the next clip of the lane starts after)."""

    @classmethod
    def known(cls, stack: Stack, group: str) -> int | None:
        """How many lanes the stack's earlier sets on ``group`` made (None: this is the first)."""
        found = _LANES.get(stack, {}).get(group)
        return found.lanes.count if found else None

    @classmethod
    def of(cls, stack: Stack, group: str, count: int) -> _Lanes:
        found = _LANES.setdefault(stack, {}).get(group)
        if found is None:
            found = _LANES[stack][group] = cls(count)
        return found

    def __init__(self, count: int) -> None:
        self.lanes = lanes.Lanes(count)
        self._tails: list[HarvestJob | None] = [None] * self.lanes.count
        self._lane = 0

    def next(self, duration: float) -> HarvestJob | None:
        """Take the least-loaded lane for a clip of ``duration`` seconds; the clip it must start after, if any."""
        self._lane = self.lanes.place(duration)
        return self._tails[self._lane]

    def took(self, job: HarvestJob) -> None:
        """``job`` is now the last clip of the lane :meth:`next` took."""
        self._tails[self._lane] = job


# Each stack's lanes by channel group.
_LANES: WeakKeyDictionary[Stack, dict[str, _Lanes]] = WeakKeyDictionary()
