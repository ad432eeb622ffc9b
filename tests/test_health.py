"""``is_minio_available()``: a bounded probe that reports instead of raising."""

from __future__ import annotations

import socket

from async_minio_storage import MinioServerStatus
from async_minio_storage import MinioStorage
from tests.s3_server import free_ports


def test_a_reachable_server_is_available(storage):
    status = storage.is_minio_available()

    assert isinstance(status, MinioServerStatus)
    assert status
    assert status.is_available
    assert status.details == ""


async def test_the_async_probe(storage):
    assert await storage.ais_minio_available()


def test_a_missing_bucket_is_reported_but_the_server_is_available():
    status = MinioStorage(bucket_name="no-such-bucket-here").is_minio_available()

    assert status
    assert "missing" in status.details


def test_a_closed_port_is_unavailable(bucket):
    (closed_port,) = free_ports(1)

    status = MinioStorage(
        bucket_name=bucket, MINIO_ENDPOINT=f"127.0.0.1:{closed_port}"
    ).is_minio_available()

    assert not status
    assert "Connect" in status.details


def test_refused_credentials_are_unavailable(bucket):
    status = MinioStorage(bucket_name=bucket, MINIO_SECRET_KEY="wrong").is_minio_available()

    assert not status
    assert status.status == 403


def test_a_server_that_never_answers_is_unavailable_after_the_time_limit(bucket):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # connections complete, but nothing ever answers
        host, port = silent.getsockname()

        status = MinioStorage(
            bucket_name=bucket, MINIO_ENDPOINT=f"{host}:{port}"
        ).is_minio_available()

    assert not status
    assert "No answer within 2 s" in status.details
    assert "unavailable" in repr(status)
