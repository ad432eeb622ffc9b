"""``manage.py clean_orphaned_minio_files``: delete objects that no model ``FileField`` refers to.

The rules (what counts as an orphan, what is never touched) are in
:mod:`async_minio_storage.orphans`; this module parses the options and prints.
"""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.core.management.base import CommandError
from django.core.management.base import CommandParser
from django.template.defaultfilters import filesizeformat

from async_minio_storage.consistency import run_on_own_loop
from async_minio_storage.orphans import DEFAULT_MIN_AGE
from async_minio_storage.orphans import BucketReport
from async_minio_storage.orphans import BucketTarget
from async_minio_storage.orphans import aclean_orphans
from async_minio_storage.orphans import find_targets


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


class Command(BaseCommand):
    help = (
        "Delete the objects that no row refers to, in every bucket that a model FileField or "
        "ImageField on a MinioStorage stores in. Buckets are listed concurrently and orphans "
        "deleted in batches of 1000. The static bucket is never touched, and objects newer "
        "than --min-age are kept. Exits with 1 if a bucket could not be listed or cleaned."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Report what would be deleted, and delete nothing.",
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
                "upload's row may not be written yet (default: "
                f"{int(DEFAULT_MIN_AGE.total_seconds())})."
            ),
        )
        parser.add_argument(
            "--keep-prefix",
            action="append",
            default=[],
            metavar="PREFIX",
            help=(
                "Never delete keys starting with PREFIX, in any bucket (repeatable): files the "
                "buckets hold outside any model, such as exports/."
            ),
        )
        parser.add_argument(
            "--bucket",
            action="append",
            default=[],
            metavar="NAME",
            help="Clean only this bucket (repeatable).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity: int = options["verbosity"]
        self.check_missing: bool = options["check_missing"]
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

        kept_prefixes = [prefix.lstrip("/") for prefix in options["keep_prefix"]]
        if not all(kept_prefixes):
            raise CommandError("--keep-prefix needs a prefix: an empty one would keep everything.")
        self.labels = bucket_labels(targets)
        self.min_age: timedelta = options["min_age"]  # for the report lines
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
        failed = [report for report in reports if report.errors]
        if failed:
            names = ", ".join(self.labels[report.endpoint, report.bucket] for report in failed)
            raise CommandError(
                f"Could not clean {len(failed)} bucket(s) ({names}): {failed[0].errors[0]}"
            )
