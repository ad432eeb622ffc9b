"""The scenarios. Each runs every contender that applies, in an order rotated every round."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import functools
import http.client
import io
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from collections.abc import Coroutine
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from datetime import timedelta
from pathlib import Path
from typing import Any

from asgiref.sync import sync_to_async
from django.core.files.base import ContentFile

from . import environment as env
from .measure import LoopLag
from .measure import cpu_seconds
from .measure import free_port
from .measure import median
from .measure import percentile
from .measure import reset_peak_memory
from .measure import resident_memory
from .measure import timed

KiB = 1024
MiB = 1024 * 1024


@dataclass(frozen=True)
class Parameters:
    rounds: int = 3
    heavy_rounds: int = 2  # scenarios 5, 6, 9, 10 and 11 are long: two rounds keep a run short
    url_calls: int = 5000
    sequential_count: int = 100
    small_size: int = 10 * KiB
    concurrent_count: int = 200
    scaling_concurrency: tuple[int, ...] = (1, 8, 32, 128, 512)
    scaling_sizes: tuple[int, ...] = (1 * KiB, 1 * MiB, 16 * MiB)
    scaling_min_count: int = 32
    scaling_budget: int = 128 * MiB
    large_size: int = 200 * MiB
    asgi_seconds: float = 5.0
    asgi_concurrency: int = 50
    static_files: int = 1000
    wsgi_requests: int = 1000
    wsgi_concurrency: int = 20

    @classmethod
    def quick(cls) -> Parameters:
        """Tiny sizes and one round: proves the harness works, measures nothing."""
        return cls(
            rounds=1,
            heavy_rounds=1,
            url_calls=20,
            sequential_count=3,
            concurrent_count=6,
            scaling_concurrency=(1, 4),
            scaling_sizes=(1 * KiB, 64 * KiB),
            scaling_min_count=4,
            scaling_budget=1 * MiB,
            large_size=2 * MiB,
            asgi_seconds=0.5,
            asgi_concurrency=5,
            static_files=30,
            wsgi_requests=40,
            wsgi_concurrency=4,
        )


@dataclass
class Row:
    """One measured quantity for one contender, one value per round."""

    scenario: str
    title: str
    contender: str
    unit: str
    higher_is_better: bool
    values: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return median(self.values)


class Results:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Row] = {}
        self.notes: dict[str, str] = {}
        # Bounds a target compares with that only the run knows (the storage's configuration).
        self.limits: dict[str, float] = {}

    def add(
        self,
        scenario: str,
        title: str,
        contender: str,
        value: float,
        unit: str,
        higher_is_better: bool = True,
    ) -> None:
        row = self.rows.setdefault(
            (scenario, contender), Row(scenario, title, contender, unit, higher_is_better)
        )
        row.values.append(value)

    def scenario(self, scenario: str) -> list[Row]:
        return [row for (name, _), row in self.rows.items() if name == scenario]

    def value(self, scenario: str, contender: str) -> float | None:
        row = self.rows.get((scenario, contender))
        return row.median if row else None

    def as_json(self) -> list[dict[str, Any]]:
        return [
            {
                "scenario": row.scenario,
                "contender": row.contender,
                "unit": row.unit,
                "values": row.values,
                "median": row.median,
            }
            for row in self.rows.values()
        ]


def rotated(contenders: list[str], round_number: int) -> list[str]:
    shift = round_number % len(contenders)
    return contenders[shift:] + contenders[:shift]


class Progress:
    """One status line on stderr: which round, scenario and contender is running."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.started = time.monotonic()

    def show(self, text: str) -> None:
        if self.enabled:
            elapsed = time.monotonic() - self.started
            sys.stderr.write(f"\r\033[K[{elapsed:6.1f} s] {text}")
            sys.stderr.flush()

    def done(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def unique(prefix: str) -> Callable[[], str]:
    counter = itertools.count()
    run = os.urandom(3).hex()
    return lambda: f"{prefix}/{run}/{next(counter)}.bin"


# --- 1. url() ----------------------------------------------------------------------------


def scenario_urls(
    environment: env.Environment,
    parameters: Parameters,
    results: Results,
    round_number: int,
    progress: Progress,
) -> None:
    contenders = environment.contenders
    calls = parameters.url_calls
    keys = [f"photos/{number}.jpg" for number in range(calls)]
    raw_sync = contenders[env.RAW_SYNC]
    expires = timedelta(hours=1)
    private: dict[str, Callable[[], Any]] = {
        env.OURS_SYNC: lambda: [contenders[env.OURS_SYNC][0].url(key) for key in keys],
        env.DMB: lambda: [contenders[env.DMB][0].url(key) for key in keys],
        env.STORAGES: lambda: [contenders[env.STORAGES][0].url(key) for key in keys],
        env.RAW_SYNC: lambda: [
            raw_sync.presigned_get_object(
                bucket_name=environment.private_bucket, object_name=key, expires=expires
            )
            for key in keys
        ],
        env.RAW_ASYNC: lambda: asyncio.run(_raw_async_presign(environment, keys, expires)),
    }
    public: dict[str, Callable[[], Any]] = {
        env.OURS_SYNC: lambda: [contenders[env.OURS_SYNC][1].url(key) for key in keys],
        env.DMB: lambda: [contenders[env.DMB][1].url(key) for key in keys],
        env.STORAGES: lambda: [contenders[env.STORAGES][1].url(key) for key in keys],
    }
    for scenario, title, functions in (
        ("url-private", "url() of a private object (presigned)", private),
        ("url-public", "url() of a public object", public),
    ):
        for contender in rotated(list(functions), round_number):
            progress.show(f"round {round_number + 1}: {scenario}: {contender}")
            functions[contender]()  # warm up: clients, caches
            seconds = timed(functions[contender])
            results.add(scenario, title, contender, calls / seconds, "calls/s")


async def _raw_async_presign(
    environment: env.Environment, keys: list[str], expires: timedelta
) -> None:
    client = env.raw_async_client(environment)
    for key in keys:
        await client.presigned_get_object(environment.private_bucket, key, expires=expires)


# --- 2 and 3. sequential sync operations --------------------------------------------------


def scenario_sequential(
    environment: env.Environment,
    parameters: Parameters,
    results: Results,
    round_number: int,
    progress: Progress,
) -> None:
    contenders = environment.contenders
    count, data = parameters.sequential_count, os.urandom(parameters.small_size)
    raw = contenders[env.RAW_SYNC]
    bucket = environment.private_bucket
    size_label = f"{parameters.small_size // KiB} KB"

    def raw_put(name: str) -> str:
        raw.put_object(
            bucket_name=bucket, object_name=name, data=io.BytesIO(data), length=len(data)
        )
        return name

    def raw_read(name: str) -> bytes:
        response = raw.get_object(bucket_name=bucket, object_name=name)
        try:
            return bytes(response.read())
        finally:
            response.close()
            response.release_conn()

    def storage_read(storage: Any, name: str) -> bytes:
        with storage.open(name) as file:
            return bytes(file.read())

    operations: dict[str, dict[str, Callable[[str], Any]]] = {}
    for contender in (env.OURS_SYNC, env.DMB, env.STORAGES):
        storage = contenders[contender][0]
        operations[contender] = {
            "save": lambda name, s=storage: s.save(name, ContentFile(data)),
            "exists": lambda name, s=storage: s.exists(name),
            "size": lambda name, s=storage: s.size(name),
            "read": lambda name, s=storage: storage_read(s, name),
        }
    operations[env.RAW_SYNC] = {
        "save": raw_put,
        "exists": lambda name: raw.stat_object(bucket_name=bucket, object_name=name),
        "size": lambda name: raw.stat_object(bucket_name=bucket, object_name=name).size,
        "read": raw_read,
    }
    titles = {
        "save": f"sequential sync save() of {size_label} files",
        "exists": "sequential sync exists()",
        "size": "sequential sync size()",
        "read": f"sequential sync open().read() of {size_label}",
    }
    for contender in rotated(list(operations), round_number):
        progress.show(f"round {round_number + 1}: sequential sync: {contender}")
        measure_sequential(contender, operations[contender], count, titles, results)


def measure_sequential(
    contender: str,
    ops: dict[str, Callable[[str], Any]],
    count: int,
    titles: dict[str, str],
    results: Results,
) -> None:
    next_name = unique(f"sequential/{contender}")
    ops["exists"](ops["save"](next_name()))  # warm up: client, connection, loop thread
    names: list[str] = []
    started = time.perf_counter()
    for _ in range(count):
        names.append(ops["save"](next_name()))
    results.add(
        "save-sync", titles["save"], contender, count / (time.perf_counter() - started), "saves/s"
    )
    for operation in ("exists", "size", "read"):
        started = time.perf_counter()
        for name in names:
            ops[operation](name)
        results.add(
            f"{operation}-sync",
            titles[operation],
            contender,
            count / (time.perf_counter() - started),
            "calls/s",
        )


# --- 4, 5 and 7. concurrent uploads from async code ---------------------------------------


ASYNC_UPLOADERS = (env.OURS_ASYNC, env.DMB, env.STORAGES, env.RAW_ASYNC)


async def upload_concurrently(
    environment: env.Environment,
    contender: str,
    count: int,
    size: int,
    concurrency: int,
    client: Any = None,
) -> None:
    """``count`` uploads of ``size`` bytes with at most ``concurrency`` in flight, the way an
    async caller must use each contender."""
    data = os.urandom(size)
    next_name = unique(f"concurrent/{contender}")
    limit = asyncio.Semaphore(concurrency)
    if contender == env.OURS_ASYNC:
        storage = environment.contenders[env.OURS_ASYNC][0]

        async def upload(name: str) -> Any:
            return await storage.asave(name, ContentFile(data))

    elif contender == env.RAW_ASYNC:

        async def upload(name: str) -> Any:
            return await client.put_object(
                environment.private_bucket, name, io.BytesIO(data), len(data)
            )

    else:  # the peers are synchronous: an async view reaches them through sync_to_async
        save = sync_to_async(environment.contenders[contender][0].save)

        async def upload(name: str) -> Any:
            return await save(name, ContentFile(data))

    async def limited(name: str) -> Any:
        async with limit:
            return await upload(name)

    await asyncio.gather(*(limited(next_name()) for _ in range(count)))


def scenario_concurrent(
    environment: env.Environment,
    parameters: Parameters,
    results: Results,
    round_number: int,
    progress: Progress,
) -> None:
    count, size = parameters.concurrent_count, parameters.small_size
    title = f"{count} uploads of {size // KiB} KB from an async caller, all at once"

    async def run(contender: str) -> None:
        client = env.raw_async_client(environment) if contender == env.RAW_ASYNC else None
        # Warm up: a connection and the client, as in a running server.
        await upload_concurrently(environment, contender, 2, size, 2, client)
        async with LoopLag() as lag:
            started = time.perf_counter()
            await upload_concurrently(environment, contender, count, size, count, client)
            seconds = time.perf_counter() - started
        results.add("upload-async", title, contender, count / seconds, "uploads/s")
        lag_title = "event-loop lag while those uploads run (1 ms ticker)"
        results.add("lag-p99", lag_title + ", p99", contender, lag.p99_ms, "ms", False)
        results.add("lag-max", lag_title + ", max", contender, lag.max_ms, "ms", False)
        if client is not None:
            await client.close_session()

    for contender in rotated(list(ASYNC_UPLOADERS), round_number):
        progress.show(f"round {round_number + 1}: concurrent uploads: {contender}")
        asyncio.run(run(contender))


def scaling_points(parameters: Parameters) -> list[tuple[int, int, int]]:
    """(size, concurrency, count) of each scaling point within the byte budget."""
    points = []
    for size in parameters.scaling_sizes:
        for concurrency in parameters.scaling_concurrency:
            count = min(
                max(concurrency, parameters.scaling_min_count), parameters.scaling_budget // size
            )
            if count >= concurrency:
                points.append((size, concurrency, count))
    return points


def scaling_scenario(size: int, concurrency: int) -> str:
    return f"scaling-{size}-{concurrency}"


def human_size(size: int) -> str:
    return f"{size // MiB} MB" if size >= MiB else f"{size // KiB} KB"


def scenario_scaling(
    environment: env.Environment,
    parameters: Parameters,
    results: Results,
    round_number: int,
    progress: Progress,
) -> None:
    for size, concurrency, count in scaling_points(parameters):
        scenario = scaling_scenario(size, concurrency)
        title = f"{count} uploads of {human_size(size)}, {concurrency} at a time"

        for contender in rotated(list(ASYNC_UPLOADERS), round_number):
            progress.show(f"round {round_number + 1}: scaling {title}: {contender}")
            seconds = asyncio.run(timed_uploads(environment, contender, count, size, concurrency))
            results.add(scenario, title, contender, count * size / MiB / seconds, "MB/s")


async def timed_uploads(
    environment: env.Environment, contender: str, count: int, size: int, concurrency: int
) -> float:
    client = env.raw_async_client(environment) if contender == env.RAW_ASYNC else None
    await upload_concurrently(environment, contender, 1, 1024, 1, client)  # warm up
    started = time.perf_counter()
    await upload_concurrently(environment, contender, count, size, concurrency, client)
    seconds = time.perf_counter() - started
    if client is not None:
        await client.close_session()
    return seconds


# --- 6. one large upload and download, each contender in a fresh process -------------------


LARGE_CONTENDERS = (
    env.OURS_SYNC,
    env.OURS_ASYNC,
    env.DMB,
    env.STORAGES,
    env.RAW_SYNC,
    env.RAW_ASYNC,
)


def scenario_large(
    environment: env.Environment,
    parameters: Parameters,
    results: Results,
    round_number: int,
    progress: Progress,
    source: Path,
) -> None:
    size_label = human_size(parameters.large_size)
    for contender in rotated(list(LARGE_CONTENDERS), round_number):
        progress.show(f"round {round_number + 1}: large file ({size_label}): {contender}")
        completed = subprocess.run(
            [sys.executable, "-m", "benchmarks.large_file", contender, str(source)],
            env={**os.environ, **environment.environ()},
            capture_output=True,
            text=True,
            check=False,
            cwd=env.REPOSITORY,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"large_file {contender} failed:\n{completed.stderr}")
        measured = json.loads(completed.stdout.strip().splitlines()[-1])
        results.add(
            "large-upload",
            f"upload of {size_label} from a file on disk",
            contender,
            measured["upload_mb_s"],
            "MB/s",
        )
        results.add(
            "large-upload-rss",
            f"peak memory growth uploading {size_label}",
            contender,
            measured["upload_rss_mb"],
            "MB",
            False,
        )
        results.add(
            "large-download",
            f"streamed download of {size_label}",
            contender,
            measured["download_mb_s"],
            "MB/s",
        )
        results.add(
            "large-download-rss",
            f"peak memory growth downloading {size_label}",
            contender,
            measured["download_rss_mb"],
            "MB",
            False,
        )


# --- 8. end to end: an ASGI server with an upload view per backend -------------------------


ASGI_CONTENDERS = (env.OURS_ASYNC, env.DMB, env.STORAGES)


@contextlib.contextmanager
def asgi_server(environment: env.Environment) -> Iterator[tuple[str, int]]:
    """uvicorn serving ``benchmarks.asgi_app`` in a process of its own; yields its URL and
    process id.

    Each contender gets a fresh server, so that one cannot slow the next down (django-storages
    leaves hundreds of threads and boto3 clients behind).
    """
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "benchmarks.asgi_app:application"]
    options = ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(
        [*command, *options, "--no-access-log", "--lifespan", "off"],
        cwd=env.REPOSITORY,
        env={**os.environ, **environment.environ()},
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base_url}/", timeout=1)
            except urllib.error.HTTPError:
                break  # up: it answers 404 for /
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("uvicorn did not start") from None
                time.sleep(0.1)
        yield base_url, process.pid
    finally:
        process.terminate()
        process.wait(30)


def scenario_asgi(
    environment: env.Environment,
    parameters: Parameters,
    results: Results,
    round_number: int,
    progress: Progress,
) -> None:
    """Each contender's view under ``asgi_concurrency`` clients for ``asgi_seconds``.

    Time-boxed rather than counted: django-storages builds a boto3 client for every request
    under ASGI (Django gives each request its own thread, and its clients are per thread), so
    a fixed count would take minutes for it alone.
    """
    import aiohttp

    data = os.urandom(parameters.small_size)
    title = (
        f"ASGI upload view under {parameters.asgi_concurrency} concurrent clients "
        f"({parameters.small_size // KiB} KB each)"
    )

    async def load(contender: str, base_url: str) -> tuple[int, float, list[float]]:
        latencies: list[float] = []
        names = itertools.count()
        connector = aiohttp.TCPConnector(limit=parameters.asgi_concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def one() -> None:
                started = time.perf_counter()
                url = f"{base_url}/upload/{contender}/{next(names)}.bin"
                async with session.post(url, data=data) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"{contender}: HTTP {response.status}")
                latencies.append(time.perf_counter() - started)

            async def client(deadline: float) -> None:
                while time.perf_counter() < deadline:
                    await one()

            await asyncio.gather(*(one() for _ in range(min(5, parameters.asgi_concurrency))))
            latencies.clear()  # warm-up done
            started = time.perf_counter()
            deadline = started + parameters.asgi_seconds
            await asyncio.gather(*(client(deadline) for _ in range(parameters.asgi_concurrency)))
            return len(latencies), time.perf_counter() - started, latencies

    for contender in rotated([*ASGI_CONTENDERS, env.NO_STORAGE], round_number):
        progress.show(f"round {round_number + 1}: ASGI end to end: {contender}")
        with asgi_server(environment) as (base_url, server_pid):
            # CPU of each process while the clients run: uvicorn, the S3 server, the clients.
            processes = {"asgi-cpu-uvicorn": server_pid, "asgi-cpu-s3": environment.s3_pid}
            before = {key: cpu_seconds(pid) for key, pid in processes.items()}
            client_before = time.process_time()
            count, seconds, latencies = asyncio.run(load(contender, base_url))
            client_cpu = time.process_time() - client_before
            spent = {key: cpu_seconds(pid) - before[key] for key, pid in processes.items()}
        results.add("asgi-rps", title + ", requests/s", contender, count / seconds, "requests/s")
        cpu_title = "CPU time per request in that test, "
        for key, where in (
            ("asgi-cpu-uvicorn", "in the ASGI server (uvicorn + Django + storage)"),
            ("asgi-cpu-s3", "in the S3 server"),
        ):
            if processes[key]:
                results.add(
                    key, cpu_title + where, contender, spent[key] / count * 1000, "ms", False
                )
        results.add(
            "asgi-cpu-client",
            cpu_title + "in the load generator",
            contender,
            client_cpu / count * 1000,
            "ms",
            False,
        )
        results.add(
            "asgi-p95",
            title + ", p95 latency",
            contender,
            percentile(latencies, 0.95) * 1000,
            "ms",
            False,
        )


# --- 9. a large object streamed through a Django view to an HTTP client --------------------


STREAM_CONTENDERS = (env.OURS_ASYNC, env.DMB, env.STORAGES)
WARM_UP_SIZE = 64 * KiB


def upload_stream_objects(environment: env.Environment, source: Path) -> tuple[str, str]:
    """Store ``source`` and a small warm-up object for the download views; return their names."""
    from django.core.files import File

    storage = environment.contenders[env.OURS_SYNC][0]
    prefix = f"stream/{os.urandom(3).hex()}"
    with source.open("rb") as handle:
        name = storage.save(f"{prefix}/object.bin", File(handle, name=source.name))
    warm_up = storage.save(f"{prefix}/warm-up.bin", ContentFile(os.urandom(WARM_UP_SIZE)))
    return name, warm_up


async def read_body(url: str, size: int) -> float:
    """Seconds from sending a GET for ``url`` to the last byte of its body, which must be
    ``size`` bytes long."""
    import aiohttp

    received = 0
    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        async with session.get(url) as response:
            async for chunk in response.content.iter_chunked(256 * KiB):
                received += len(chunk)
        seconds = time.perf_counter() - started
    if response.status != 200 or received != size:
        raise RuntimeError(f"{url}: HTTP {response.status}, {received} of {size} bytes")
    return seconds


def scenario_stream_view(
    environment: env.Environment,
    parameters: Parameters,
    results: Results,
    round_number: int,
    progress: Progress,
    source: Path,
) -> None:
    """Each contender's download view (``benchmarks.asgi_app``) serving the large object to
    one HTTP client.

    Each contender gets a fresh server, warmed by one small download (imports, clients), whose
    peak memory is then reset: the growth measured is what one large download costs the
    server, which is what decides how many a worker can serve at once. Both peers' ``open()``
    hold the whole object in memory before the first byte goes out: django-minio-backend reads
    it into a ``BytesIO``, django-storages into a ``SpooledTemporaryFile`` that, with its
    default ``AWS_S3_MAX_MEMORY_SIZE = 0``, never spills to disk.
    """
    size_label = human_size(parameters.large_size)
    name, warm_up = upload_stream_objects(environment, source)
    for contender in rotated(list(STREAM_CONTENDERS), round_number):
        progress.show(f"round {round_number + 1}: streaming view ({size_label}): {contender}")
        with asgi_server(environment) as (base_url, server_pid):
            asyncio.run(read_body(f"{base_url}/download/{contender}/{warm_up}", WARM_UP_SIZE))
            before = reset_peak_memory(server_pid)
            url = f"{base_url}/download/{contender}/{name}"
            seconds = asyncio.run(read_body(url, parameters.large_size))
            growth = (resident_memory(server_pid)[1] - before) / MiB
        results.add(
            "stream-view-throughput",
            f"{size_label} streamed through an async Django view to an HTTP client",
            contender,
            parameters.large_size / MiB / seconds,
            "MB/s",
        )
        results.add(
            "stream-view-rss",
            f"peak memory growth of the ASGI server streaming {size_label}",
            contender,
            growth,
            "MB",
            False,
        )


# --- 10. collectstatic: our command against Django's, for each storage -----------------------


COLLECTSTATIC_CONTENDERS = (env.OURS_SYNC, env.DMB, env.STORAGES)
CHANGED_FILES = 10
# Where a front end's build leaves its files, and of what kind: cycled through, so that four in
# ten are scripts, two in ten style sheets, the rest icons and images.
STATIC_LAYOUT = (
    ("js", ".js"),
    ("js/vendor", ".js"),
    ("css", ".css"),
    ("img/icons", ".svg"),
    ("js", ".js"),
    ("img", ".png"),
    ("css/components", ".css"),
    ("img/icons", ".svg"),
    ("js/vendor", ".js"),
    ("img/icons", ".svg"),
)


def write_static_sources(folder: Path, count: int) -> None:
    """``count`` files of 1 to 8 KB in a few directories, the same on every run: text for
    scripts, style sheets and icons, random bytes for images."""
    generator = random.Random(count)  # noqa: S311 - reproducible test data, not a secret
    for number in range(count):
        directory, suffix = STATIC_LAYOUT[number % len(STATIC_LAYOUT)]
        size = generator.randint(1 * KiB, 8 * KiB)
        data = generator.randbytes(size)
        if suffix != ".png":
            data = base64.encodebytes(data)[:size]
        path = folder / directory / f"file{number:04}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def static_storages(environment: env.Environment, contender: str, bucket: str) -> dict[str, Any]:
    """``STORAGES`` with each contender's static storage for ``bucket``, as its users set it.

    django-storages' ``S3Storage`` keeps its default ``file_overwrite=True``, as its static
    storages do; django-minio-backend reads its options from ``STORAGES``.
    """
    from django.conf import settings

    if contender == env.OURS_SYNC:
        backend = "async_minio_storage.MinioStaticStorage"
        options: dict[str, Any] = {"bucket_name": bucket}
    elif contender == env.DMB:
        backend = "django_minio_backend.models.MinioBackendStatic"
        options = {**environment.minio_settings(), "MINIO_STATIC_FILES_BUCKET": bucket}
    else:
        backend = "storages.backends.s3.S3Storage"
        options = env.django_storages_options(environment.server, bucket)
    return {**settings.STORAGES, "staticfiles": {"BACKEND": backend, "OPTIONS": options}}


def collectstatic_seconds(
    environment: env.Environment, contender: str, bucket: str, sources: Path
) -> float:
    """Seconds one ``collectstatic`` took: ours with this package's command, the peers with
    Django's (what their users run), each with fresh storage objects."""
    from django.contrib.staticfiles.management.commands import collectstatic as django_command
    from django.core.management import call_command
    from django.test import override_settings

    from async_minio_storage.management.commands import collectstatic as our_command

    module = our_command if contender == env.OURS_SYNC else django_command
    storages = static_storages(environment, contender, bucket)
    with override_settings(STORAGES=storages, STATICFILES_DIRS=[str(sources)]):
        command = module.Command(stdout=io.StringIO())
        return timed(lambda: call_command(command, interactive=False, verbosity=0))


WARM_UP_KEY = "benchmark-warm-up"


@contextlib.contextmanager
def created_buckets(environment: env.Environment, buckets: list[str]) -> Iterator[None]:
    """Empty buckets for a round, each written to once and emptied again before use.

    SeaweedFS allocates a bucket's storage on its first write: that PUT took 205 ms, every
    time, against 3 ms for the next ones. MinIO has no such cost, and it belongs to the server,
    not to any backend: left in, it would be charged to each contender's first run, a fifth of
    ours and a twentieth of the peers'.
    """
    client = environment.contenders[env.RAW_SYNC]
    for bucket in buckets:
        client.make_bucket(bucket_name=bucket)
        client.put_object(
            bucket_name=bucket, object_name=WARM_UP_KEY, data=io.BytesIO(b"."), length=1
        )
        client.remove_object(bucket_name=bucket, object_name=WARM_UP_KEY)
    try:
        yield
    finally:
        for bucket in buckets:
            env.remove_bucket(client, bucket)


def stored_versions(environment: env.Environment, bucket: str) -> dict[str, tuple[Any, Any]]:
    """Each object's (ETag, LastModified): a key whose pair changes was uploaded again."""
    client = environment.contenders[env.RAW_SYNC]
    return {
        item.object_name: (item.etag, item.last_modified)
        for item in client.list_objects(bucket_name=bucket, recursive=True)
    }


def a_second_after(moment: float) -> None:
    """Sleep until a second after ``moment`` (a ``time.time()``).

    Django's command compares modification times in whole seconds and skips a file whose
    stored copy is as new as the source: a file touched within the second of its upload would
    look unmodified, which no deploy sees.
    """
    time.sleep(max(0.0, moment + 1.0 - time.time()))


def scenario_collectstatic(
    environment: env.Environment,
    parameters: Parameters,
    results: Results,
    round_number: int,
    progress: Progress,
    sources: Path,
) -> None:
    """``collectstatic`` of ``static_files`` small files, four times, each contender into a
    bucket of its own, created empty for the round.

    1. ``collectstatic-first``: into the empty bucket.
    2. ``collectstatic-unchanged``: again, nothing changed, modification times kept. The fair
       case for the peers: Django's command asks for each file whether it exists and when it
       was modified (two HEAD requests), finds the stored copy newer, and skips it.
    3. ``collectstatic-unchanged-touched``: again, nothing changed, but every source file
       touched first, as a fresh ``git checkout`` or ``docker build`` leaves them. The realistic
       deploy: Django's test sees newer sources and uploads everything again; ours compares
       content (MD5 against the listing's ETags) and uploads nothing.
    4. ``collectstatic-10-changed``: ``CHANGED_FILES`` files get new content (nothing else is
       touched, so every contender can skip the rest), and the row ``...-uploads`` counts the
       objects whose ETag or LastModified that run changed, from listings before and after.

    In-process, under ``override_settings``: the storage handler and ``staticfiles_storage``
    are rebuilt when ``STORAGES`` changes, so every run builds its storage (and client) anew,
    as ``manage.py collectstatic`` does.
    """
    count = parameters.static_files
    run = os.urandom(3).hex()
    buckets = {
        contender: f"bench-{run}-static-{index}"
        for index, contender in enumerate(COLLECTSTATIC_CONTENDERS)
    }
    contenders = rotated(list(COLLECTSTATIC_CONTENDERS), round_number)
    files = sorted(path for path in sources.rglob("*") if path.is_file())
    size = sum(path.stat().st_size for path in files)
    results.notes["collectstatic"] = (
        f"{count:,} source files, {size / KiB:,.0f} KB in all; ours runs this package's "
        "command, the peers Django's"
    )

    def collect_each(scenario: str, title: str) -> float:
        for contender in contenders:
            progress.show(f"round {round_number + 1}: {scenario}: {contender}")
            seconds = collectstatic_seconds(environment, contender, buckets[contender], sources)
            results.add(scenario, title, contender, seconds, "s", False)
        return time.time()

    with created_buckets(environment, list(buckets.values())):
        collect_each("collectstatic-first", f"`collectstatic` of {count:,} files, empty bucket")
        finished = collect_each(
            "collectstatic-unchanged", "`collectstatic` again: nothing changed, mtimes kept"
        )
        a_second_after(finished)
        for path in files:
            os.utime(path)
        finished = collect_each(
            "collectstatic-unchanged-touched",
            "`collectstatic` again: nothing changed, every file touched (a fresh checkout)",
        )
        a_second_after(finished)
        step = len(files) // CHANGED_FILES  # spread over the folders, other files each round
        for path in files[round_number % step :: step][:CHANGED_FILES]:
            with path.open("ab") as handle:
                handle.write(f"\n/* changed in round {round_number + 1} */\n".encode())
        before = {
            contender: stored_versions(environment, buckets[contender]) for contender in contenders
        }
        collect_each(
            "collectstatic-10-changed", f"`collectstatic` again: {CHANGED_FILES} files changed"
        )
        for contender in contenders:
            after = stored_versions(environment, buckets[contender])
            uploaded = sum(before[contender].get(key) != version for key, version in after.items())
            results.add(
                "collectstatic-10-changed-uploads",
                "objects that run uploaded (from listings before and after)",
                contender,
                uploaded,
                "objects",
                False,
            )


# --- 11. an async view under WSGI: gunicorn's sync workers, through a counting proxy --------


WSGI_CONTENDERS = (env.OURS_ASYNC, env.DMB)
WSGI_WORKERS = 2
STOP_TIMEOUT = 30.0


@contextlib.contextmanager
def wsgi_server(environment: env.Environment, store: str) -> Iterator[tuple[int, int]]:
    """``gunicorn -w 2 -k sync`` serving ``benchmarks.wsgi_app`` with its storage pointed at
    ``store`` (host:port); yields its port and process id once every worker answers.

    In a session of its own, so that if the master does not stop within ``STOP_TIMEOUT`` of a
    SIGTERM its workers can be killed with it.
    """
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", f"--workers={WSGI_WORKERS}", "--worker-class=sync"]
    options = [f"--bind=127.0.0.1:{port}", "--log-level=warning", "--no-control-socket"]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [*command, *options, "benchmarks.wsgi_app:application"],
            cwd=env.REPOSITORY,
            env={**os.environ, **environment.environ(), "BENCH_ENDPOINT": store},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for_workers(port, process, log)
            yield port, process.pid
        finally:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(STOP_TIMEOUT)


def wait_for_workers(port: int, process: subprocess.Popen[bytes], log: Any) -> None:
    """Poll ``/worker`` until every worker has answered (each answer holds its worker busy for
    a moment, so probes sent together reach them all), for at most a minute."""
    seen: set[bytes] = set()

    def probe() -> bytes:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/worker", timeout=5) as answer:
            return bytes(answer.read())

    deadline = time.monotonic() + 60
    with concurrent.futures.ThreadPoolExecutor(WSGI_WORKERS * 2) as pool:
        while len(seen) < WSGI_WORKERS:
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                output = log.read().decode(errors="replace")
                raise RuntimeError(f"gunicorn's {WSGI_WORKERS} workers did not start:\n{output}")
            try:
                seen.update(pool.map(lambda _: probe(), range(WSGI_WORKERS * 2)))
            except OSError:
                time.sleep(0.1)


def drive_requests(
    port: int, numbers: range, concurrency: int, request: Callable[[int], tuple[str, str, bytes]]
) -> float:
    """Send a request for each of ``numbers`` from ``concurrency`` threads, each with its own
    HTTP connection; return the seconds they took.

    ``request(number)`` gives each one's method, path and body; any answer but 200 is an error.
    gunicorn's sync workers close each connection after their answer, and ``http.client`` opens
    the next one as it sends the next request.
    """
    pending = iter(numbers)
    lock = threading.Lock()

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            while True:
                with lock:
                    number = next(pending, None)
                if number is None:
                    return
                method, url, body = request(number)
                connection.request(method, url, body=body or None)
                response = connection.getresponse()
                answer = response.read()
                if response.status != 200:
                    raise RuntimeError(f"{method} {url}: HTTP {response.status}: {answer[:200]!r}")
        finally:
            connection.close()

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(client) for _ in range(concurrency)]:
            future.result()
    return time.perf_counter() - started


def scenario_wsgi(
    environment: env.Environment,
    parameters: Parameters,
    results: Results,
    round_number: int,
    progress: Progress,
) -> None:
    """An ``async def`` view per backend (``benchmarks.wsgi_app``) under gunicorn's sync workers,
    ``wsgi_requests`` requests from ``wsgi_concurrency`` clients, each view on a fresh server.

    Two views: one awaits an existence check of one small object, one stores the request's
    small body. Each server's storage reaches the S3 server through a :class:`CountingProxy`
    of its own, so the proxy's count is every TCP connection that server's workers opened to
    the store: at start-up, in the warm-up (one request per client) and in the timed requests.
    Under WSGI Django runs an async view on an event loop made for that request; a storage that
    kept its connections on that loop would open one for every request.
    """
    from .counting_proxy import CountingProxy

    if environment.server.use_https:
        results.notes["async view under WSGI"] = "skipped: the counting proxy needs plain HTTP"
        return
    storage = environment.contenders[env.OURS_SYNC][0]
    slots = storage.config.max_connections
    results.limits["wsgi-connections"] = WSGI_WORKERS * slots
    count, concurrency = parameters.wsgi_requests, parameters.wsgi_concurrency
    results.notes["async view under WSGI"] = (
        f"gunicorn {env.version('gunicorn')}, {WSGI_WORKERS} sync workers, "
        f"MINIO_MAX_CONNECTIONS={slots}; {count:,} requests from {concurrency} clients after "
        "a warm-up of one request per client; connections counted by a TCP proxy in front of "
        "the S3 server from the workers' start-up on"
    )
    probe = storage.save(f"wsgi/{os.urandom(3).hex()}/probe.bin", ContentFile(b"probe"))
    data = os.urandom(parameters.small_size)
    host, _, target_port = environment.server.endpoint.rpartition(":")
    setup = f"under WSGI (gunicorn, {WSGI_WORKERS} sync workers, {concurrency} clients)"
    views: dict[str, tuple[str, Callable[[str, int], tuple[str, str, bytes]]]] = {
        "exists": (
            f"async view checking that one object exists {setup}",
            lambda contender, _: ("GET", f"/exists/{contender}/{probe}", b""),
        ),
        "save": (
            f"async view saving {parameters.small_size // KiB} KB {setup}",
            lambda contender, number: ("POST", f"/save/{contender}/{number}.bin", data),
        ),
    }
    for view, (title, request) in views.items():
        for contender in rotated(list(WSGI_CONTENDERS), round_number):
            progress.show(f"round {round_number + 1}: async view under WSGI ({view}): {contender}")
            with (
                CountingProxy(host, int(target_port)) as proxy,
                wsgi_server(environment, proxy.endpoint) as (port, _),
            ):
                send = functools.partial(request, contender)
                drive_requests(port, range(count, count + concurrency), concurrency, send)
                seconds = drive_requests(port, range(count), concurrency, send)
                connections = proxy.accepted
            results.add(
                f"wsgi-{view}-rps", title + ", requests/s", contender, count / seconds, "requests/s"
            )
            results.add(
                f"wsgi-{view}-connections",
                f"TCP connections its workers opened to the store (start-up, warm-up and "
                f"{count:,} requests)",
                contender,
                connections,
                "connections",
                False,
            )


ScenarioFunction = Callable[..., None]
AsyncFunction = Callable[..., Coroutine[Any, Any, None]]
