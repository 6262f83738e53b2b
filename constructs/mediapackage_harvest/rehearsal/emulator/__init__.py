"""Wire-level MediaPackage emulators: unmodified boto3 reaches them through ``AWS_ENDPOINT_URL_<SERVICE>``.

There is no AWS account anywhere in this project, so the handler's MediaPackage behaviour is proven against
these HTTP servers instead. They speak rest-json exactly as the botocore models describe it: routes, members'
locations (URI, query string, headers, body), limits, timestamps and errors all come from the model, so what
boto3 parses here is what it would parse from the service. Time comes from the ``clock`` given to an emulator
(the rehearsal's virtual clock, or a test's fake).

The package is split by mechanism, so a further service model sits beside the others without a rewrite:

- :mod:`.protocol` — :class:`RestJsonApi`: routing by the model's ``http`` trait, decoding requests into
  member-name dicts, constraint checks, encoding outputs and errors. Knows nothing of harvest jobs.
- :mod:`.base` — :class:`ScriptedJobsEmulator`: what every harvest-job service shares here (the lock, the call
  log, scripted faults and throttling, status changes on the clock, paging), served over HTTP as a
  :class:`~mediapackage_harvest.rehearsal.local_server.LocalServer`.
- :mod:`.endpoints` — origin endpoints and buckets as MediaPackage sees them (from the rehearsal's
  :class:`~mediapackage_harvest.rehearsal.surroundings.Surroundings`): the endpoint reads, and the refusals of a
  create (endpoint, manifests, startover window, harvester grant) and of a write (the bucket policy).
- :mod:`.v2` — :class:`MediaPackageV2Emulator` (``mediapackagev2`` 2022-12-25): idempotency, names, statuses,
  cancel, quota, tags.
- :mod:`.v1` — :class:`MediaPackageV1Emulator` (``mediapackage`` 2017-10-12): IDs, IN_PROGRESS then SUCCEEDED
  or FAILED, no cancel, no delete.
"""

from mediapackage_harvest.rehearsal.emulator.base import MAX_WINDOW, Call, Clock, EventCallback, ScriptedJobsEmulator
from mediapackage_harvest.rehearsal.emulator.protocol import ApiDict, ApiError, RestJsonApi, Violation
from mediapackage_harvest.rehearsal.emulator.v1 import V1_OPERATIONS, V1_STATUSES, MediaPackageV1Emulator
from mediapackage_harvest.rehearsal.emulator.v2 import (
    ACTIVE,
    MANIFEST_KINDS,
    TAG_KEY_MAX,
    TAG_VALUE_MAX,
    TAGS_MAX,
    V2_OPERATIONS,
    MediaPackageV2Emulator,
)
from mediapackage_harvest.rehearsal.local_server import Response

__all__ = [
    "ACTIVE",
    "MANIFEST_KINDS",
    "MAX_WINDOW",
    "TAGS_MAX",
    "TAG_KEY_MAX",
    "TAG_VALUE_MAX",
    "V1_OPERATIONS",
    "V1_STATUSES",
    "V2_OPERATIONS",
    "ApiDict",
    "ApiError",
    "Call",
    "Clock",
    "EventCallback",
    "MediaPackageV1Emulator",
    "MediaPackageV2Emulator",
    "Response",
    "RestJsonApi",
    "ScriptedJobsEmulator",
    "Violation",
]
