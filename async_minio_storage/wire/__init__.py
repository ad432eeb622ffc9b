"""Every request this package sends to the object store, and the only place that retries one.

Everything above this module (the storage, its files, ``collectstatic``, orphan cleaning, the
health probe, the views) calls one of the coroutines below and never retries, times out or
parses a server's answer by itself. Here, and only here, live:

- **the retry policy**, ``policy.RETRY_POLICY``: for each kind of request, which failures are
  tried again and why that is safe. Attempts are ``MINIO_RETRY_ATTEMPTS``, with exponential
  backoff from ``policy.FIRST_BACKOFF``. A request that timed out is not tried again: the server
  is slow, and a second wait would double the caller's.
- **the deadline**: one per operation (one call of a coroutine here), across all its attempts
  and the waits between them: ``MINIO_OPERATION_TIMEOUT``. Inside it, each attempt is bounded
  by ``MINIO_CONNECT_TIMEOUT`` to connect and ``MINIO_READ_TIMEOUT`` for each read, and a
  request body that makes no progress for ``MINIO_READ_TIMEOUT`` fails the attempt
  (``bodies.ProgressBound``): aiohttp's read timeout starts only once a body is written, so a
  server that stops reading would otherwise hold a save for as long as it likes.
- **the mapping of answers to exceptions** (``policy.translate``): 404 is ``FileNotFoundError``,
  a 5xx that outlived its retries and every transport failure :class:`StorageUnavailable`,
  other refusals :class:`StorageRequestError`.
- **one record of what the server says about an object**: ``records.ObjectRecord``.
- **writes that happen once.** Every save carries a token (``records.SAVE_TOKEN_HEADER``). A
  conditional write (``If-None-Match: *``) that was sent more than once (its answer was lost)
  may meet its own first attempt and be refused with 412; a repeated CompleteMultipartUpload
  meets ``NoSuchUpload``. Either way the key is read back: if it holds our token the first
  attempt succeeded, and the write is done.

Loops and threads: every coroutine runs on the caller's loop, with that loop's
:class:`~async_minio_storage.client.Connection` (its client, session and request slots). Each
attempt holds one request slot, from before it is signed until its answer's headers arrive.

The modules: :mod:`.policy` (the retry table, the deadline, answers to exceptions),
:mod:`.records` (what the server says, parsed), :mod:`.bodies` (request bodies and their
progress bound), :mod:`.objects`, :mod:`.multipart` and :mod:`.buckets` (the requests), and
:mod:`.miniopy`, the one module that touches miniopy-async's private members, listed there
with the reason for each.
"""

from __future__ import annotations

from .bodies import RequestBody
from .buckets import bucket_exists
from .buckets import get_bucket_policy
from .buckets import make_bucket
from .buckets import probe_status
from .buckets import set_bucket_policy
from .miniopy import HASH_ON_LOOP_LIMIT
from .miniopy import Client
from .miniopy import status_of
from .multipart import ABORT_PERSISTENCE
from .multipart import abort_in_background
from .multipart import abort_multipart_upload
from .multipart import complete_multipart_upload
from .multipart import create_multipart_upload
from .multipart import list_incomplete_uploads
from .multipart import upload_part
from .objects import DELETE_BATCH
from .objects import PAGE_SIZE
from .objects import delete_object
from .objects import delete_objects
from .objects import get_object
from .objects import list_objects_page
from .objects import new_save_token
from .objects import put_object
from .objects import read_body
from .objects import stat_object
from .policy import FIRST_BACKOFF
from .policy import RETRY_POLICY
from .policy import Request
from .policy import Retry
from .policy import backoff
from .records import SAVE_TOKEN_HEADER
from .records import DeleteRefusal
from .records import IncompleteUpload
from .records import ListingPage
from .records import ObjectRecord
from .records import is_directory_marker
from .records import parse_listing
from .records import record_from_headers

__all__ = [
    "ABORT_PERSISTENCE",
    "DELETE_BATCH",
    "FIRST_BACKOFF",
    "HASH_ON_LOOP_LIMIT",
    "PAGE_SIZE",
    "RETRY_POLICY",
    "SAVE_TOKEN_HEADER",
    "Client",
    "DeleteRefusal",
    "IncompleteUpload",
    "ListingPage",
    "ObjectRecord",
    "Request",
    "RequestBody",
    "Retry",
    "abort_in_background",
    "abort_multipart_upload",
    "backoff",
    "bucket_exists",
    "complete_multipart_upload",
    "create_multipart_upload",
    "delete_object",
    "delete_objects",
    "get_bucket_policy",
    "get_object",
    "is_directory_marker",
    "list_incomplete_uploads",
    "list_objects_page",
    "make_bucket",
    "new_save_token",
    "parse_listing",
    "probe_status",
    "put_object",
    "read_body",
    "record_from_headers",
    "set_bucket_policy",
    "stat_object",
    "status_of",
    "upload_part",
]
