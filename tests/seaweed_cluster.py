"""A SeaweedFS cluster of separate processes on 127.0.0.1, for the suite and for node failures.

``weed mini`` (``tests/s3_server.py``) runs every role in one process, so it cannot lose a
node. ``SeaweedCluster`` starts each role as its own ``weed`` process, from the same binary:

- one ``weed master``, single-master (``-peers=none``), default replication ``001`` (every
  volume on two servers of one rack) and 64 MiB volumes;
- three ``weed volume`` servers, each with its own folder, all in ``dc1``/``rack1`` so that
  ``001`` can place a volume's second copy on either of the other two;
- one ``weed filer`` with its embedded store (leveldb) in its own folder;
- one ``weed s3`` gateway with an identity file (``-config``), so that it checks SigV4 as
  ``weed mini`` does: a wrong secret is ``SignatureDoesNotMatch``, anonymous is 403.

Every listener, gRPC ones included, gets a free port on 127.0.0.1; the data, the logs (one
``<role>.log`` each) and ``TMPDIR`` are under ``directory``. Each start waits, by polling
within :data:`START_TIMEOUT`, until the role answers: the master ``/cluster/status``, each
volume server ``/status`` and then the master's topology, the filer ``/``, and the gateway a
signed ListBuckets (it answers unsigned calls before it accepts signed ones). Each process is
its own session; stopping signals it by its PID, SIGTERM and then SIGKILL after
:data:`STOP_TIMEOUT`.

``kill_volume_server(i)`` SIGKILLs one volume server by its PID, as a crash would;
``restart_volume_server(i)`` starts it again on its ports and its folder, and returns once the
master knows it again. With ``001`` and three servers, the other two hold a copy of every
volume and take new ones, so reads and writes go on.

One setting differs from SeaweedFS' defaults: the master (``master.toml`` in its folder) grows
two volumes at a time for a collection instead of six. Every bucket is a collection, its first
write pre-allocates that many volumes, each on two servers, and the suite makes dozens of
buckets; with six, ``-max`` would have to be far larger.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from miniopy_async import Minio

from .s3_server import ACCESS_KEY
from .s3_server import SECRET_KEY
from .s3_server import S3Server
from .s3_server import SeaweedFS
from .s3_server import free_ports
from .s3_server import remove_grpc_sockets
from .s3_server import weed_binary

START_TIMEOUT = 60.0  # seconds each role is given to answer after it was started
# Seconds the roles are given, together, to exit on SIGTERM before SIGKILL. The others exit at
# once; the filer (4.48) never gets past "Gracefully stopping gRPC server" and is killed.
STOP_TIMEOUT = 3.0
POLL_INTERVAL = 0.05

# Volumes the master grows at once for a collection, per replica count (SeaweedFS' defaults
# are 7, 6, 3, 1). Each bucket is a collection, and the suite makes dozens of buckets.
MASTER_TOML = """\
[master.volume_growth]
copy_1 = 2
copy_2 = 2
copy_3 = 1
copy_other = 1
"""


@dataclass
class Role:
    """One ``weed`` process of the cluster: its command line, log, and the running process."""

    name: str
    command: list[str]
    directory: Path  # its working directory; its data is under it
    ports: tuple[int, int]  # HTTP, gRPC
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports[0]}"

    @property
    def log(self) -> Path:
        return self.directory.parent / f"{self.name}.log"


class SeaweedCluster:
    """A master, ``volume_servers`` volume servers, a filer and an S3 gateway, each a process.

    ``start()`` returns the gateway's ``S3Server`` (also ``self.server``); ``stop()`` ends every
    process. Used as a context manager it gives the ``S3Server`` and stops the cluster when
    left: ``with SeaweedCluster(tmp_path) as server: ...``.
    """

    def __init__(
        self,
        directory: Path,
        *,
        access_key: str = ACCESS_KEY,
        secret_key: str = SECRET_KEY,
        volume_servers: int = 3,
        replication: str = "001",
        volume_size_limit_mb: int = 64,
        max_volumes: int = 200,
    ) -> None:
        self.directory = directory
        self.access_key = access_key
        self.secret_key = secret_key
        self.volume_server_count = volume_servers
        self.replication = replication
        self.volume_size_limit_mb = volume_size_limit_mb
        self.max_volumes = max_volumes
        self.master: Role | None = None
        self.volumes: list[Role] = []
        self.filer: Role | None = None
        self.gateway: Role | None = None
        self.server: S3Server | None = None

    # -- the roles ---------------------------------------------------------------------------

    @property
    def roles(self) -> list[Role]:
        return [role for role in (self.master, *self.volumes, self.filer, self.gateway) if role]

    @property
    def volume_pids(self) -> list[int]:
        return [role.pid for role in self.volumes]

    def _master_address(self) -> str:
        assert self.master is not None
        http, grpc = self.master.ports
        return f"127.0.0.1:{http}.{grpc}"  # SeaweedFS' host:port.grpcPort

    def _plan(self) -> None:
        """Choose every port and folder, and build each role's command line."""
        weed = weed_binary()
        ports = free_ports(2 * (3 + self.volume_server_count))
        pairs = [(ports[i], ports[i + 1]) for i in range(0, len(ports), 2)]
        self.master = Role(
            "master",
            [
                weed,
                "master",
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                f"-port={pairs[0][0]}",
                f"-port.grpc={pairs[0][1]}",
                "-mdir=data",
                f"-defaultReplication={self.replication}",
                f"-volumeSizeLimitMB={self.volume_size_limit_mb}",
                "-telemetry=false",
                "-peers=none",
            ],
            self.directory / "master",
            pairs[0],
        )
        master = self._master_address()
        self.volumes = [
            Role(
                f"volume{number}",
                [
                    weed,
                    "volume",
                    "-ip=127.0.0.1",
                    "-ip.bind=127.0.0.1",
                    f"-port={http}",
                    f"-port.grpc={grpc}",
                    "-dir=data",
                    f"-max={self.max_volumes}",
                    f"-master={master}",
                    "-dataCenter=dc1",
                    "-rack=rack1",
                    "-minFreeSpace=1GiB",
                    "-preStopSeconds=0",
                ],
                self.directory / f"volume{number}",
                (http, grpc),
            )
            for number, (http, grpc) in enumerate(pairs[1 : 1 + self.volume_server_count])
        ]
        filer_ports, gateway_ports = pairs[-2], pairs[-1]
        self.filer = Role(
            "filer",
            [
                weed,
                "filer",
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                f"-port={filer_ports[0]}",
                f"-port.grpc={filer_ports[1]}",
                f"-master={master}",
                "-defaultStoreDir=data",
                f"-defaultReplicaPlacement={self.replication}",
                f"-localSocket={self.directory / 'filer.sock'}",
            ],
            self.directory / "filer",
            filer_ports,
        )
        self.gateway = Role(
            "s3",
            [
                weed,
                "s3",
                "-ip.bind=127.0.0.1",
                f"-port={gateway_ports[0]}",
                f"-port.grpc={gateway_ports[1]}",
                f"-filer=127.0.0.1:{filer_ports[0]}.{filer_ports[1]}",
                f"-config={self.directory / 's3.json'}",
                "-port.iceberg=0",
                "-port.lance=0",
                "-autoCreateBucket=false",
                f"-localSocket={self.directory / 's3.sock'}",
            ],
            self.directory / "s3",
            gateway_ports,
        )

    def _launch(self, role: Role) -> None:
        (role.directory / "data").mkdir(parents=True, exist_ok=True)
        tmp = self.directory / "tmp"
        tmp.mkdir(exist_ok=True)
        with role.log.open("ab") as log:
            role.process = subprocess.Popen(
                role.command,
                cwd=role.directory,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **SeaweedFS.extra_environment, "TMPDIR": str(tmp)},
            )

    def _wait(self, role: Role, what: str, ready: Callable[[], bool]) -> None:
        """Poll ``ready`` until it is true; fail if the role exits or the time is up."""
        deadline = time.monotonic() + START_TIMEOUT
        while not ready():
            if not role.running:
                raise RuntimeError(f"weed {role.name} exited; see {role.log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"weed {role.name}: {what} not within {START_TIMEOUT} s")
            time.sleep(POLL_INTERVAL)

    # -- start and stop ----------------------------------------------------------------------

    def start(self) -> S3Server:
        """Start every role, in order, each once the one it talks to answers."""
        if self.master is not None:
            raise RuntimeError("SeaweedCluster was started already")
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "s3.json").write_text(json.dumps(self._identities()))
        self._plan()
        assert self.master is not None
        assert self.filer is not None
        assert self.gateway is not None
        self.master.directory.mkdir(parents=True, exist_ok=True)
        (self.master.directory / "master.toml").write_text(MASTER_TOML)
        try:
            self._launch(self.master)
            self._wait(self.master, "/cluster/status", lambda: answers(self.master))
            for role in self.volumes:
                self._launch(role)
            for role in self.volumes:
                self._wait(role, "/status", lambda role=role: answers(role, "/status"))
            self._wait(self.master, "every volume server", self._master_knows_every_server)
            self._launch(self.filer)
            self._wait(self.filer, "/", lambda: answers(self.filer, "/"))
            self._launch(self.gateway)
            self.server = S3Server(
                endpoint=f"127.0.0.1:{self.gateway.ports[0]}",
                access_key=self.access_key,
                secret_key=self.secret_key,
                is_seaweedfs=True,
            )
            self._wait(self.gateway, "a signed ListBuckets", self._accepts_signed_calls)
        except BaseException:
            self.stop()
            raise
        return self.server

    def stop(self) -> None:
        """SIGTERM every role by its PID, gateway first; SIGKILL what outlives STOP_TIMEOUT."""
        roles = [role for role in reversed(self.roles) if role.process is not None]
        for role in roles:
            signal_process(role, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for role in roles:
            reap(role, max(0.0, deadline - time.monotonic()))
        self._remove_sockets()

    def _identities(self) -> dict[str, Any]:
        return {
            "identities": [
                {
                    "name": "admin",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }
            ]
        }

    def _remove_sockets(self) -> None:
        remove_grpc_sockets(port for role in self.roles for port in role.ports)

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- node failure ------------------------------------------------------------------------

    def kill_volume_server(self, index: int) -> int:
        """SIGKILL volume server ``index`` by its PID, wait for it to exit; its PID."""
        role = self.volumes[index]
        pid = role.pid
        signal_process(role, signal.SIGKILL)
        reap(role, STOP_TIMEOUT)
        return pid

    def restart_volume_server(self, index: int) -> int:
        """Start volume server ``index`` again, on its ports and folder; its new PID.

        Returns once it answers and the master lists it with every volume in its folder.
        """
        role = self.volumes[index]
        if role.running:
            raise RuntimeError(f"{role.name} is running")
        remove_grpc_sockets(role.ports)
        self._launch(role)
        self._wait(role, "/status", lambda: answers(role, "/status"))
        expected = len(list((role.directory / "data").glob("*.dat")))
        self._wait(
            role,
            f"the master listing its {expected} volumes",
            lambda: self.volumes_on().get(f"127.0.0.1:{role.ports[0]}", -1) >= expected,
        )
        return role.pid

    def topology(self) -> list[dict[str, Any]]:
        """The data nodes the master knows, as its ``/dir/status`` lists them."""
        assert self.master is not None
        try:
            with urllib.request.urlopen(f"{self.master.url}/dir/status", timeout=2) as answer:
                topology = json.load(answer)["Topology"]
        except (OSError, ValueError, KeyError):
            return []
        return [
            node
            for center in topology.get("DataCenters") or []
            for rack in center.get("Racks") or []
            for node in rack.get("DataNodes") or []
        ]

    def volumes_on(self) -> dict[str, int]:
        """Volume count per data node URL, as the master knows it."""
        return {node["Url"]: node["Volumes"] for node in self.topology()}

    def volume_servers_holding(self, collection: str) -> dict[int, int]:
        """For each volume server (by index) that holds a copy of a volume of ``collection``
        (a bucket), how many it holds, as the master's ``/vol/status`` lists them."""
        assert self.master is not None
        with urllib.request.urlopen(f"{self.master.url}/vol/status", timeout=2) as answer:
            centers = json.load(answer)["Volumes"]["DataCenters"] or {}
        held: dict[str, int] = {}
        for racks in centers.values():
            for nodes in racks.values():
                for url, volumes in nodes.items():
                    count = sum(1 for volume in volumes if volume["Collection"] == collection)
                    if count:
                        held[url] = count
        return {
            index: held[f"127.0.0.1:{role.ports[0]}"]
            for index, role in enumerate(self.volumes)
            if f"127.0.0.1:{role.ports[0]}" in held
        }

    def _master_knows_every_server(self) -> bool:
        return len(self.topology()) >= len(self.volumes)

    def _accepts_signed_calls(self) -> bool:
        assert self.server is not None
        server = self.server

        async def list_buckets() -> None:
            client = Minio(
                server.endpoint,
                access_key=server.access_key,
                secret_key=server.secret_key,
                secure=False,
                region="us-east-1",
            )
            async with client:
                await client.list_buckets()

        try:
            with ThreadPoolExecutor(max_workers=1) as pool:
                pool.submit(asyncio.run, list_buckets()).result(timeout=10)
        except Exception:  # not ready yet, whatever the reason
            return False
        return True


def answers(role: Role | None, path: str = "/cluster/status") -> bool:
    """True once ``role`` answers ``path`` over HTTP with anything below 500."""
    assert role is not None
    try:
        with urllib.request.urlopen(f"{role.url}{path}", timeout=1):
            return True
    except urllib.error.HTTPError as error:
        return error.code < 500
    except OSError:
        return False


def signal_process(role: Role, signal_number: int) -> None:
    """Signal the role's process (the leader of its own session) by its PID."""
    if role.process is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(role.process.pid, signal_number)


def reap(role: Role, timeout: float) -> bool:
    """Wait up to ``timeout`` s for the role's exit, then SIGKILL it; False if that was needed."""
    if role.process is None:
        return True
    graceful = True
    try:
        role.process.wait(timeout)
    except subprocess.TimeoutExpired:
        graceful = False
        signal_process(role, signal.SIGKILL)
        role.process.wait(STOP_TIMEOUT)
    role.process = None
    return graceful
