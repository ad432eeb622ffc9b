"""The native coroutines, as an ASGI view awaits them."""

from __future__ import annotations

import asyncio
import urllib.request
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile

from async_minio_storage import AsyncMinioFile


async def test_asave_and_aopen_round_trip(storage):
    name = await storage.asave("greeting.txt", ContentFile(b"hello async"))

    async with await storage.aopen(name) as file:
        assert isinstance(file, AsyncMinioFile)
        assert file.size == 11
        assert file.content_type == "text/plain"
        assert await file.read() == b"hello async"


async def test_aopen_reads_in_pieces_and_seeks(storage):
    await storage.asave("digits.txt", ContentFile(b"0123456789"))

    async with await storage.aopen("digits.txt") as file:
        assert await file.read(4) == b"0123"
        file.seek(8)
        assert await file.read(5) == b"89"
        assert await file.read() == b""
        file.seek(1)
        assert await file.read(2) == b"12"


async def test_async_file_chunks_stream_the_whole_object(storage):
    payload = b"x" * 200_000 + b"end"
    await storage.asave("stream.bin", ContentFile(payload))

    async with await storage.aopen("stream.bin") as file:
        chunks = [chunk async for chunk in file.chunks(chunk_size=65_536)]
        again = b"".join([chunk async for chunk in file])

    assert b"".join(chunks) == payload
    assert max(len(chunk) for chunk in chunks) <= 65_536
    assert again == payload


async def test_a_closed_async_file_refuses_reads(storage):
    await storage.asave("closed.txt", ContentFile(b"x"))
    file = await storage.aopen("closed.txt")
    await file.close()

    with pytest.raises(ValueError, match="closed file"):
        await file.read()


async def test_aexists_asize_adelete(storage):
    await storage.asave("a.txt", ContentFile(b"abc"))

    assert await storage.aexists("a.txt")
    assert await storage.asize("a.txt") == 3
    await storage.adelete("a.txt")
    assert not await storage.aexists("a.txt")


async def test_missing_objects_raise_file_not_found(storage):
    with pytest.raises(FileNotFoundError):
        await storage.aopen("missing.txt")
    with pytest.raises(FileNotFoundError):
        await storage.asize("missing.txt")
    with pytest.raises(FileNotFoundError):
        await storage.aget_modified_time("missing.txt")
    await storage.adelete("missing.txt")


async def test_aget_modified_time(storage):
    await storage.asave("t.txt", ContentFile(b"x"))

    modified = await storage.aget_modified_time("t.txt")

    assert abs(modified - datetime.now(UTC)) < timedelta(minutes=1)


async def test_alistdir(storage):
    await asyncio.gather(
        storage.asave("a/1.txt", ContentFile(b"1")),
        storage.asave("a/b/2.txt", ContentFile(b"2")),
        storage.asave("3.txt", ContentFile(b"3")),
    )

    assert await storage.alistdir("") == (["a"], ["3.txt"])
    assert await storage.alistdir("a") == (["b"], ["1.txt"])


async def test_aurl_downloads(storage):
    await storage.asave("doc.txt", ContentFile(b"signed"))

    url = await storage.aurl("doc.txt")

    body = await asyncio.to_thread(lambda: urllib.request.urlopen(url).read())
    assert body == b"signed"


async def test_many_concurrent_asaves_all_arrive(storage, s3_admin):
    names = await asyncio.gather(
        *(
            storage.asave(f"batch/{number}.txt", ContentFile(b"%d" % number))
            for number in range(100)
        )
    )

    assert names == [f"batch/{number}.txt" for number in range(100)]
    assert len(s3_admin.keys(storage.bucket_name)) == 100
    assert s3_admin.get(storage.bucket_name, "batch/42.txt") == b"42"


async def test_asave_accepts_content_with_an_async_read(storage):
    class AsyncChunks:
        def __init__(self, data: bytes) -> None:
            self.data = data

        async def read(self, size: int = -1) -> bytes:
            chunk, self.data = self.data[:size], self.data[size:]
            return chunk

    name = await storage.asave("from-async.bin", AsyncChunks(b"async bytes"))

    assert await (await storage.aopen(name)).read() == b"async bytes"
