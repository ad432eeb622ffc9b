"""Scenario 6 for one contender, in a process of its own so that its memory is its own.

``python -m benchmarks.large_file CONTENDER SOURCE`` uploads SOURCE (a file on disk, as Django's
``TemporaryUploadedFile`` holds an upload), downloads it back as a stream, and prints one JSON
line: throughput in MB/s and the growth of peak resident memory (VmHWM) during each.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from . import environment as env
from .measure import reset_peak_memory
from .measure import resident_memory

CHUNK = 1024 * 1024
MiB = 1024 * 1024


def measure(operation: Any) -> tuple[float, float]:
    before = reset_peak_memory()
    started = time.perf_counter()
    operation()
    seconds = time.perf_counter() - started
    return seconds, (resident_memory()[1] - before) / MiB


def main() -> None:
    contender, source = sys.argv[1], Path(sys.argv[2])
    environment = env.Environment.from_environ()
    env.configure_django(environment)
    contenders = env.build_contenders(environment)
    size = source.stat().st_size
    name = f"large/{contender}/{secrets.token_hex(4)}.bin"
    bucket = environment.private_bucket

    from django.core.files import File

    if contender in (env.OURS_SYNC, env.DMB, env.STORAGES):
        storage = contenders[contender][0]

        def upload() -> None:
            with source.open("rb") as handle:
                storage.save(name, File(handle, name=source.name))

        def download() -> None:
            with storage.open(name) as stored:
                for _ in stored.chunks(CHUNK):
                    pass

    elif contender == env.OURS_ASYNC:
        storage = contenders[contender][0]

        async def upload_async() -> None:
            with source.open("rb") as handle:
                await storage.asave(name, File(handle, name=source.name))

        async def download_async() -> None:
            async with await storage.aopen(name) as stored:
                async for _ in stored.chunks(CHUNK):
                    pass

        def upload() -> None:
            asyncio.run(upload_async())

        def download() -> None:
            asyncio.run(download_async())

    elif contender == env.RAW_SYNC:
        client = contenders[env.RAW_SYNC]

        def upload() -> None:
            with source.open("rb") as handle:
                client.put_object(bucket_name=bucket, object_name=name, data=handle, length=size)

        def download() -> None:
            response = client.get_object(bucket_name=bucket, object_name=name)
            try:
                for _ in response.stream(CHUNK):
                    pass
            finally:
                response.close()
                response.release_conn()

    else:

        async def upload_raw() -> None:
            async with env.raw_async_client(environment) as client:
                with source.open("rb") as handle:
                    await client.put_object(bucket, name, handle, size)

        async def download_raw() -> None:
            async with env.raw_async_client(environment) as client:
                response = await client.get_object(bucket, name)
                try:
                    async for _ in response.content.iter_chunked(CHUNK):
                        pass
                finally:
                    response.release()

        def upload() -> None:
            asyncio.run(upload_raw())

        def download() -> None:
            asyncio.run(download_raw())

    upload_seconds, upload_rss = measure(upload)
    download_seconds, download_rss = measure(download)
    print(
        json.dumps(
            {
                "upload_mb_s": size / MiB / upload_seconds,
                "upload_rss_mb": upload_rss,
                "download_mb_s": size / MiB / download_seconds,
                "download_rss_mb": download_rss,
            }
        )
    )
    os._exit(0)  # skip interpreter teardown: its time and memory are not the contender's


if __name__ == "__main__":
    main()
