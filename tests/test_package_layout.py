"""The package's layout: one module per concern, none of them long.

A module past ~400 lines has usually grown a second concern (the ancestor's 700-line
``models.py`` held six); split it by concern rather than raising the limit.
"""

from __future__ import annotations

import re
from pathlib import Path

import async_minio_storage

PACKAGE = Path(async_minio_storage.__file__).parent
MAX_MODULE_LINES = 400


def test_no_module_is_longer_than_400_lines():
    lengths = {
        path.relative_to(PACKAGE).as_posix(): len(path.read_text().splitlines())
        for path in sorted(PACKAGE.rglob("*.py"))
    }
    offenders = {path: lines for path, lines in lengths.items() if lines > MAX_MODULE_LINES}

    assert not offenders, (
        f"Modules over {MAX_MODULE_LINES} lines, split them by concern: "
        + ", ".join(f"{path} ({lines})" for path, lines in offenders.items())
    )


# Creating an event loop, running one, or handing a coroutine or a call to another thread's
# loop: what only sync_edge, the one owner of loops, may do. (asyncio.to_thread, which a
# coroutine awaits to move blocking work off its own loop, is not among them.)
DRIVES_A_LOOP = re.compile(
    r"new_event_loop\(|run_until_complete\(|run_forever\(|asyncio\.run\(|asyncio\.Runner\("
    r"|run_coroutine_threadsafe\(|call_soon_threadsafe\(|ThreadPoolExecutor\(|async_to_sync\("
)


def code_of(source: str) -> str:
    """``source`` without its string literals (docstrings name these calls to explain them)."""
    return re.sub(r'"""[\s\S]*?"""|"[^"\n]*"', '""', source)


def test_no_module_but_sync_edge_creates_or_drives_an_event_loop():
    driving = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if DRIVES_A_LOOP.search(code_of(path.read_text()))
    }

    assert driving == {"sync_edge.py"}
