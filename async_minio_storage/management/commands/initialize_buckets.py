"""``manage.py initialize_buckets``: create the configured buckets and set their policies."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.core.management.base import CommandError
from django.core.management.base import CommandParser

from async_minio_storage.consistency import acheck_buckets
from async_minio_storage.errors import MinioStorageError
from async_minio_storage.sync_edge import run_on_own_loop


class Command(BaseCommand):
    help = (
        "Create every configured bucket that is missing, give public buckets an anonymous "
        "read-only policy, remove anonymous access from private ones and apply "
        "MINIO_POLICY_HOOKS. All buckets are handled concurrently; running it again changes "
        "nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--silenced", action="store_true", help="Print nothing (django-minio-backend's flag)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            changes = run_on_own_loop(acheck_buckets())
        except (MinioStorageError, FileNotFoundError) as error:
            raise CommandError(f"Could not initialize the buckets: {error}") from error
        if options["silenced"]:
            return
        for change in changes:
            self.stdout.write(change)
        self.stdout.write(self.style.SUCCESS(f"Buckets are in order ({len(changes)} changed)."))
