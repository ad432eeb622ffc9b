"""Orphaned objects: objects in a bucket that no model ``FileField`` refers to any more.

Django deletes a row without deleting its file, so a bucket collects objects nobody can reach.
``manage.py clean_orphaned_minio_files`` finds and deletes them. The rule, per bucket:

- an object is **referenced** when a row of some model holds its key in a ``FileField`` (or
  ``ImageField``) whose storage is a :class:`~async_minio_storage.MinioStorage` on this bucket
  of this server. Keys are compared per bucket and server, never across buckets;
- a key ending in ``/`` is a **directory marker**, not a file: it is left alone;
- a key under a prefix the run was told to keep (``--keep-prefix``) is left alone: files a
  bucket holds outside any model (exports, backups) are not the command's to judge;
- an unreferenced object modified less than ``min_age`` ago is **too new** and kept: an upload
  whose row is not written yet (a browser upload awaiting confirmation, a save in a
  transaction that has not committed) looks exactly like an orphan;
- every other object is an **orphan**.

Losing a referenced object is the one mistake that cannot be undone, so:

- the static bucket (``MINIO_STATIC_FILES_BUCKET``, and the bucket of any static storage) is
  never cleaned, even when a ``FileField`` points at it: its files have no rows;
- the rows are read again *after* the bucket has been listed, so a row written while the
  listing ran is seen; the read before the listing only keeps memory small (objects referenced
  then are counted and forgotten as they stream past; only the unreferenced ones are kept);
- rows are read through each model's base manager, so a default manager that hides rows
  (soft deletion, say) cannot hide their files, and from the database they are written to,
  not from a replica that may lag;
- a failed listing deletes nothing in its bucket, and every failure is reported: nothing is
  swallowed.

Which buckets are cleaned, and what their rows refer to, is found in
:mod:`~async_minio_storage.orphan_targets`; its names are importable from here too.

Incomplete multipart uploads are not objects and are not judged here: the command's
``--incomplete-uploads`` pass is in :mod:`~async_minio_storage.uploads_cleanup`.

Which loop: :func:`aclean_orphans` runs on one event loop (the command runs it with
:func:`~async_minio_storage.sync_edge.run_on_own_loop`). Buckets are handled concurrently on
it, through that loop's clients and request slots, so ``MINIO_MAX_CONNECTIONS`` holds. Rows are
read with Django's async ORM, which runs the queries in its own database thread.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncIterator
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

from .bulk import batches
from .bulk import delete_batch
from .bulk import list_objects
from .client import Connection
from .client import get_connection
from .errors import MinioStorageError
from .orphan_targets import BucketTarget
from .orphan_targets import FileFieldRef
from .orphan_targets import SkippedBucket
from .orphan_targets import find_targets
from .orphan_targets import minio_file_fields
from .orphan_targets import read_references
from .orphan_targets import reference_key
from .orphan_targets import static_buckets
from .wire import ObjectRecord
from .wire import is_directory_marker

DEFAULT_MIN_AGE = timedelta(hours=1)
# Delete requests in flight at once in a whole run, below the loop's request slots, so that
# the listings of other buckets still get a turn.
DELETE_BATCHES_AT_ONCE = 4
PROGRESS_EVERY = 10_000  # keys listed between two progress lines

# The names of orphan_targets are re-exported: the command and uploads_cleanup import them here.
__all__ = [
    "DEFAULT_MIN_AGE",
    "DELETE_BATCHES_AT_ONCE",
    "PROGRESS_EVERY",
    "BucketReport",
    "BucketTarget",
    "FileFieldRef",
    "Inventory",
    "Judgement",
    "SkippedBucket",
    "Verdict",
    "aclean_orphans",
    "clean_bucket",
    "delete_orphans",
    "find_targets",
    "list_bucket",
    "minio_file_fields",
    "read_references",
    "reference_key",
    "static_buckets",
    "verdict",
]

# --- what an orphan is ---------------------------------------------------------------------


class Verdict(enum.Enum):
    REFERENCED = "referenced"
    DIRECTORY_MARKER = "directory marker"
    TOO_NEW = "too new"
    ORPHAN = "orphan"


def verdict(stored: ObjectRecord, references: Mapping[str, str], cutoff: datetime) -> Verdict:
    """What to do with one object, given the bucket's references and the age cutoff.

    An object of unknown age counts as too new: without its time there is no proof that its
    row had time to be written.
    """
    if is_directory_marker(stored.key):
        return Verdict.DIRECTORY_MARKER
    if stored.key in references:
        return Verdict.REFERENCED
    if stored.last_modified is None or stored.last_modified > cutoff:
        return Verdict.TOO_NEW
    return Verdict.ORPHAN


@dataclass(frozen=True)
class Judgement:
    """The outcome for one bucket once its listing is complete and its rows read again."""

    referenced: int
    too_new: int
    orphans: list[ObjectRecord]
    missing: list[tuple[str, str]]  # (key, the field that refers to it), for --check-missing


@dataclass
class Inventory:
    """One bucket's listing, kept small while it streams past.

    ``references_before`` are the rows read before the listing. An object they reference is
    counted and forgotten; any other object is kept, because only the rows read after the
    listing decide whether it is an orphan (:meth:`judge`). Memory therefore holds the
    references and the unreferenced objects, never the whole bucket. Keys under
    ``kept_prefixes`` are set aside, never judged.
    """

    references_before: Mapping[str, str]
    kept_prefixes: tuple[str, ...] = ()
    listed: int = 0
    directory_markers: int = 0
    seen_referenced: set[str] = field(default_factory=set)
    kept: set[str] = field(default_factory=set)
    unreferenced: list[ObjectRecord] = field(default_factory=list)

    def add(self, stored: ObjectRecord) -> None:
        self.listed += 1
        if is_directory_marker(stored.key):
            self.directory_markers += 1
        elif stored.key in self.references_before:
            self.seen_referenced.add(stored.key)
        elif self.kept_prefixes and stored.key.startswith(self.kept_prefixes):
            self.kept.add(stored.key)
        else:
            self.unreferenced.append(stored)

    def judge(self, references_after: Mapping[str, str], cutoff: datetime) -> Judgement:
        """Sort the kept objects with the rows as they are after the listing.

        An object referenced before or after the listing is kept. A reference is missing when
        the listing did not contain its key.
        """
        too_new = 0
        referenced = len(self.seen_referenced)
        orphans: list[ObjectRecord] = []
        for stored in self.unreferenced:
            outcome = verdict(stored, references_after, cutoff)
            if outcome is Verdict.REFERENCED:
                referenced += 1
            elif outcome is Verdict.TOO_NEW:
                too_new += 1
            elif outcome is Verdict.ORPHAN:
                orphans.append(stored)
        listed_unreferenced = {stored.key for stored in self.unreferenced}
        missing = sorted(
            (key, where)
            for key, where in references_after.items()
            if key not in self.seen_referenced
            and key not in listed_unreferenced
            and key not in self.kept
        )
        return Judgement(referenced, too_new, orphans, missing)


# --- the run ------------------------------------------------------------------------------


@dataclass
class BucketReport:
    """What happened in one bucket. ``errors`` non-empty means the bucket was not cleaned fully."""

    bucket: str
    endpoint: str
    dry_run: bool
    listed: int = 0
    directory_markers: int = 0
    kept_by_prefix: int = 0
    referenced: int = 0
    too_new: int = 0
    orphans: list[ObjectRecord] = field(default_factory=list)
    deleted: int = 0
    bytes_freed: int = 0
    missing: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def orphan_bytes(self) -> int:
        return sum(stored.size for stored in self.orphans)


async def list_bucket(connection: Connection, bucket: str) -> AsyncIterator[ObjectRecord]:
    """Every object of ``bucket``, streamed a page (1,000 keys) at a time."""
    async for listed in list_objects(connection, bucket):
        yield listed


async def delete_orphans(
    connection: Connection, bucket: str, batch: Sequence[ObjectRecord]
) -> tuple[int, int, list[str]]:
    """Delete up to 1,000 objects with one request: ``(deleted, bytes freed, errors)``.

    Each refused key is an error, and the rest were deleted. A refusal naming no key refused
    the whole request, so then nothing counts as deleted.
    """
    refusals = await delete_batch(connection, bucket, [stored.key for stored in batch])
    if any(not error.key for error in refusals):
        whole = "; ".join(f"{error.code}: {error.message}" for error in refusals)
        return 0, 0, [f"a delete request for {len(batch)} objects was refused: {whole}"]
    refused = {error.key for error in refusals}
    deleted = [stored for stored in batch if stored.key not in refused]
    errors = [
        f"could not delete {error.key!r}: {error.code}: {error.message}" for error in refusals
    ]
    return len(deleted), sum(stored.size for stored in deleted), errors


async def clean_bucket(
    target: BucketTarget,
    *,
    cutoff: datetime,
    dry_run: bool,
    delete_turns: asyncio.Semaphore,
    kept_prefixes: tuple[str, ...] = (),
    on_listed: Callable[[BucketTarget, int], Any] | None = None,
) -> BucketReport:
    """List one bucket, read its rows again, and delete its orphans (unless ``dry_run``)."""
    report = BucketReport(target.bucket, target.endpoint, dry_run)
    connection = await get_connection(target.connection)
    references_before = await read_references(target.fields)
    inventory = Inventory(references_before, kept_prefixes)
    try:
        async for stored in list_bucket(connection, target.bucket):
            inventory.add(stored)
            if on_listed is not None and inventory.listed % PROGRESS_EVERY == 0:
                on_listed(target, inventory.listed)
    except (MinioStorageError, FileNotFoundError) as error:
        report.listed = inventory.listed
        report.errors.append(f"listing failed after {inventory.listed} objects: {error}")
        return report
    judgement = inventory.judge(await read_references(target.fields), cutoff)
    report.listed = inventory.listed
    report.directory_markers = inventory.directory_markers
    report.kept_by_prefix = len(inventory.kept)
    report.referenced = judgement.referenced
    report.too_new = judgement.too_new
    report.orphans = judgement.orphans
    report.missing = judgement.missing
    if dry_run or not judgement.orphans:
        return report

    async def delete_in_turn(batch: Sequence[ObjectRecord]) -> tuple[int, int, list[str]]:
        async with delete_turns:
            try:
                return await delete_orphans(connection, target.bucket, batch)
            except (MinioStorageError, FileNotFoundError) as error:
                # Reported, and the other batches go on: what they delete is still an orphan.
                return 0, 0, [f"a delete request for {len(batch)} objects failed: {error}"]

    for deleted, freed, errors in await asyncio.gather(
        *(delete_in_turn(batch) for batch in batches(judgement.orphans))
    ):
        report.deleted += deleted
        report.bytes_freed += freed
        report.errors.extend(errors)
    return report


async def aclean_orphans(
    targets: Sequence[BucketTarget],
    *,
    min_age: timedelta = DEFAULT_MIN_AGE,
    dry_run: bool = False,
    kept_prefixes: Sequence[str] = (),
    on_report: Callable[[BucketReport], Any] | None = None,
    on_listed: Callable[[BucketTarget, int], Any] | None = None,
) -> list[BucketReport]:
    """Clean every bucket of ``targets`` concurrently; one report per bucket, in order.

    The age cutoff is taken once, before any listing, so an object written during the run is
    always too new. Keys starting with one of ``kept_prefixes`` are never deleted. For
    progress, ``on_listed(target, count)`` is called every 10,000 keys a listing goes through
    and ``on_report`` as each bucket finishes, both on the loop. A failure in one bucket is
    recorded in its report and does not stop the others.
    """
    cutoff = datetime.now(UTC) - min_age
    delete_turns = asyncio.Semaphore(DELETE_BATCHES_AT_ONCE)

    async def clean(target: BucketTarget) -> BucketReport:
        try:
            report = await clean_bucket(
                target,
                cutoff=cutoff,
                dry_run=dry_run,
                delete_turns=delete_turns,
                kept_prefixes=tuple(kept_prefixes),
                on_listed=on_listed,
            )
        except (MinioStorageError, FileNotFoundError) as error:
            report = BucketReport(target.bucket, target.endpoint, dry_run, errors=[str(error)])
        if on_report is not None:
            on_report(report)
        return report

    return list(await asyncio.gather(*(clean(target) for target in targets)))
