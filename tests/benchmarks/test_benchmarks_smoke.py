"""The benchmark harness in quick mode: every scenario produces a row for every contender.

Tiny sizes and one round: this proves the harness runs against the real server with every
peer installed, so it cannot rot between real runs. It asserts rows, never timings.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]

OURS = ["ours-sync"]
PEERS = ["django-minio-backend", "django-storages"]
ASYNC_UPLOADERS = ["ours-async", *PEERS, "raw-miniopy-async"]
EXPECTED = {
    "url-private": [*OURS, *PEERS, "raw-minio", "raw-miniopy-async"],
    "url-public": [*OURS, *PEERS],
    **{f"{op}-sync": [*OURS, *PEERS, "raw-minio"] for op in ("save", "exists", "size", "read")},
    "upload-async": ASYNC_UPLOADERS,
    "lag-p99": ASYNC_UPLOADERS,
    "lag-max": ASYNC_UPLOADERS,
    **{
        f"scaling-{size}-{concurrency}": ASYNC_UPLOADERS
        for size in (1024, 65536)
        for concurrency in (1, 4)
    },
    **{
        scenario: ["ours-sync", "ours-async", *PEERS, "raw-minio", "raw-miniopy-async"]
        for scenario in ("large-upload", "large-upload-rss", "large-download", "large-download-rss")
    },
    **{
        scenario: ["ours-async", *PEERS, "no-storage"]
        for scenario in (
            "asgi-rps",
            "asgi-p95",
            "asgi-cpu-uvicorn",
            "asgi-cpu-s3",
            "asgi-cpu-client",
        )
    },
    "stream-view-throughput": ["ours-async", *PEERS],
    "stream-view-rss": ["ours-async", *PEERS],
    **{
        scenario: [*OURS, *PEERS]
        for scenario in (
            "collectstatic-first",
            "collectstatic-unchanged",
            "collectstatic-unchanged-touched",
            "collectstatic-10-changed",
            "collectstatic-10-changed-uploads",
        )
    },
    **{
        f"wsgi-{view}-{quantity}": ["ours-async", "django-minio-backend"]
        for view in ("exists", "save")
        for quantity in ("rps", "connections")
    },
}


def test_the_quick_benchmark_produces_every_row(tmp_path):
    report, values = tmp_path / "benchmarks.md", tmp_path / "benchmarks.json"

    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--no-progress",
            "--output",
            str(report),
            "--json",
            str(values),
        ],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    rows = {(row["scenario"], row["contender"]): row for row in json.loads(values.read_text())}
    expected = {
        (scenario, contender) for scenario, names in EXPECTED.items() for contender in names
    }
    assert set(rows) == expected
    assert all(len(row["values"]) == 1 for row in rows.values())
    text = report.read_text()
    assert "## Targets" in text
    assert (tmp_path / "benchmarks-ratios.png").stat().st_size > 0
    assert (tmp_path / "benchmarks-scaling.png").stat().st_size > 0
    for line in completed.stdout.splitlines()[1:]:
        assert line.split()[0] in ("PASS", "FAIL", "n/a"), line
