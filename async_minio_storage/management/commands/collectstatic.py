"""Django's ``collectstatic``, many times faster into a ``MinioStaticStorage``.

Same options, same output, same result: it is Django's command, with three steps replaced
when the static storage is ours (any other storage gets Django's command unchanged):

- "is this file unchanged?" compares the MD5 of the local file with the stored object's ETag,
  from one listing of the bucket, instead of two requests comparing modification times;
- copies are uploaded concurrently, ``--concurrency`` at a time (default 64, over a
  connection pool of that size), while the command goes on to the next file;
- ``--clear`` deletes with multi-object deletes, 1,000 keys per request.

See ``async_minio_storage.collecting`` for how, and why the manifest is written last. The
command takes over ``collectstatic`` when ``async_minio_storage`` comes before
``django.contrib.staticfiles`` in ``INSTALLED_APPS`` (check ``async_minio_storage.W002`` says
so otherwise).
"""

from __future__ import annotations

import time
from typing import Any

from django.contrib.staticfiles.management.commands import collectstatic
from django.core.files.storage import Storage
from django.core.management.base import CommandParser

from async_minio_storage.collecting import CONCURRENCY
from async_minio_storage.collecting import CollectBatch
from async_minio_storage.collecting import file_md5
from async_minio_storage.names import directory_prefix
from async_minio_storage.staticfiles import MinioStaticStorage


class Command(collectstatic.Command):
    help = collectstatic.Command.help + (
        " Into a MinioStaticStorage: one bucket listing, content hashes, concurrent uploads."
    )

    batch: CollectBatch | None = None

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--concurrency",
            type=int,
            default=None,
            help=f"Uploads in flight at once, into a MinioStaticStorage (default: {CONCURRENCY}).",
        )

    def set_options(self, **options: Any) -> None:
        super().set_options(**options)
        self.concurrency: int | None = options.get("concurrency")

    def collect(self) -> dict[str, list[str]]:
        storage = self.storage
        if not isinstance(storage, MinioStaticStorage):
            collected: dict[str, list[str]] = super().collect()
            return collected
        started = time.perf_counter()
        with storage.collecting(self.concurrency, self._report_progress) as batch:
            self.batch = batch
            self.log(
                f"Listed {len(batch.stored)} objects in bucket {storage.bucket_name!r}.", level=2
            )
            collected = super().collect()
            if batch.in_flight:
                self.log(f"Waiting for {batch.in_flight} uploads to finish...", level=1)
        self.batch = None
        stats = batch.stats
        if not self.dry_run:
            self.log(
                f"Uploaded {len(stats.uploaded)} objects ({stats.bytes_uploaded / 1e6:.1f} MB, "
                f"{batch.concurrency} at a time), skipped {len(stats.unchanged)} unchanged, "
                f"deleted {len(stats.deleted)}, in {time.perf_counter() - started:.1f} s.",
                level=1,
            )
        return collected

    def _report_progress(self, done: int, total: int) -> None:
        self.log(f"Uploaded {done} of {total}...", level=1)

    def delete_file(self, path: str, prefixed_path: str, source_storage: Storage) -> bool:
        """Whether to copy ``path``: not if the stored object has the same content."""
        batch = self.batch
        if batch is None:
            result: bool = super().delete_file(path, prefixed_path, source_storage)
            return result
        key = prefixed_path.replace("\\", "/")
        batch.remember_source(key, source_storage, path)
        if batch.exists(key):
            md5, size = file_md5(source_storage, path)
            if batch.holds(key, md5, size):
                if prefixed_path not in self.unmodified_files:
                    self.unmodified_files.append(prefixed_path)
                self.log(f"Skipping '{path}' (not modified)")
                return False
            # A changed file is overwritten by its upload: no delete request first.
            if self.dry_run:
                self.log(f"Pretending to delete '{path}'")
        return True

    def clear_dir(self, path: str) -> None:
        batch = self.batch
        if batch is None:
            super().clear_dir(path)
            return
        keys = batch.keys_under(directory_prefix(path))
        for key in keys:
            verb = "Pretending to delete" if self.dry_run else "Deleting"
            self.log(f"{verb} '{key}'", level=1)
        if not self.dry_run:
            batch.delete_now(keys)
