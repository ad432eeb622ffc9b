"""A volume server killed while saves and reads run loses no call and no object.

On a SeaweedFS cluster of its own (``tests/seaweed_cluster.py``: a master, three volume
servers with replication ``001``, a filer, an S3 gateway), so that the kill cannot disturb the
session's server, and so that it runs whichever server the session has. Concurrent workers save
small objects and multipart-sized ones through ``MinioStorage``'s async API and read them back
(their own and earlier ones). After :data:`KILL_AFTER` finished operations, the workload itself
SIGKILLs, by its PID, the volume server that holds the most of the bucket's volumes, while
other operations are in flight; after :data:`RESTART_AFTER`, it starts it again. Every call must
succeed, and every object must read back with the bytes it was saved with.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import Awaitable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from async_minio_storage import MinioStorage
from tests.conftest import S3Admin
from tests.s3_server import server_from_environment
from tests.seaweed_cluster import SeaweedCluster

pytestmark = [
    pytest.mark.once,  # the server's resilience, not the Django line: one row is enough
    pytest.mark.skipif(
        server_from_environment() is not None, reason="starts a SeaweedFS cluster of its own"
    ),
]

MiB = 1024 * 1024
BUCKET = "node-failure"
SMALL_SAVES = 300  # 1 B to 64 KiB each, one PUT
LARGE_SAVES = 12  # 6 to 8 MiB each, multipart in 5 MiB parts
WORKERS = 8
KILL_AFTER = 150  # finished operations (saves and reads) before the kill
RESTART_AFTER = 450  # finished operations before the volume server is started again


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[SeaweedCluster]:
    cluster = SeaweedCluster(tmp_path / "cluster")
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@dataclass
class Workload:
    """The saves and reads, what they did, and when the volume server was down."""

    cluster: SeaweedCluster
    storage: MinioStorage
    saved: dict[str, bytes] = field(default_factory=dict)
    failures: list[tuple[str, str, BaseException]] = field(default_factory=list)
    finished: int = 0
    in_flight: int = 0
    in_flight_at_kill: int = -1
    started_while_down: int = 0
    finished_while_down: int = 0
    down: bool = False
    victim: int | None = None
    victim_volumes: int = 0  # copies of the bucket's volumes it held
    killed_pid: int | None = None
    chaos: list[asyncio.Task[None]] = field(default_factory=list)

    async def call(self, what: str, name: str, operation: Awaitable[None]) -> None:
        started_down = self.down
        self.started_while_down += started_down
        self.in_flight += 1
        try:
            await operation
        except Exception as error:  # every failure is the finding
            self.failures.append((what, name, error))
        finally:
            self.in_flight -= 1
            self.finished += 1
            self.finished_while_down += started_down or self.down
        if self.finished == KILL_AFTER:
            self.chaos.append(asyncio.create_task(self.kill()))
        elif self.finished == RESTART_AFTER:
            self.chaos.append(asyncio.create_task(self.restart()))

    async def kill(self) -> None:
        # The server with the most of the bucket's volumes: for each, one copy is left.
        holding = self.cluster.volume_servers_holding(BUCKET)
        self.victim = max(holding, key=holding.__getitem__)
        self.victim_volumes = holding[self.victim]
        self.in_flight_at_kill = self.in_flight
        self.down = True
        self.killed_pid = await asyncio.to_thread(self.cluster.kill_volume_server, self.victim)

    async def restart(self) -> None:
        await self.chaos[0]  # the kill, done by now in any likely run
        assert self.victim is not None
        await asyncio.to_thread(self.cluster.restart_volume_server, self.victim)
        self.down = False

    async def save(self, name: str, data: bytes) -> None:
        stored = await self.storage.asave(name, ContentFile(data))
        assert stored == name, stored
        self.saved[name] = data

    async def read(self, name: str) -> None:
        async with await self.storage.aopen(name) as file:
            assert await file.read() == self.saved[name], f"{name} came back changed"

    async def worker(self, jobs: asyncio.Queue[tuple[str, bytes]], rng: random.Random) -> None:
        while not jobs.empty():
            name, data = jobs.get_nowait()
            await self.call("save", name, self.save(name, data))
            if name in self.saved:
                await self.call("read", name, self.read(name))
                earlier = rng.choice(list(self.saved))
                await self.call("read", earlier, self.read(earlier))


async def test_a_volume_server_killed_during_saves_and_reads_loses_no_call_or_object(
    cluster, caplog
):
    caplog.set_level(logging.INFO, logger="async_minio_storage.wire.policy")
    assert cluster.server is not None
    S3Admin(cluster.server).make_bucket(BUCKET)
    storage = MinioStorage(
        bucket_name=BUCKET,
        MINIO_ENDPOINT=cluster.server.endpoint,
        MINIO_ACCESS_KEY=cluster.server.access_key,
        MINIO_SECRET_KEY=cluster.server.secret_key,
        MINIO_USE_HTTPS=False,
        MINIO_MULTIPART_THRESHOLD=5 * MiB,
        MINIO_MULTIPART_PART_SIZE=5 * MiB,
    )
    rng = random.Random(20261201)  # sizes and picks, not secrets
    jobs: list[tuple[str, bytes]] = [
        (f"small/{number:04}.bin", os.urandom(rng.choice([1, 100, 4096, 65_536])))
        for number in range(SMALL_SAVES)
    ]
    jobs += [
        (f"large/{number:02}.bin", os.urandom(rng.randrange(6 * MiB, 8 * MiB)))
        for number in range(LARGE_SAVES)
    ]
    rng.shuffle(jobs)
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    workload = Workload(cluster, storage)
    started = time.monotonic()

    await asyncio.gather(*(workload.worker(queue, rng) for _ in range(WORKERS)))
    await asyncio.gather(*workload.chaos)
    elapsed = time.monotonic() - started
    expected = dict(jobs)
    unreadable: list[tuple[str, object]] = []
    for name in sorted(expected):  # every object, with every volume server up again
        try:
            async with await storage.aopen(name) as file:
                if await file.read() != expected[name]:
                    unreadable.append((name, "changed"))
        except Exception as error:  # every failure is the finding
            unreadable.append((name, error))
    listed = S3Admin(cluster.server).keys(BUCKET)

    retries = [record for record in caplog.records if record.msg.startswith("Retrying")]
    report = (
        f"{workload.finished} operations in {elapsed:.1f} s; volume server {workload.victim} "
        f"(pid {workload.killed_pid}, {workload.victim_volumes} of the bucket's volumes) killed "
        f"with {workload.in_flight_at_kill} in flight; "
        f"{workload.started_while_down} started and {workload.finished_while_down} finished "
        f"while it was down; {len(workload.failures)} failed; {len(retries)} retried requests; "
        f"{len(unreadable)} of {len(expected)} final reads failed"
    )
    print(report)  # the counts, for ``pytest -s``
    assert workload.killed_pid is not None, report
    assert workload.in_flight_at_kill > 0, report
    assert workload.started_while_down > 0, report
    assert workload.failures == [], report
    assert set(workload.saved) == set(expected), report
    assert unreadable == [], report
    assert listed == sorted(expected), report
    assert cluster.volumes[workload.victim].running, report
