"""``python -m benchmarks``: every scenario, every contender, one server, one report.

Options: ``--quick`` (tiny sizes, one round: a smoke test of the harness, not a measurement),
``--rounds N``, ``--output PATH`` (default docs/benchmarks.md), ``--no-charts``,
``--no-progress``. The server is SeaweedFS started for the run, or the MinIO given by
``ASYNC_MINIO_BENCH_ENDPOINT``, ``..._ACCESS_KEY``, ``..._SECRET_KEY`` (``..._USE_HTTPS``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from . import environment as env
from .measure import free_port
from .report import print_targets
from .report import write_report
from .scenarios import Parameters
from .scenarios import Progress
from .scenarios import Results
from .scenarios import scenario_asgi
from .scenarios import scenario_collectstatic
from .scenarios import scenario_concurrent
from .scenarios import scenario_large
from .scenarios import scenario_scaling
from .scenarios import scenario_sequential
from .scenarios import scenario_stream_view
from .scenarios import scenario_urls
from .scenarios import scenario_wsgi
from .scenarios import write_static_sources


def url_round_trips(environment: env.Environment) -> str:
    """Prove url() needs no server: sign 1,000 URLs for an endpoint nobody listens on."""
    from async_minio_storage import MinioStorage

    storage = MinioStorage(
        bucket_name=environment.private_bucket, MINIO_ENDPOINT=f"127.0.0.1:{free_port()}"
    )
    for number in range(1000):
        storage.url(f"offline/{number}.txt")
    return "0 round trips: 1,000 presigned URLs signed for an endpoint with no server"


def write_source(path: Path, size: int) -> None:
    block = os.urandom(1024 * 1024)
    with path.open("wb") as handle:
        for offset in range(0, size, len(block)):
            handle.write(block[: min(len(block), size - offset)])


def remove_buckets(environment: env.Environment) -> None:
    for bucket in (environment.private_bucket, environment.public_bucket):
        env.remove_bucket(environment.contenders[env.RAW_SYNC], bucket)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one round")
    parser.add_argument("--rounds", type=int, help="rounds (default 3, or 1 with --quick)")
    parser.add_argument("--output", type=Path, default=env.REPOSITORY / "docs" / "benchmarks.md")
    parser.add_argument("--no-charts", action="store_true", help="skip the PNG charts")
    parser.add_argument("--no-progress", action="store_true", help="no status line on stderr")
    parser.add_argument("--json", type=Path, help="also write every measured value as JSON")
    parser.add_argument(
        "--only",
        action="append",
        metavar="SCENARIO",
        help="run only this scenario (repeatable; e.g. collectstatic); combine with --output",
    )
    arguments = parser.parse_args(argv)
    parameters = Parameters.quick() if arguments.quick else Parameters()
    if arguments.rounds:
        parameters = dataclasses.replace(parameters, rounds=arguments.rounds)

    # A SIGTERM (a CI timeout, say) ends the run through the clean-up below, not around it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    workspace = Path(tempfile.mkdtemp(prefix="async-minio-bench-"))
    server, server_name, seaweedfs = env.start_server(workspace / "seaweedfs")
    private_bucket, public_bucket = env.new_bucket_names()
    environment = env.Environment(server, server_name, private_bucket, public_bucket)
    if seaweedfs is not None and seaweedfs.process is not None:
        environment.s3_pid = seaweedfs.process.pid
    progress = Progress(enabled=not arguments.no_progress)
    try:
        env.configure_django(environment)
        from async_minio_storage import MinioStorage
        from async_minio_storage.buckets import initialize_buckets
        from async_minio_storage.sync_edge import run_on_own_loop

        storage = MinioStorage(bucket_name=private_bucket)
        run_on_own_loop(initialize_buckets([(storage.config, private_bucket)]))
        environment.contenders = env.build_contenders(environment)
        source = workspace / "large-upload.bin"
        write_source(source, parameters.large_size)
        static_sources = workspace / "static"
        write_static_sources(static_sources, parameters.static_files)

        results = Results()
        results.notes["url-offline"] = url_round_trips(environment)
        durations: dict[str, float] = {}
        scenarios = [
            ("url()", scenario_urls, (), False),
            ("sequential sync", scenario_sequential, (), False),
            ("concurrent async", scenario_concurrent, (), False),
            ("scaling", scenario_scaling, (), True),
            ("large file", scenario_large, (source,), True),
            ("ASGI", scenario_asgi, (), False),
            ("streaming view", scenario_stream_view, (source,), True),
            ("collectstatic", scenario_collectstatic, (static_sources,), True),
            ("WSGI", scenario_wsgi, (), True),
        ]
        if arguments.only:
            known = [label for label, *_ in scenarios]
            unknown = set(arguments.only) - set(known)
            if unknown:
                parser.error(f"unknown scenario {sorted(unknown)}; known: {known}")
            scenarios = [entry for entry in scenarios if entry[0] in arguments.only]
        for round_number in range(parameters.rounds):
            for label, scenario, extra, heavy in scenarios:
                if heavy and round_number >= parameters.heavy_rounds:
                    continue
                began = time.monotonic()
                scenario(environment, parameters, results, round_number, progress, *extra)
                durations[label] = durations.get(label, 0.0) + time.monotonic() - began
        results.notes["time spent"] = ", ".join(f"{k} {v:.0f} s" for k, v in durations.items())
        progress.done()
        targets = write_report(
            results,
            parameters,
            server_name,
            arguments.output,
            charts=not arguments.no_charts,
            seconds=time.monotonic() - started,
        )
        print(f"Wrote {arguments.output}")
        if arguments.json:
            arguments.json.write_text(json.dumps(results.as_json(), indent=1))
        print_targets(targets, print)
        return 0
    finally:
        if environment.contenders:
            remove_buckets(environment)
        from async_minio_storage import sync_edge

        sync_edge.stop_portal()
        if seaweedfs is not None:
            seaweedfs.stop()
        shutil.rmtree(workspace, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
