"""Incomplete multipart uploads: started, never completed nor aborted, still holding their parts.

A save that dies between CreateMultipartUpload and CompleteMultipartUpload (a killed worker, a
lost connection, an abort that could not reach the server) leaves an upload behind. It is no
object: no listing shows it and nothing can refer to it, but its parts take space until it is
aborted. ``manage.py clean_orphaned_minio_files --incomplete-uploads`` aborts them. The rules:

- **which buckets**: every bucket a ``FileField`` on one of this package's storages stores in,
  and the bucket of every configured storage (``STORAGES`` entries on this package's
  backends): the orphan pass's buckets (:mod:`~async_minio_storage.orphans`) and also the
  static bucket of a ``MinioStaticStorage``, which the orphan pass never touches. Including
  it is safe here: aborting an upload deletes no object, only the parts of a write that never
  finished, and a ``collectstatic`` interrupted mid-upload leaves such uploads there as any
  save does. A ``MINIO_STATIC_FILES_BUCKET`` that no storage writes to is not listed;
- an upload started more than ``min_age`` ago is **stale** and aborted; a newer one is **too
  new** and kept, because it may be a save still sending its parts;
- an upload whose start time is **unknown** (the server wrote it without a time zone, or not
  at all, so it cannot be placed) is kept, unless ``min_age`` is zero: then every upload goes
  whatever its age, saves in progress included;
- keys under a kept prefix (``--keep-prefix``) are left alone, as in the orphan pass;
- a failed listing aborts nothing in its bucket; a failed abort is reported and the others go
  on. An upload completed or aborted by its own save meanwhile counts as aborted (``wire``
  takes ``NoSuchUpload`` as done): it is gone either way.

Requests are sent by :mod:`~async_minio_storage.wire`, which retries them; nothing here does.
Buckets are handled concurrently on one loop, and at most
:data:`~async_minio_storage.orphans.DELETE_BATCHES_AT_ONCE` aborts are in flight in a whole
run, the bound the orphan pass puts on its deletes.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

from . import wire
from .client import Connection
from .client import get_connection
from .consistency import configured_storages
from .errors import MinioStorageError
from .orphans import DEFAULT_MIN_AGE
from .orphans import DELETE_BATCHES_AT_ONCE
from .orphans import BucketTarget
from .orphans import minio_file_fields
from .storage import MinioStorage
from .wire import IncompleteUpload

# --- what a stale upload is ------------------------------------------------------------------


class UploadVerdict(enum.Enum):
    STALE = "stale"
    TOO_NEW = "too new"
    UNKNOWN_AGE = "start time unknown"
    KEPT_BY_PREFIX = "kept by --keep-prefix"


def upload_verdict(
    upload: IncompleteUpload,
    cutoff: datetime,
    *,
    abort_unknown_age: bool,
    kept_prefixes: tuple[str, ...] = (),
) -> UploadVerdict:
    """What to do with one upload, given the age cutoff.

    ``abort_unknown_age`` (a run with no minimum age) makes an upload of unknown start time
    stale; otherwise nothing proves that it is not a save still under way.
    """
    if kept_prefixes and upload.key.startswith(kept_prefixes):
        return UploadVerdict.KEPT_BY_PREFIX
    if upload.initiated is None:
        return UploadVerdict.STALE if abort_unknown_age else UploadVerdict.UNKNOWN_AGE
    if upload.initiated > cutoff:
        return UploadVerdict.TOO_NEW
    return UploadVerdict.STALE


# --- where the uploads are -------------------------------------------------------------------


def find_upload_targets() -> list[BucketTarget]:
    """Every bucket whose incomplete uploads are cleaned, each once per server: those of the
    ``FileField`` storages and of the configured storages (the static storage's included)."""
    fields = list(minio_file_fields())
    targets: dict[tuple[str, str], BucketTarget] = {}

    def add(bucket: str, storage: MinioStorage) -> BucketTarget:
        return targets.setdefault(
            (storage.config.endpoint, bucket), BucketTarget(bucket, storage.config.connection)
        )

    for ref, storage in fields:
        add(storage.bucket_name, storage).fields.append(ref)
    for _, storage in configured_storages():
        add(storage.bucket_name, storage)
    return list(targets.values())


# --- the run ---------------------------------------------------------------------------------


@dataclass
class UploadsReport:
    """What happened in one bucket. ``errors`` non-empty means the bucket was not cleaned fully.

    ``stale`` are the uploads to abort (in a dry run, that would be aborted); ``failed`` those
    of them whose abort failed, each with its line in ``errors``.
    """

    bucket: str
    endpoint: str
    dry_run: bool
    found: int = 0
    stale: list[IncompleteUpload] = field(default_factory=list)
    kept: list[tuple[IncompleteUpload, UploadVerdict]] = field(default_factory=list)
    aborted: int = 0
    failed: list[IncompleteUpload] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def kept_as(self, outcome: UploadVerdict) -> int:
        return sum(1 for _, verdict in self.kept if verdict is outcome)


async def abort_upload(connection: Connection, bucket: str, upload: IncompleteUpload) -> str | None:
    """Abort one upload; the error line if that failed, else None."""
    try:
        await wire.abort_multipart_upload(connection, bucket, upload.key, upload.upload_id)
    except (MinioStorageError, FileNotFoundError) as error:
        return f"could not abort upload {upload.upload_id} of {upload.key!r}: {error}"
    return None


async def clean_bucket_uploads(
    target: BucketTarget,
    *,
    cutoff: datetime,
    abort_unknown_age: bool,
    dry_run: bool,
    abort_turns: asyncio.Semaphore,
    kept_prefixes: tuple[str, ...] = (),
) -> UploadsReport:
    """List one bucket's incomplete uploads and abort the stale ones (unless ``dry_run``)."""
    report = UploadsReport(target.bucket, target.endpoint, dry_run)
    connection = await get_connection(target.connection)
    try:
        uploads = await wire.list_incomplete_uploads(connection, target.bucket)
    except (MinioStorageError, FileNotFoundError) as error:
        report.errors.append(f"listing the incomplete uploads failed: {error}")
        return report
    report.found = len(uploads)
    for upload in uploads:
        outcome = upload_verdict(
            upload, cutoff, abort_unknown_age=abort_unknown_age, kept_prefixes=kept_prefixes
        )
        if outcome is UploadVerdict.STALE:
            report.stale.append(upload)
        else:
            report.kept.append((upload, outcome))
    if dry_run or not report.stale:
        return report

    # A few workers per bucket take the uploads in turn, each abort under the run's bound: no
    # task per upload, however many a bucket holds.
    pending = iter(report.stale)

    async def work() -> None:
        for upload in pending:
            async with abort_turns:
                error = await abort_upload(connection, target.bucket, upload)
            if error is None:
                report.aborted += 1
            else:
                report.failed.append(upload)
                report.errors.append(error)

    await asyncio.gather(*(work() for _ in range(min(DELETE_BATCHES_AT_ONCE, len(report.stale)))))
    return report


async def aclean_incomplete_uploads(
    targets: Sequence[BucketTarget],
    *,
    min_age: timedelta = DEFAULT_MIN_AGE,
    dry_run: bool = False,
    kept_prefixes: Sequence[str] = (),
    on_report: Callable[[UploadsReport], Any] | None = None,
) -> list[UploadsReport]:
    """Clean the incomplete uploads of every bucket of ``targets`` concurrently; one report
    per bucket, in order.

    The cutoff is taken once, before any listing, so an upload started during the run is
    always too new. ``on_report`` is called on the loop as each bucket finishes. A failure in
    one bucket is recorded in its report and does not stop the others.
    """
    cutoff = datetime.now(UTC) - min_age
    abort_unknown_age = min_age <= timedelta(0)
    abort_turns = asyncio.Semaphore(DELETE_BATCHES_AT_ONCE)

    async def clean(target: BucketTarget) -> UploadsReport:
        try:
            report = await clean_bucket_uploads(
                target,
                cutoff=cutoff,
                abort_unknown_age=abort_unknown_age,
                dry_run=dry_run,
                abort_turns=abort_turns,
                kept_prefixes=tuple(kept_prefixes),
            )
        except (MinioStorageError, FileNotFoundError) as error:
            report = UploadsReport(target.bucket, target.endpoint, dry_run, errors=[str(error)])
        if on_report is not None:
            on_report(report)
        return report

    return list(await asyncio.gather(*(clean(target) for target in targets)))
