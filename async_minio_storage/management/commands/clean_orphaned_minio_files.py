"""``manage.py clean_orphaned_minio_files``: delete objects that no model ``FileField`` refers to.

The rules (what counts as an orphan, what is never touched) are in
:mod:`async_minio_storage.orphans`; this module parses the options and prints.

With ``--incomplete-uploads`` the command runs another pass instead, and only that one: it
aborts the incomplete multipart uploads older than ``--min-age``, so that it can be scheduled
apart from the orphan pass. Its rules are in :mod:`async_minio_storage.uploads_cleanup`. It
covers the buckets of the configured storages too, the static storage's included, which the
orphan pass never touches: an incomplete upload is no object, and nothing refers to it. An
upload whose start time the server does not give is kept unless ``--min-age`` is 0, and
counted in the output as "kept: start time unknown".
"""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import datetime
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.core.management.base import CommandError
from django.core.management.base import CommandParser
from django.template.defaultfilters import filesizeformat

from async_minio_storage.orphans import DEFAULT_MIN_AGE
from async_minio_storage.orphans import BucketReport
from async_minio_storage.orphans import BucketTarget
from async_minio_storage.orphans import aclean_orphans
from async_minio_storage.orphans import find_targets
from async_minio_storage.sync_edge import run_on_own_loop
from async_minio_storage.uploads_cleanup import UploadsReport
from async_minio_storage.uploads_cleanup import UploadVerdict
from async_minio_storage.uploads_cleanup import aclean_incomplete_uploads
from async_minio_storage.uploads_cleanup import find_upload_targets


def seconds(text: str) -> timedelta:
    """``--min-age``: a number of seconds, zero or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0:  # also refuses NaN
        raise argparse.ArgumentTypeError(f"{text!r} is not zero or more seconds")
    return timedelta(seconds=value)


def bucket_labels(targets: list[BucketTarget]) -> dict[tuple[str, str], str]:
    """How each bucket is named in the output: by name, and with its server when two servers
    have a bucket of that name."""
    servers_per_name = Counter(target.bucket for target in targets)
    return {
        (target.endpoint, target.bucket): (
            target.bucket
            if servers_per_name[target.bucket] == 1
            else f"{target.endpoint}/{target.bucket}"
        )
        for target in targets
    }


def size(byte_count: int) -> str:
    return str(filesizeformat(byte_count)).replace("\xa0", " ")


# How a kept upload is listed with -v 2.
KEPT_BECAUSE = {
    UploadVerdict.TOO_NEW: "kept, too new",
    UploadVerdict.UNKNOWN_AGE: "kept, start time unknown",
    UploadVerdict.KEPT_BY_PREFIX: "kept by --keep-prefix",
}


def started(upload_time: datetime | None) -> str:
    return f"started {upload_time.isoformat()}" if upload_time else "start time unknown"


class Command(BaseCommand):
    help = (
        "Delete the objects that no row refers to, in every bucket that a model FileField or "
        "ImageField on a MinioStorage stores in. Buckets are listed concurrently and orphans "
        "deleted in batches of 1000. The static bucket is never touched, and objects newer "
        "than --min-age are kept. With --incomplete-uploads, instead (and only that), abort "
        "the incomplete multipart uploads older than --min-age. Exits with 1 if a bucket "
        "could not be listed or cleaned."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Report what would be deleted (or aborted), and delete nothing.",
        )
        parser.add_argument(
            "--check-missing",
            action="store_true",
            help="Also report rows whose object is missing from the bucket.",
        )
        parser.add_argument(
            "--min-age",
            type=seconds,
            default=DEFAULT_MIN_AGE,
            metavar="SECONDS",
            help=(
                "Keep unreferenced objects modified less than this long ago, because an "
                "upload's row may not be written yet; with --incomplete-uploads, uploads "
                "started less than this long ago, which may still be sending their parts "
                f"(default: {int(DEFAULT_MIN_AGE.total_seconds())})."
            ),
        )
        parser.add_argument(
            "--keep-prefix",
            action="append",
            default=[],
            metavar="PREFIX",
            help=(
                "Never delete keys (nor abort uploads of keys) starting with PREFIX, in any "
                "bucket (repeatable): files the buckets hold outside any model, such as exports/."
            ),
        )
        parser.add_argument(
            "--bucket",
            action="append",
            default=[],
            metavar="NAME",
            help="Clean only this bucket (repeatable).",
        )
        parser.add_argument(
            "--incomplete-uploads",
            action="store_true",
            help=(
                "Instead of deleting orphaned objects, abort the incomplete multipart uploads "
                "started more than --min-age ago, and do only that (to schedule it on its own). "
                "Covers the buckets of FileFields and of the configured storages, the static "
                "one included: aborting an upload deletes no file. Uploads whose start time the "
                "server does not say are kept, unless --min-age is 0."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity: int = options["verbosity"]
        self.check_missing: bool = options["check_missing"]
        self.min_age: timedelta = options["min_age"]  # for the report lines
        if options["incomplete_uploads"]:
            self.handle_incomplete_uploads(options)
            return
        targets, skipped = find_targets()
        for skip in skipped:
            self.stderr.write(
                self.style.WARNING(
                    f"Skipping bucket {skip.bucket} of {skip.field_label}: {skip.reason}."
                )
            )
        wanted = set(options["bucket"])
        if wanted:
            known = {target.bucket for target in targets} | {skip.bucket for skip in skipped}
            unknown = sorted(wanted - known)
            if unknown:
                raise CommandError(
                    f"No FileField stores in bucket(s) {', '.join(unknown)}; the buckets in "
                    f"use are: {', '.join(sorted(known)) or 'none'}."
                )
            targets = [target for target in targets if target.bucket in wanted]
        if not targets:
            if self.verbosity >= 1:
                why = (
                    "the buckets in question hold static files"
                    if skipped
                    else "no FileField stores in a MinioStorage"
                )
                self.stdout.write(f"No bucket to clean: {why}.")
            return

        kept_prefixes = self.kept_prefixes(options)
        self.labels = bucket_labels(targets)
        reports = run_on_own_loop(
            aclean_orphans(
                targets,
                min_age=self.min_age,
                dry_run=options["dry_run"],
                kept_prefixes=kept_prefixes,
                on_report=self.print_report,
                on_listed=self.print_listing_progress,
            )
        )
        self.print_summary(reports, options["dry_run"])

    @staticmethod
    def kept_prefixes(options: dict[str, Any]) -> list[str]:
        kept_prefixes = [prefix.lstrip("/") for prefix in options["keep_prefix"]]
        if not all(kept_prefixes):
            raise CommandError("--keep-prefix needs a prefix: an empty one would keep everything.")
        return kept_prefixes

    def handle_incomplete_uploads(self, options: dict[str, Any]) -> None:
        """The upload pass, alone: abort the stale incomplete uploads of every bucket."""
        if self.check_missing:
            raise CommandError("--check-missing has no meaning with --incomplete-uploads.")
        kept_prefixes = self.kept_prefixes(options)
        targets = find_upload_targets()
        wanted = set(options["bucket"])
        if wanted:
            known = {target.bucket for target in targets}
            unknown = sorted(wanted - known)
            if unknown:
                raise CommandError(
                    f"No FileField or configured storage uses bucket(s) {', '.join(unknown)}; "
                    f"the buckets in use are: {', '.join(sorted(known)) or 'none'}."
                )
            targets = [target for target in targets if target.bucket in wanted]
        self.labels = bucket_labels(targets)
        reports = run_on_own_loop(
            aclean_incomplete_uploads(
                targets,
                min_age=self.min_age,
                dry_run=options["dry_run"],
                kept_prefixes=kept_prefixes,
                on_report=self.print_uploads_report,
            )
        )
        self.print_uploads_summary(reports, options["dry_run"])

    def print_uploads_report(self, report: UploadsReport) -> None:
        """One bucket's line of the upload pass, as soon as it is done (on the run's loop)."""
        label = self.labels[report.endpoint, report.bucket]
        for error in report.errors:
            self.stderr.write(self.style.ERROR(f"{label}: {error}"))
        if self.verbosity >= 1:
            outcome = (
                f"{len(report.stale)} would be aborted"
                if report.dry_run
                else f"{report.aborted} aborted"
            )
            by_prefix = report.kept_as(UploadVerdict.KEPT_BY_PREFIX)
            prefix = f", {by_prefix} kept by --keep-prefix" if by_prefix else ""
            self.stdout.write(
                f"{label}: {report.found} incomplete uploads found; {outcome}, "
                f"{report.kept_as(UploadVerdict.TOO_NEW)} kept as newer than "
                f"{self.min_age.total_seconds():g} s, "
                f"{report.kept_as(UploadVerdict.UNKNOWN_AGE)} kept: start time unknown{prefix}, "
                f"{len(report.errors)} error(s)."
            )
        if self.verbosity >= 2:
            failed = {upload.upload_id for upload in report.failed}
            for upload in report.stale:
                if report.dry_run:
                    status = "would abort"
                else:
                    status = "not aborted" if upload.upload_id in failed else "aborted"
                self.stdout.write(
                    f"  {status}: {upload.key} (upload {upload.upload_id}, "
                    f"{started(upload.initiated)})"
                )
            for upload, verdict in report.kept:
                self.stdout.write(
                    f"  {KEPT_BECAUSE[verdict]}: {upload.key} (upload {upload.upload_id}, "
                    f"{started(upload.initiated)})"
                )

    def print_uploads_summary(self, reports: list[UploadsReport], dry_run: bool) -> None:
        found = sum(report.found for report in reports)
        stale = sum(len(report.stale) for report in reports)
        if self.verbosity >= 1:
            if dry_run:
                self.stdout.write(
                    self.style.SUCCESS(
                        f"Would abort {stale} of {found} incomplete uploads in {len(reports)} "
                        "bucket(s); nothing was aborted (--dry-run)."
                    )
                )
            else:
                aborted = sum(report.aborted for report in reports)
                self.stdout.write(
                    self.style.SUCCESS(
                        f"Aborted {aborted} of {found} incomplete uploads in {len(reports)} "
                        "bucket(s)."
                    )
                )
            unknown = sum(report.kept_as(UploadVerdict.UNKNOWN_AGE) for report in reports)
            if unknown:
                self.stdout.write(
                    self.style.WARNING(
                        f"{unknown} incomplete upload(s) kept: start time unknown (the server "
                        "wrote it without a time zone, so it cannot be compared with --min-age). "
                        "--min-age 0 aborts them, and any upload still in progress."
                    )
                )
        self.raise_for_failures(reports)

    def raise_for_failures(self, reports: list[BucketReport] | list[UploadsReport]) -> None:
        """Exit with 1, naming the buckets, when any bucket has errors."""
        failed = [
            (report.endpoint, report.bucket, report.errors) for report in reports if report.errors
        ]
        if failed:
            names = ", ".join(self.labels[endpoint, bucket] for endpoint, bucket, _ in failed)
            raise CommandError(
                f"Could not clean {len(failed)} bucket(s) ({names}): {failed[0][2][0]}"
            )

    def print_listing_progress(self, target: BucketTarget, listed: int) -> None:
        if self.verbosity >= 1:
            label = self.labels[target.endpoint, target.bucket]
            self.stdout.write(f"{label}: {listed:,} objects listed...")

    def print_report(self, report: BucketReport) -> None:
        """One bucket's line, as soon as it is done (called on the run's loop thread)."""
        label = self.labels[report.endpoint, report.bucket]
        for error in report.errors:
            self.stderr.write(self.style.ERROR(f"{label}: {error}"))
        if self.verbosity >= 1:
            if report.dry_run:
                outcome = f"{len(report.orphans)} would be deleted ({size(report.orphan_bytes)})"
            else:
                outcome = f"{report.deleted} deleted ({size(report.bytes_freed)} freed)"
            markers = (
                f", {report.directory_markers} directory markers left"
                if report.directory_markers
                else ""
            )
            if report.kept_by_prefix:
                markers += f", {report.kept_by_prefix} kept by --keep-prefix"
            self.stdout.write(
                f"{label}: {report.listed} objects listed, {report.referenced} referenced, "
                f"{len(report.orphans)} orphaned, {report.too_new} kept as newer than "
                f"{self.min_age.total_seconds():g} s{markers}; {outcome}."
            )
        if self.verbosity >= 2:
            for stored in report.orphans:
                self.stdout.write(f"  orphan: {stored.key} ({size(stored.size)})")
        if self.check_missing:
            for key, field_label in report.missing:
                self.stdout.write(
                    self.style.WARNING(f"  missing: {key} (referred to by {field_label})")
                )

    def print_summary(self, reports: list[BucketReport], dry_run: bool) -> None:
        orphans = sum(len(report.orphans) for report in reports)
        if self.verbosity >= 1:
            if dry_run:
                freed = size(sum(report.orphan_bytes for report in reports))
                self.stdout.write(
                    self.style.SUCCESS(
                        f"Would delete {orphans} orphaned objects ({freed}) in "
                        f"{len(reports)} bucket(s); nothing was deleted (--dry-run)."
                    )
                )
            else:
                deleted = sum(report.deleted for report in reports)
                freed = size(sum(report.bytes_freed for report in reports))
                self.stdout.write(
                    self.style.SUCCESS(
                        f"Deleted {deleted} of {orphans} orphaned objects ({freed} freed) in "
                        f"{len(reports)} bucket(s)."
                    )
                )
            if self.check_missing:
                missing = sum(len(report.missing) for report in reports)
                style = self.style.WARNING if missing else self.style.SUCCESS
                self.stdout.write(style(f"{missing} referenced object(s) missing."))
        self.raise_for_failures(reports)
