"""A process that forks children the way servers and job runners do, for ``tests/test_fork.py``.

Run as ``python tests/fork_child.py SCENARIO`` with ``FORK_TEST_SETTINGS`` (JSON: the MINIO_*
settings and ``bucket``) in the environment. The process configures Django, uses the storage
through the sync API (so the portal and a pooled connection exist), forks, and once each child
has ended makes one more call and prints a JSON line: how long that call took, whether it
answered the right bytes, and how each child ended.

Scenarios:

- ``sys-exit-after-use``: the child saves and reads through the storage, then ends with
  ``sys.exit(0)`` (atexit handlers, finalisers, interpreter shutdown), as a gunicorn worker does.
- ``sys-exit-untouched``: the child never touches the storage and ends with ``sys.exit(0)``.
- ``multiprocessing``: ``multiprocessing`` children started with the ``fork`` method use the
  storage, in a ``Process`` and in a ``Pool``.
- ``busy-parent``: as ``sys-exit-after-use``, while two threads of the parent keep saving and
  reading, so that requests are in flight on the portal when it forks.
- ``own-loop``: the parent also uses the async API on an event loop of its own; the child runs
  that same inherited loop again (async API, with work handed to threads) before ``sys.exit``,
  and the parent's next call on it must answer too.

Each scenario forks three times in a row; the parent calls the storage after every child.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import sys
import threading
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django
from django.conf import settings
from django.core.files.base import ContentFile

SETTINGS = json.loads(os.environ["FORK_TEST_SETTINGS"])
BUCKET = SETTINGS.pop("bucket")
settings.configure(
    INSTALLED_APPS=["async_minio_storage"],
    USE_TZ=True,
    MINIO_CONSISTENCY_CHECK_ON_START=False,
    **SETTINGS,
)
django.setup()

from async_minio_storage import MinioStorage  # noqa: E402 - needs the settings above

storage = MinioStorage(bucket_name=BUCKET)
OWN_LOOP = asyncio.new_event_loop()  # the "own-loop" scenario's, in the main thread
# Forking with threads alive (the portal's) warns on Python 3.12+: the case tested here.
warnings.simplefilter("ignore", DeprecationWarning)


def child_work(number: int) -> int:
    name = storage.save(f"child-{os.getpid()}-{number}.txt", ContentFile(b"child"))
    return 0 if storage.open(name).read() == b"child" else 3


async def achild_work(number: int) -> int:
    name = await storage.asave(f"child-{os.getpid()}-{number}-async.txt", ContentFile(b"child"))
    async with await storage.aopen(name) as stored:
        return 0 if await stored.read() == b"child" else 3


def in_a_forked_child(scenario: str, round_number: int) -> int:
    """The child's exit code (as seen by the parent) after it ended with ``sys.exit``."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            if scenario in ("sys-exit-after-use", "busy-parent"):
                code = child_work(round_number)
            elif scenario == "own-loop":
                code = child_work(round_number) or OWN_LOOP.run_until_complete(
                    asyncio.wait_for(achild_work(round_number), 10)
                )
                OWN_LOOP.run_until_complete(OWN_LOOP.shutdown_asyncgens())  # closes its sessions
        except BaseException:
            code = 4
            raise
        finally:
            sys.exit(code)  # a normal exit: atexit handlers and finalisers run
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def in_multiprocessing_children(round_number: int) -> int:
    context = multiprocessing.get_context("fork")
    process = context.Process(target=child_work, args=(round_number,))
    process.start()
    process.join(30)
    if process.exitcode != 0:
        return process.exitcode if process.exitcode is not None else 5
    with context.Pool(2) as pool:
        codes = pool.map(child_work, range(4), chunksize=1)
    return max(codes)


async def aread_parent() -> bytes:
    async with await storage.aopen("parent.txt") as stored:
        return await stored.read()


def keep_busy(stop: threading.Event, failures: list[str]) -> None:
    number = 0
    while not stop.is_set():
        number += 1
        content = f"busy {number}".encode()
        try:
            name = storage.save(f"busy-{threading.get_ident()}-{number}.txt", ContentFile(content))
            if storage.open(name).read() != content:
                failures.append(f"wrong bytes for {name}")
        except Exception as caught:
            failures.append(repr(caught))


def main() -> None:
    scenario = sys.argv[1]
    expected = b"parent"
    storage.save("parent.txt", ContentFile(expected))  # a kept-alive connection in the portal
    if scenario == "own-loop":
        OWN_LOOP.run_until_complete(aread_parent())  # and one on the parent's own loop
    stop, failures = threading.Event(), []
    busy = [threading.Thread(target=keep_busy, args=(stop, failures)) for _ in range(2)]
    if scenario == "busy-parent":
        for thread in busy:
            thread.start()
    rounds = []
    for round_number in range(3):
        if scenario == "multiprocessing":
            child_exit = in_multiprocessing_children(round_number)
        else:
            child_exit = in_a_forked_child(scenario, round_number)
        started = time.monotonic()
        try:
            answered = storage.open("parent.txt").read() == expected
            if scenario == "own-loop":
                answered = (
                    answered
                    and OWN_LOOP.run_until_complete(asyncio.wait_for(aread_parent(), 10))
                    == expected
                )
            error = None
        except Exception as caught:
            answered, error = False, repr(caught)
        rounds.append(
            {
                "child_exit": child_exit,
                "seconds": round(time.monotonic() - started, 3),
                "answered": answered,
                "error": error,
            }
        )
    if scenario == "own-loop":
        OWN_LOOP.run_until_complete(OWN_LOOP.shutdown_asyncgens())
    stop.set()
    for thread in busy:
        if thread.is_alive():
            thread.join(30)
    if failures:
        rounds.append({"busy_failures": failures[:5]})
    print(json.dumps(rounds), flush=True)


if __name__ == "__main__":
    main()
