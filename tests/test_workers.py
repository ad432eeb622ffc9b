"""The example project under real multi-process servers: every uploaded object arrives whole.

Two servers, each with two worker processes: gunicorn with uvicorn's worker and ``--preload``
(the workers are forked from a master that has used the storage, see ``tests/example_asgi.py``),
and ``uvicorn --workers 2`` (spawned workers). Through each, a few hundred files go in through
both of the example's upload paths, concurrently: the upload page (the file passes through
Django and ``asave``) and the large-file views (``start``, a signed PUT straight to the object
store, ``confirm``). Then every object is read back from the store and compared byte for byte,
and the server's log must hold no error.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from miniopy_async import Minio

from .conftest import S3Admin
from .s3_server import S3Server
from .s3_server import free_ports

pytestmark = pytest.mark.once

REPOSITORY = Path(__file__).resolve().parent.parent
EXAMPLE = REPOSITORY / "example_project"
VENV_BIN = Path(sys.executable).parent
EXAMPLE_BUCKETS = ["example-private", "example-public", "example-static"]
PER_VIEW = 100  # files through each of the two upload paths, for each server
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
REQUEST_TIMEOUT = 30.0
FORBIDDEN_IN_LOGS = ("ERROR", "Traceback", "Unclosed", "Exception ignored")


@pytest.fixture(scope="module")
def example_environment(
    s3_server: S3Server, s3_admin: S3Admin, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """The example's environment, pointed at the test server, migrated, with its buckets."""
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DJANGO_DEBUG": "0",
        "EXAMPLE_DATA_DIR": str(tmp_path_factory.mktemp("example-data")),
        "MINIO_ENDPOINT": s3_server.endpoint,
        "MINIO_ACCESS_KEY": s3_server.access_key,
        "MINIO_SECRET_KEY": s3_server.secret_key,
        "MINIO_USE_HTTPS": "1" if s3_server.use_https else "",
        "PYTHONPATH": os.pathsep.join([str(REPOSITORY), str(EXAMPLE)]),
    }
    for command in (["migrate", "--verbosity=0"], ["initialize_buckets"]):
        subprocess.run(
            [sys.executable, str(EXAMPLE / "manage.py"), *command],
            cwd=EXAMPLE,
            env=environment,
            check=True,
            capture_output=True,
            timeout=120,
        )
    yield environment
    for bucket in EXAMPLE_BUCKETS:
        s3_admin.remove_bucket(bucket)


SERVERS = {
    "gunicorn-uvicorn-worker-preload": lambda port: [
        str(VENV_BIN / "gunicorn"),
        "--worker-class=uvicorn_worker.UvicornWorker",
        "--preload",
        "--workers=2",
        f"--bind=127.0.0.1:{port}",
        "--graceful-timeout=10",
        "--no-control-socket",
        "tests.example_asgi:application",
    ],
    "uvicorn-workers": lambda port: [
        str(VENV_BIN / "uvicorn"),
        "--workers=2",
        "--host=127.0.0.1",
        f"--port={port}",
        "--lifespan=off",
        "--timeout-graceful-shutdown=10",
        "project.asgi:application",  # uvicorn imports it on a worker's loop: no sync call there
    ],
}


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(STOP_TIMEOUT)


def worker_processes(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


@pytest.fixture(params=sorted(SERVERS))
def server(
    request: pytest.FixtureRequest, example_environment: dict[str, str], tmp_path: Path
) -> Iterator[Server]:
    (port,) = free_ports(1)
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            SERVERS[request.param](port),
            cwd=REPOSITORY,
            env=example_environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    started = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if process.poll() is not None:
                raise AssertionError(f"the server exited early:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(f"{started.url}/health/", timeout=1) as answer:
                    if answer.status == 200 and len(worker_processes(process.pid)) >= 2:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the server did not get ready:\n{log.read_text()}")
            time.sleep(0.05)
        yield started
    finally:
        started.stop()


class Browser:
    """What the example's pages do, with urllib: a CSRF cookie, form posts, JSON posts."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.csrf_token = secrets.token_hex(16)  # a well-formed token Django accepts as cookie
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def _headers(self, content_type: str) -> dict[str, str]:
        return {
            "Content-Type": content_type,
            "Cookie": f"csrftoken={self.csrf_token}",
            "X-CSRFToken": self.csrf_token,
            "Accept": "application/json",
        }

    def _post(self, path: str, body: bytes, content_type: str) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.base_url}{path}", data=body, headers=self._headers(content_type)
        )
        try:
            with self.opener.open(request, timeout=REQUEST_TIMEOUT) as answer:
                result: dict[str, Any] = json.loads(answer.read())
        except urllib.error.HTTPError as error:
            raise AssertionError(f"{path}: {error.code} {error.read()[:500]!r}") from error
        return result

    def upload_page(self, filename: str, content: bytes, visibility: str) -> tuple[str, str]:
        """Post the file to the upload page; the (bucket, name) it was stored under."""
        boundary = secrets.token_hex(16)
        body = b"".join(
            [
                f"--{boundary}\r\n".encode(),
                b'Content-Disposition: form-data; name="visibility"\r\n\r\n',
                visibility.encode(),
                f"\r\n--{boundary}\r\n".encode(),
                f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'.encode(),
                b"Content-Type: application/octet-stream\r\n\r\n",
                content,
                f"\r\n--{boundary}--\r\n".encode(),
            ]
        )
        result = self._post("/", body, f"multipart/form-data; boundary={boundary}")
        assert result["size"] == len(content), result
        return f"example-{result['visibility']}", result["name"]

    def large_upload(self, filename: str, content: bytes) -> tuple[str, str]:
        """``start``, the signed PUT to the object store, ``confirm``: (bucket, name)."""
        started = self._post(
            "/large/start/",
            json.dumps(
                {"filename": filename, "size": len(content), "content_type": "text/plain"}
            ).encode(),
            "application/json",
        )
        upload = started["upload"]
        put = urllib.request.Request(
            upload["url"], data=content, headers=upload["headers"], method="PUT"
        )
        with urllib.request.urlopen(put, timeout=REQUEST_TIMEOUT) as answer:
            assert answer.status == 200
        confirmed = self._post(
            "/large/confirm/", json.dumps({"token": started["token"]}).encode(), "application/json"
        )
        assert confirmed["size"] == len(content), confirmed
        return "example-private", confirmed["name"]


def stored_bytes(s3_server: S3Server, objects: list[tuple[str, str]]) -> list[bytes]:
    async def read_all() -> list[bytes]:
        async with Minio(
            s3_server.endpoint,
            access_key=s3_server.access_key,
            secret_key=s3_server.secret_key,
            secure=s3_server.use_https,
            region="us-east-1",
        ) as client:
            slots = asyncio.Semaphore(16)

            async def read(bucket: str, name: str) -> bytes:
                async with slots:
                    response = await client.get_object(bucket, name)
                    try:
                        return await response.read()
                    finally:
                        response.release()

            return await asyncio.gather(*(read(bucket, name) for bucket, name in objects))

    return asyncio.run(asyncio.wait_for(read_all(), 120))


def test_every_file_uploaded_through_a_multi_worker_server_is_stored_whole(server, s3_server):
    browser = Browser(server.url)
    tag = secrets.token_hex(3)
    rng = random.Random(tag)
    files = [
        (f"{tag}-{number}.bin", rng.randbytes(rng.choice([0, 1, 100, 4096, 70_000, 300_000])))
        for number in range(2 * PER_VIEW)
    ]
    files.append((f"{tag}-on-disk.bin", rng.randbytes(3 * 1024 * 1024)))  # a temporary file

    def send(number: int) -> tuple[str, str]:
        filename, content = files[number]
        if number % 2:
            return browser.large_upload(filename, content)
        return browser.upload_page(filename, content, "public" if number % 4 else "private")

    with ThreadPoolExecutor(max_workers=8) as pool:
        objects = list(pool.map(send, range(len(files))))
    workers = worker_processes(server.process.pid)
    server.stop()

    assert len(set(objects)) == len(files)
    assert stored_bytes(s3_server, objects) == [content for _, content in files]
    assert len(workers) >= 2
    assert server.process.returncode == 0
    log = server.log.read_text()
    for forbidden in FORBIDDEN_IN_LOGS:
        assert forbidden not in log, log
