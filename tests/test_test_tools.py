"""The test tools do what they say: FaultProxy's faults, and a SeaweedFS a test can kill.

A tool that fails to inject its fault makes the tests built on it pass for the wrong reason,
so each fault is checked here against the real server, with a plain miniopy-async client
without retries (the default one retries 5xx answers, which would hide what the proxy did).
"""

from __future__ import annotations

import asyncio
import io
import os
import select
import signal
import socket
import time
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from miniopy_async import Minio
from miniopy_async.datatypes import Part
from miniopy_async.error import S3Error

from tests.conftest import S3Admin
from tests.conftest import run
from tests.fault_proxy import FaultProxy
from tests.s3_server import RestartableSeaweedFS
from tests.s3_server import S3Server
from tests.s3_server import server_from_environment

MiB = 1024 * 1024
# miniopy-async hands aiohttp each part as bytes, which it warns about past 1 MiB.
pytestmark = [
    pytest.mark.filterwarnings(
        "ignore:Sending a large body directly with raw bytes:ResourceWarning"
    ),
    pytest.mark.once,  # the test tools, not the package: one Django line is enough
]


@pytest.fixture
def faults(s3_server: S3Server) -> Iterator[FaultProxy]:
    if s3_server.use_https:
        pytest.skip("FaultProxy speaks plain HTTP to the server")
    with FaultProxy(s3_server.endpoint) as proxy:
        yield proxy


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Whether ``condition`` holds within ``timeout`` s, for what the proxy's thread counts."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def client_for(endpoint: str, server: S3Server) -> Minio:
    """A client of ``endpoint`` with the server's keys, which does not retry anything."""
    return Minio(
        endpoint,
        access_key=server.access_key,
        secret_key=server.secret_key,
        secure=False,
        region="us-east-1",
        session=aiohttp.ClientSession(),
    )


async def test_fail_after_forwarding_stores_the_object_but_answers_503(
    faults, s3_server, s3_admin, bucket
):
    faults.fail_after_forwarding(1, method="PUT", path_suffix="/failed.txt")

    async with client_for(faults.endpoint, s3_server) as client:
        await client.put_object(bucket, "other.txt", io.BytesIO(b"other"), 5)  # not matched
        with pytest.raises(S3Error) as refused:
            await client.put_object(bucket, "failed.txt", io.BytesIO(b"stored anyway"), 13)
        await client.put_object(bucket, "again.txt", io.BytesIO(b"again"), 5)  # count spent

    assert refused.value.code == "SlowDown"
    assert refused.value.response.status == 503
    assert refused.value.response.headers["Connection"] == "close"
    assert faults.forwarded_then_failed == 1
    assert faults.discarded_answers == [(f"PUT /{bucket}/failed.txt HTTP/1.1", 200)]
    assert s3_admin.get(bucket, "failed.txt") == b"stored anyway"
    assert s3_admin.keys(bucket) == ["again.txt", "failed.txt", "other.txt"]


async def test_fail_after_forwarding_a_completion_leaves_the_object_complete(
    faults, s3_server, s3_admin, bucket
):
    data = os.urandom(6 * MiB)
    faults.fail_after_forwarding(1, status=500, method="POST", query="uploadId")

    async with client_for(faults.endpoint, s3_server) as client:
        with pytest.raises(S3Error) as refused:
            await client.put_object(
                bucket, "multi.bin", io.BytesIO(data), len(data), part_size=5 * MiB
            )

    assert refused.value.code == "InternalError"
    assert refused.value.response.status == 500
    # CreateMultipartUpload (POST ?uploads=) went through: only the completion matched.
    assert [line.split("?")[0] for line, _ in faults.discarded_answers] == [
        f"POST /{bucket}/multi.bin"
    ]
    assert "uploadId=" in faults.discarded_answers[0][0]
    assert faults.discarded_answers[0][1] == 200
    assert s3_admin.get(bucket, "multi.bin") == data
    assert s3_admin.incomplete_uploads(bucket) == []


async def test_cut_after_forwarding_stores_the_object_but_the_answer_is_lost(
    faults, s3_server, s3_admin, bucket
):
    # aiohttp sends an idempotent request (PUT, GET, HEAD, DELETE) once more when its
    # connection dies before the answer: the second cut is for that.
    faults.cut_after_forwarding(2, method="PUT")

    async with client_for(faults.endpoint, s3_server) as client:
        with pytest.raises(aiohttp.ClientConnectionError):
            await client.put_object(bucket, "cut.txt", io.BytesIO(b"stored anyway"), 13)
        await client.put_object(bucket, "after.txt", io.BytesIO(b"after"), 5)

    assert faults.forwarded_then_cut == 2
    assert faults.forwarded_then_failed == 0
    assert faults.discarded_answers == [(f"PUT /{bucket}/cut.txt HTTP/1.1", 200)] * 2
    assert s3_admin.get(bucket, "cut.txt") == b"stored anyway"
    assert s3_admin.get(bucket, "after.txt") == b"after"


def test_stop_reading_bodies_blocks_the_body_write_until_heal_closes_the_connection(faults):
    host, port = faults.endpoint.rsplit(":", 1)
    length = 1024 * MiB  # far more than the socket buffers on both ends hold
    piece = bytes(MiB)
    faults.stop_reading_bodies()

    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            f"PUT /bucket/key HTTP/1.1\r\nHost: {faults.endpoint}\r\n"
            f"Content-Length: {length}\r\n\r\n".encode()
        )
        sock.setblocking(False)
        sent, blocked = 0, False
        while sent < length:
            try:
                sent += sock.send(piece)
            except BlockingIOError:
                blocked = True
                break
        assert blocked, "the proxy read the whole body"
        # Full for good, not for a moment: the proxy reads nothing more.
        assert select.select([], [sock], [], 0.5)[1] == []
        assert sent < length
        assert wait_until(lambda: faults.bodies_stalled == 1)

        faults.heal()

        sock.settimeout(5)  # a TimeoutError if the connection stays open
        try:
            answer = sock.recv(65536)
        except ConnectionResetError:
            answer = b""
        assert answer == b""  # closed, without a byte of answer
    assert faults.requests == ["PUT /bucket/key HTTP/1.1"]


async def test_stop_reading_bodies_stalls_uploads_but_not_requests_without_body(
    faults, s3_server, s3_admin, bucket
):
    data = os.urandom(8 * MiB)
    faults.stop_reading_bodies()

    async with client_for(faults.endpoint, s3_server) as client:
        assert await client.bucket_exists(bucket)  # a HEAD: forwarded
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1):
                await client.put_object(
                    bucket, "big.bin", io.BytesIO(data), len(data), part_size=16 * MiB
                )  # in one PUT, not in parts
        faults.heal()
        await client.put_object(bucket, "small.txt", io.BytesIO(b"after"), 5)

    assert wait_until(lambda: faults.bodies_stalled == 1)
    assert s3_admin.keys(bucket) == ["small.txt"]


@pytest.fixture
def seaweedfs(tmp_path: Path) -> Iterator[RestartableSeaweedFS]:
    if server_from_environment() is not None:
        pytest.skip("needs a SeaweedFS of its own, not the external server")
    with RestartableSeaweedFS(tmp_path) as server:
        yield server


async def make_bucket(server: S3Server, name: str) -> None:
    async with client_for(server.endpoint, server) as client:
        await client.make_bucket(name)


def refuses_connections(endpoint: str) -> bool:
    host, port = endpoint.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_cut_after_forwarding_a_multipart_creation_leaves_the_upload_open(seaweedfs):
    # On a server of its own, whose listing of open uploads miniopy-async can parse (see
    # RestartableSeaweedFS); POST is not idempotent, so aiohttp does not send it again.
    assert seaweedfs.server is not None
    server, admin, data = seaweedfs.server, S3Admin(seaweedfs.server), os.urandom(6 * MiB)
    run(make_bucket(server, "cut-creation"))

    async def upload(endpoint: str) -> None:
        async with client_for(endpoint, server) as client:
            await client.put_object(
                "cut-creation", "multi.bin", io.BytesIO(data), len(data), part_size=5 * MiB
            )

    with FaultProxy(server.endpoint) as faults:
        faults.cut_after_forwarding(1, method="POST", query="uploads")
        with pytest.raises(aiohttp.ClientConnectionError):
            run(upload(faults.endpoint))

    assert faults.forwarded_then_cut == 1
    assert faults.requests == ["POST /cut-creation/multi.bin?uploads= HTTP/1.1"]
    assert admin.incomplete_uploads("cut-creation") == ["multi.bin"]  # its id never came back
    assert admin.keys("cut-creation") == []


def test_a_killed_seaweedfs_starts_again_with_its_objects_and_open_uploads(seaweedfs):
    assert seaweedfs.server is not None
    server, admin, first_part = seaweedfs.server, S3Admin(seaweedfs.server), os.urandom(5 * MiB)

    async def arrange() -> tuple[str, str]:
        async with client_for(server.endpoint, server) as client:
            await client.make_bucket("restarted")
            upload_id = await client._create_multipart_upload("restarted", "multi.bin", {})
            etag = await client._upload_part(
                "restarted", "multi.bin", first_part, None, upload_id, 1
            )
            return upload_id, etag

    upload_id, etag = run(arrange())
    admin.put("restarted", "kept.txt", b"kept")
    pid, endpoint = seaweedfs.pid, seaweedfs.endpoint

    seaweedfs.kill()

    assert not seaweedfs.running
    assert refuses_connections(endpoint)

    assert seaweedfs.start() == server  # same endpoint, same keys
    assert seaweedfs.pid != pid
    assert admin.get("restarted", "kept.txt") == b"kept"
    assert admin.incomplete_uploads("restarted") == ["multi.bin"]

    async def finish() -> None:
        async with client_for(server.endpoint, server) as client:
            second = await client._upload_part(
                "restarted", "multi.bin", b"tail", None, upload_id, 2
            )
            await client._complete_multipart_upload(
                "restarted", "multi.bin", upload_id, [Part(1, etag), Part(2, second)]
            )

    run(finish())
    assert admin.get("restarted", "multi.bin") == first_part + b"tail"
    assert admin.incomplete_uploads("restarted") == []


def test_a_seaweedfs_killed_by_its_pid_restarts_and_stops_gracefully(seaweedfs):
    assert seaweedfs.server is not None
    server, admin = seaweedfs.server, S3Admin(seaweedfs.server)
    run(make_bucket(server, "by-pid"))
    admin.put("by-pid", "kept.txt", b"kept")

    os.killpg(seaweedfs.pid, signal.SIGKILL)  # as a test that only knows the pid would

    assert seaweedfs.restart() == server
    assert seaweedfs.running
    assert admin.get("by-pid", "kept.txt") == b"kept"
    endpoint = seaweedfs.endpoint

    seaweedfs.stop()

    assert not seaweedfs.running
    assert refuses_connections(endpoint)
