"""``manage.py is_minio_available``: probe every configured storage; exit 1 if one is down."""

from __future__ import annotations

import asyncio
from typing import Any

from django.core.management.base import BaseCommand
from django.core.management.base import CommandError
from django.core.management.base import CommandParser

from async_minio_storage.consistency import configured_storages
from async_minio_storage.health import MinioServerStatus
from async_minio_storage.sync_edge import run_on_own_loop


async def _probe_all(cluster: bool, write: bool) -> list[tuple[str, MinioServerStatus]]:
    storages = configured_storages()
    statuses = await asyncio.gather(
        *(storage.ais_minio_available(cluster=cluster, write=write) for _, storage in storages)
    )
    return [(alias, status) for (alias, _), status in zip(storages, statuses, strict=True)]


class Command(BaseCommand):
    help = (
        "Check that the object store of every configured storage is up and that its bucket "
        "can be reached with the configured keys. Exits with 1 when one cannot."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--cluster", action="store_true", help="Also ask MinIO whether it has write quorum."
        )
        parser.add_argument(
            "--write",
            action="store_true",
            help="Also write a small object to each bucket and delete it again.",
        )
        parser.add_argument(
            "--silenced", action="store_true", help="Print nothing (django-minio-backend's flag)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        results = run_on_own_loop(_probe_all(options["cluster"], options["write"]))
        for alias, status in results:
            if options["silenced"]:
                continue
            latency = f"{status.as_dict()['latency_ms']} ms"
            if status:
                self.stdout.write(self.style.SUCCESS(f"{alias}: available ({latency})"))
            else:
                self.stdout.write(self.style.ERROR(f"{alias}: unavailable: {status.details}"))
        if not all(status for _, status in results):
            raise CommandError("MinIO is not available.")
