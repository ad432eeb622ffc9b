"""The report: Markdown tables with ratios, the targets with PASS/FAIL, and PNG charts."""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from pathlib import Path

from . import environment as env
from .scenarios import Parameters
from .scenarios import Results
from .scenarios import human_size
from .scenarios import scaling_points
from .scenarios import scaling_scenario

PEERS = (env.DMB, env.STORAGES)
ANALYSIS = Path(__file__).with_name("analysis.md")
COLORS = {
    env.OURS_ASYNC: "tab:blue",
    env.OURS_SYNC: "tab:cyan",
    env.DMB: "tab:orange",
    env.STORAGES: "tab:red",
    env.RAW_ASYNC: "tab:purple",
    env.RAW_SYNC: "tab:brown",
    env.NO_STORAGE: "tab:gray",
}

TABLES = [
    ("1. `url()`", ["url-private", "url-public"]),
    ("2. Sequential sync `save()`", ["save-sync"]),
    ("3. Sequential sync reads", ["exists-sync", "size-sync", "read-sync"]),
    ("4. Concurrent uploads from an async caller", ["upload-async"]),
    (
        "6. One large upload and download (each contender in a fresh process)",
        ["large-upload", "large-upload-rss", "large-download", "large-download-rss"],
    ),
    ("7. Event-loop lag during scenario 4", ["lag-p99", "lag-max"]),
    (
        "8. End to end: an ASGI server with an upload view per backend",
        ["asgi-rps", "asgi-p95", "asgi-cpu-uvicorn", "asgi-cpu-s3", "asgi-cpu-client"],
    ),
    (
        "9. A large object streamed through a download view per backend (ASGI, one client)",
        ["stream-view-throughput", "stream-view-rss"],
    ),
    (
        "10. `collectstatic` (ours: this package's command; the peers: Django's)",
        [
            "collectstatic-first",
            "collectstatic-unchanged-touched",
            "collectstatic-unchanged",
            "collectstatic-10-changed",
            "collectstatic-10-changed-uploads",
        ],
    ),
    (
        "11. An async view under WSGI (gunicorn sync workers, the store behind a counting proxy)",
        ["wsgi-exists-rps", "wsgi-exists-connections", "wsgi-save-rps", "wsgi-save-connections"],
    ),
]


@dataclass
class Target:
    description: str
    measured: str
    passed: bool | None  # None: could not be evaluated (a contender missing)


def ratio(results: Results, scenario: str, contender: str, other: str) -> float | None:
    mine, theirs = results.value(scenario, contender), results.value(scenario, other)
    if mine is None or theirs is None or theirs == 0:
        return None
    return mine / theirs


def advantage(results: Results, scenario: str, contender: str, other: str) -> float | None:
    """How many times better ``contender`` did than ``other``: the ratio of their medians,
    inverted for rows where lower is better (seconds, memory)."""
    value = ratio(results, scenario, contender, other)
    row = results.rows.get((scenario, contender))
    if value is None or row is None or row.higher_is_better:
        return value
    return 1 / value if value else None


def best_peer(results: Results, scenario: str) -> str:
    values = {peer: results.value(scenario, peer) or 0.0 for peer in PEERS}
    return max(values, key=lambda peer: values[peer])


def evaluate_targets(results: Results, parameters: Parameters) -> list[Target]:
    targets = []

    def at_least(description: str, value: float | None, bound: float, unit: str = "×") -> None:
        shown = "n/a" if value is None else f"{value:.2f}{unit}"
        targets.append(Target(description, shown, None if value is None else value >= bound))

    def at_most(description: str, value: float | None, bound: float, unit: str) -> None:
        shown = "n/a" if value is None else f"{value:.1f} {unit}"
        targets.append(Target(description, shown, None if value is None else value <= bound))

    at_least(
        "`url()` private ≥ 3× django-minio-backend",
        ratio(results, "url-private", env.OURS_SYNC, env.DMB),
        3,
    )
    at_least(
        "`url()` private ≥ 8× django-storages",
        ratio(results, "url-private", env.OURS_SYNC, env.STORAGES),
        8,
    )
    offline = results.notes.get("url-offline")
    targets.append(
        Target(
            "`url()` makes no network round trip",
            offline or "n/a",
            None if offline is None else offline.startswith("0 "),
        )
    )
    at_least(
        "sequential sync `save()` ≥ 1.5× django-minio-backend",
        ratio(results, "save-sync", env.OURS_SYNC, env.DMB),
        1.5,
    )
    small = f"{parameters.small_size // 1024} KB"
    for scenario, operation in (
        ("exists-sync", "`exists()`"),
        ("size-sync", "`size()`"),
        ("read-sync", f"`open().read()` of {small}"),
    ):
        at_least(
            f"sequential sync {operation} ≥ 1.1× django-minio-backend",
            ratio(results, scenario, env.OURS_SYNC, env.DMB),
            1.1,
        )
    peer = best_peer(results, "upload-async")
    at_least(
        f"concurrent async uploads ≥ 4× the best peer ({peer})",
        ratio(results, "upload-async", env.OURS_ASYNC, peer),
        4,
    )
    at_least(
        "concurrent async uploads ≥ 0.85× raw miniopy-async",
        ratio(results, "upload-async", env.OURS_ASYNC, env.RAW_ASYNC),
        0.85,
    )
    behind = []
    for size, concurrency, _ in scaling_points(parameters):
        scenario = scaling_scenario(size, concurrency)
        ours = results.value(scenario, env.OURS_ASYNC) or 0.0
        for other in PEERS:
            if (results.value(scenario, other) or 0.0) >= ours:
                behind.append(f"{human_size(size)}×{concurrency} vs {other}")
    targets.append(
        Target(
            "ahead of every peer at every scaling point",
            "ahead everywhere" if not behind else "behind at " + ", ".join(behind),
            not behind,
        )
    )
    # The sync download's bound is the tighter: a WSGI worker holds no more than it streams.
    for api, download_bound in ((env.OURS_SYNC, 32), (env.OURS_ASYNC, 64)):
        at_most(
            f"large upload peak memory growth ≤ 64 MB ({api})",
            results.value("large-upload-rss", api),
            64,
            "MB",
        )
        at_most(
            f"large download peak memory growth ≤ {download_bound} MB ({api})",
            results.value("large-download-rss", api),
            download_bound,
            "MB",
        )
    at_least(
        "large upload ≥ 0.85× the raw async ceiling (async API)",
        ratio(results, "large-upload", env.OURS_ASYNC, env.RAW_ASYNC),
        0.85,
    )
    at_least(
        "large download ≥ 0.85× the raw async ceiling (async API)",
        ratio(results, "large-download", env.OURS_ASYNC, env.RAW_ASYNC),
        0.85,
    )
    at_least(
        "large upload ≥ 0.85× the raw sync ceiling (sync API)",
        ratio(results, "large-upload", env.OURS_SYNC, env.RAW_SYNC),
        0.85,
    )
    at_least(
        "large download ≥ 0.95× the raw sync ceiling (sync API)",
        ratio(results, "large-download", env.OURS_SYNC, env.RAW_SYNC),
        0.95,
    )
    at_most(
        "event-loop lag p99 ≤ 5 ms during concurrent uploads",
        results.value("lag-p99", env.OURS_ASYNC),
        5,
        "ms",
    )
    peer = best_peer(results, "asgi-rps")
    at_least(
        f"ASGI end to end ≥ 3× the requests per second of the best peer ({peer})",
        ratio(results, "asgi-rps", env.OURS_ASYNC, peer),
        3,
    )
    at_most(
        "streaming view peak memory growth ≤ 32 MB (async API, `serve_object`)",
        results.value("stream-view-rss", env.OURS_ASYNC),
        32,
        "MB",
    )
    for peer in PEERS:
        at_least(
            f"`collectstatic` first run ≥ 5× faster than {peer}",
            advantage(results, "collectstatic-first", env.OURS_SYNC, peer),
            5,
        )
    # Nothing changed, two ways: modification times kept (Django's test lets the peers skip
    # every upload, at two requests a file) and every file touched, as a deploy from a fresh
    # checkout or image sees it (the peers upload everything again).
    for scenario, how in (
        ("collectstatic-unchanged", "mtimes kept"),
        ("collectstatic-unchanged-touched", "every file touched"),
    ):
        for peer in PEERS:
            at_least(
                f"`collectstatic` with nothing changed ({how}) ≥ 20× faster than {peer}",
                advantage(results, scenario, env.OURS_SYNC, peer),
                20,
            )
    uploads = results.rows.get(("collectstatic-10-changed-uploads", env.OURS_SYNC))
    targets.append(
        Target(
            "`collectstatic` after 10 files changed uploads exactly 10 objects (every round)",
            "n/a" if uploads is None else ", ".join(f"{value:.0f}" for value in uploads.values),
            None if uploads is None else all(value == 10 for value in uploads.values),
        )
    )
    # The bound is the storage's own: each worker's portal loop admits MINIO_MAX_CONNECTIONS.
    bound = results.limits.get("wsgi-connections")
    for view, method in (("exists", "aexists"), ("save", "asave")):
        value = results.value(f"wsgi-{view}-connections", env.OURS_ASYNC)
        shown = "n/a" if value is None or bound is None else f"{value:.0f} (bound {bound:.0f})"
        targets.append(
            Target(
                f"async view under WSGI (`{method}`): TCP connections to the store ≤ workers × "
                f"MINIO_MAX_CONNECTIONS over {parameters.wsgi_requests:,} requests",
                shown,
                None if value is None or bound is None else value <= bound,
            )
        )
    return targets


def machine() -> list[str]:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return [
        f"{os.cpu_count()} cores ({cpu}), {memory_kb / 1024 / 1024:.0f} GiB RAM",
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}",
    ]


def format_value(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def scenario_table(results: Results, scenario: str) -> list[str]:
    rows = results.scenario(scenario)
    if not rows:
        return []
    first = rows[0]
    better = "higher is better" if first.higher_is_better else "lower is better"
    lines = [
        f"**{first.title}** ({first.unit}, {better})",
        "",
        f"| contender | median | rounds | × {env.BASELINE} |",
        "|---|---:|---|---:|",
    ]
    baseline = results.value(scenario, env.BASELINE)
    for row in sorted(rows, key=lambda r: -r.median if r.higher_is_better else r.median):
        factor = "–"
        if baseline and row.median and not math.isnan(row.median):
            factor = (
                f"{row.median / baseline:.2f}×"
                if row.higher_is_better
                else (f"{baseline / row.median:.2f}×" if row.median else "–")
            )
        rounds = ", ".join(format_value(value) for value in row.values)
        lines.append(
            f"| {env.LABELS[row.contender]} | {format_value(row.median)} | {rounds} | {factor} |"
        )
    return [*lines, ""]


def write_report(
    results: Results,
    parameters: Parameters,
    server_name: str,
    output: Path,
    charts: bool,
    seconds: float,
) -> list[Target]:
    targets = evaluate_targets(results, parameters)
    packages = sorted({(env.PACKAGES[c], env.version(env.PACKAGES[c])) for c in env.LABELS})
    others = [
        ("aiohttp", env.version("aiohttp")),
        ("boto3", env.version("boto3")),
        ("uvicorn", env.version("uvicorn")),
        ("gunicorn", env.version("gunicorn")),
    ]
    lines = [
        "# Benchmarks",
        "",
        "Produced by `python -m benchmarks` (`./dev.sh bench`, see Performance); every number "
        "below comes from the "
        "one run described here. Ratios compare medians measured in that run, on the same "
        "server, with contenders alternating over the rounds. For “lower is better” rows the "
        "ratio is the baseline's value divided by the contender's.",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; the run took {seconds:.0f} s",
        *[f"- Machine: {line}" for line in machine()],
        f"- Server: {server_name}",
        "- Packages: " + ", ".join(f"{name} {ver}" for name, ver in [*packages, *others]),
        f"- Parameters: {parameters}",
        "",
        "## Targets",
        "",
        "| target | measured | result |",
        "|---|---|---|",
    ]
    for target in targets:
        result = {True: "PASS", False: "FAIL", None: "n/a"}[target.passed]
        lines.append(f"| {target.description} | {target.measured} | {result} |")
    lines.append("")
    if charts:
        lines += [
            "![Ratios to django-minio-backend](benchmarks-ratios.png)",
            "",
            "![Scaling curves](benchmarks-scaling.png)",
            "",
        ]
    for heading, scenarios in TABLES:
        lines += [f"## {heading}", ""]
        for scenario in scenarios:
            lines += scenario_table(results, scenario)
    lines += ["## 5. Scaling: concurrent uploads by concurrency and object size", ""]
    for size, concurrency, _ in scaling_points(parameters):
        lines += scenario_table(results, scaling_scenario(size, concurrency))
    if results.notes:
        lines += ["## Notes", ""] + [f"- {key}: {note}" for key, note in results.notes.items()]
        lines.append("")
    # The analysis of the targets this machine does not let us meet is written by hand, from
    # profiles, and kept next to the harness; every run appends it.
    lines.append(ANALYSIS.read_text())
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(lines) + "\n")
    if charts:
        draw_charts(results, parameters, output.parent)
    return targets


def draw_charts(results: Results, parameters: Parameters, folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ratio_scenarios = [
        "url-private",
        "url-public",
        "save-sync",
        "exists-sync",
        "read-sync",
        "upload-async",
        "large-upload",
        "large-download",
        "asgi-rps",
        "stream-view-throughput",
        "wsgi-exists-rps",
        "collectstatic-first",
        "collectstatic-unchanged-touched",
    ]
    contenders = [
        c
        for c in env.LABELS
        if c != env.NO_STORAGE and any(results.value(s, c) for s in ratio_scenarios)
    ]
    figure, axes = plt.subplots(figsize=(12, 5))
    width = 0.8 / max(1, len(contenders))
    for index, contender in enumerate(contenders):
        values = [advantage(results, s, contender, env.BASELINE) or 0 for s in ratio_scenarios]
        positions = [x + index * width for x in range(len(ratio_scenarios))]
        axes.bar(positions, values, width, label=env.LABELS[contender], color=COLORS[contender])
    axes.axhline(1, color="black", linewidth=0.8)
    axes.set_yscale("log")
    axes.set_xticks([x + 0.4 - width / 2 for x in range(len(ratio_scenarios))])
    axes.set_xticklabels(ratio_scenarios, rotation=20)
    axes.set_ylabel(f"× {env.BASELINE} (log scale, higher is better)")
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(folder / "benchmarks-ratios.png", dpi=110)
    plt.close(figure)

    sizes = parameters.scaling_sizes
    figure, all_axes = plt.subplots(1, len(sizes), figsize=(5 * len(sizes), 4), squeeze=False)
    points = scaling_points(parameters)
    for axes, size in zip(all_axes[0], sizes, strict=True):
        for contender in (env.OURS_ASYNC, env.DMB, env.STORAGES, env.RAW_ASYNC):
            series = [
                (c, results.value(scaling_scenario(s, c), contender))
                for s, c, _ in points
                if s == size
            ]
            series = [(c, v) for c, v in series if v]
            if series:
                axes.plot(
                    *zip(*series, strict=True),
                    marker="o",
                    label=env.LABELS[contender],
                    color=COLORS[contender],
                )
        axes.set_xscale("log", base=2)
        axes.set_title(f"{human_size(size)} objects")
        axes.set_xlabel("uploads in flight")
        axes.set_ylabel("MB/s")
    all_axes[0][0].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(folder / "benchmarks-scaling.png", dpi=110)
    plt.close(figure)


Printer = Callable[[str], None]


def print_targets(targets: list[Target], write: Printer) -> None:
    for target in targets:
        result = {True: "PASS", False: "FAIL", None: "n/a "}[target.passed]
        write(f"{result}  {target.description}: {target.measured}")
