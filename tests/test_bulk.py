"""Listings and multi-object deletes (``bulk`` and ``wire``), against the real server.

The parser is also tested on answers written out here, for what the local server never sends:
a listing cut short without a continuation token.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

import pytest
from django.core.files.base import ContentFile

from async_minio_storage.bulk import batches
from async_minio_storage.bulk import delete_batch
from async_minio_storage.bulk import list_objects
from async_minio_storage.bulk import list_pages
from async_minio_storage.errors import StorageRequestError
from async_minio_storage.wire import ObjectRecord
from async_minio_storage.wire import parse_listing

NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"


def answer(body: str, *, truncated: bool = False, token: str | None = None) -> str:
    next_token = f"<NextContinuationToken>{token}</NextContinuationToken>" if token else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="{NAMESPACE}">'
        f"<Name>b</Name><EncodingType>url</EncodingType>"
        f"<IsTruncated>{str(truncated).lower()}</IsTruncated>{next_token}{body}"
        "</ListBucketResult>"
    )


CONTENTS = (
    "<Contents><Key>docs/a+b%20c.txt</Key><LastModified>2026-11-26T07:43:20.000Z</LastModified>"
    '<ETag>"0cc175b9c0f1b6a831c399e269772661"</ETag><Size>1</Size></Contents>'
)


def test_a_page_is_parsed_with_its_keys_decoded():
    page = parse_listing(
        answer(CONTENTS + "<CommonPrefixes><Prefix>img%2F</Prefix></CommonPrefixes>")
    )

    assert page.continuation is None
    assert page.objects == [
        ObjectRecord(
            key="docs/a b c.txt",
            size=1,
            etag="0cc175b9c0f1b6a831c399e269772661",
            last_modified=datetime(2026, 11, 26, 7, 43, 20, tzinfo=UTC),
        )
    ]
    assert page.objects[0].last_modified == datetime(2026, 11, 26, 7, 43, 20, tzinfo=UTC)
    assert page.prefixes == ["img/"]


def test_a_truncated_page_gives_the_token_for_the_next():
    page = parse_listing(answer(CONTENTS, truncated=True, token="abc"))

    assert page.continuation == "abc"


def test_a_listing_cut_short_without_a_token_is_an_error_not_a_smaller_bucket():
    with pytest.raises(StorageRequestError, match="cut a listing short"):
        parse_listing(answer(CONTENTS, truncated=True))


def test_an_unreadable_date_is_no_date():
    unreadable = CONTENTS.replace("2026-11-26T07:43:20.000Z", "yesterday")

    assert parse_listing(answer(unreadable)).objects[0].last_modified is None


def test_keys_ending_in_a_slash_are_directory_markers():
    assert ObjectRecord("folder/", 0, None, None).is_directory_marker
    assert not ObjectRecord("folder/file", 0, None, None).is_directory_marker


def test_batches_hold_at_most_the_size():
    assert [len(batch) for batch in batches(list(range(2500)))] == [1000, 1000, 500]


async def test_a_listing_goes_on_page_after_page(storage):
    names = [f"many/{number:04}.txt" for number in range(1001)] + ["odd/a+b c%.txt", "odd/ü.txt"]
    for name in names:
        await storage.asave(name, ContentFile(b"x"))

    pages = [page async for page in list_pages(await storage._connection(), storage.bucket_name)]
    listed = [item async for item in list_objects(await storage._connection(), storage.bucket_name)]

    assert [len(page.objects) for page in pages] == [1000, 3]
    assert sorted(item.key for item in listed) == sorted(names)
    assert {item.etag for item in listed} == {"9dd4e461268c8034f5c8564e155c67a6"}  # MD5 of "x"
    assert all(item.last_modified is not None for item in listed)


async def test_a_delimited_listing_gives_one_level(storage):
    for name in ["top.txt", "docs/a.txt", "docs/deep/b.txt"]:
        await storage.asave(name, ContentFile(b"."))

    pages = [
        page
        async for page in list_pages(
            await storage._connection(), storage.bucket_name, delimiter="/"
        )
    ]

    assert [item.key for page in pages for item in page.objects] == ["top.txt"]
    assert [prefix for page in pages for prefix in page.prefixes] == ["docs/"]


async def test_a_delete_batch_deletes_its_keys_and_nothing_else(storage):
    for name in ["a.txt", "b.txt", "keep.txt"]:
        await storage.asave(name, ContentFile(b"."))

    refusals = await delete_batch(
        await storage._connection(), storage.bucket_name, ["a.txt", "b.txt", "never-there.txt"]
    )

    assert refusals == []
    assert await storage.alistdir("") == ([], ["keep.txt"])


async def test_a_delete_batch_refuses_more_than_a_request_holds(storage):
    with pytest.raises(ValueError, match="At most 1000 keys"):
        await delete_batch(await storage._connection(), storage.bucket_name, ["k"] * 1001)
