"""Answers that are not S3's: retried when they are 5xx, reported clearly either way.

A 5xx that outlives its retries is ``StorageUnavailable`` (a ``ConnectionError``), as a refused
connection is: the server is there but cannot serve. A 4xx is ``StorageRequestError``.
"""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from async_minio_storage import MinioStorage
from async_minio_storage import StorageRequestError
from async_minio_storage import StorageUnavailable
from tests.misbehaving_server import MisbehavingServer


def storage_for(server: MisbehavingServer) -> MinioStorage:
    return MinioStorage(bucket_name="some-bucket", MINIO_ENDPOINT=server.endpoint)


def test_a_put_answered_502_is_retried_then_reported():
    with (
        MisbehavingServer(502) as server,
        pytest.raises(StorageUnavailable, match="HTTP 502") as refused,
    ):
        storage_for(server).save("x.txt", ContentFile(b"x"))

    assert refused.value.status == 502
    assert server.requests == ["PUT /some-bucket/x.txt"] * 3  # MINIO_RETRY_ATTEMPTS


def test_a_head_answered_503_is_retried_then_reported():
    with (
        MisbehavingServer(503) as server,
        pytest.raises(StorageUnavailable, match="HTTP 503") as refused,
    ):
        storage_for(server).exists("x.txt")

    assert refused.value.status == 503
    assert server.requests == ["HEAD /some-bucket/x.txt"] * 3


@pytest.mark.parametrize("status", [400, 403, 409])
def test_client_errors_are_never_retried(status):
    with MisbehavingServer(status) as server, pytest.raises(StorageRequestError):
        storage_for(server).save("x.txt", ContentFile(b"x"))

    assert server.requests == ["PUT /some-bucket/x.txt"]


def test_retry_attempts_are_configurable():
    with MisbehavingServer(500) as server:
        storage = MinioStorage(
            bucket_name="some-bucket", MINIO_ENDPOINT=server.endpoint, MINIO_RETRY_ATTEMPTS=1
        )
        with pytest.raises(StorageUnavailable):
            storage.save("x.txt", ContentFile(b"x"))

    assert server.requests == ["PUT /some-bucket/x.txt"]
