"""Timing helpers: medians over rounds, a loop-lag ticker, resident memory."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any


def timed(function: Callable[[], Any]) -> float:
    """Seconds ``function()`` took."""
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class LoopLag:
    """How late a 1 ms ticker wakes up while other work runs on the same loop.

    Anything that blocks the loop (sync I/O, long CPU work) shows up as lateness.
    """

    interval: float = 0.001
    lateness: list[float] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            self.lateness.append(max(0.0, loop.time() - expected))

    async def __aenter__(self) -> LoopLag:
        self._task = asyncio.create_task(self._tick())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    @property
    def max_ms(self) -> float:
        return max(self.lateness, default=0.0) * 1000

    @property
    def p99_ms(self) -> float:
        return percentile(self.lateness, 0.99) * 1000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int | None) -> float:
    """User plus system CPU time a process has used so far (0 for no process)."""
    if not pid:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def resident_memory(pid: int | None = None) -> tuple[int, int]:
    """(current, peak) resident set size in bytes of ``pid`` or this process, from /proc."""
    values = {}
    for line in Path(f"/proc/{pid or 'self'}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) * 1024
    return values["VmRSS"], values["VmHWM"]


def reset_peak_memory(pid: int | None = None) -> int:
    """Make VmHWM the current RSS again (Linux: write 5 to clear_refs); return that RSS.

    Of this process by default, or of ``pid``: the ASGI server, whose memory a view grows.
    """
    Path(f"/proc/{pid or 'self'}/clear_refs").write_text("5")
    return resident_memory(pid)[0]
