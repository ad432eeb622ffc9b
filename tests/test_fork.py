"""Forked children that end normally leave their parent's connections working.

A child inherits the parent's portal loop, its epoll set and its pooled connections. When the
child ends with ``sys.exit`` (gunicorn workers do, and ``--max-requests`` restarts them all day)
its finalisers run; closing an inherited connection there would unregister the socket from
the epoll set the parent shares, and the parent's next request on it would wait for its read
timeout. These tests run real forks in a separate process (``tests/fork_child.py``) with a one
second read timeout, and a real ``gunicorn --preload``.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from async_minio_storage.wire import miniopy

from .conftest import server_settings
from .s3_server import free_ports

TESTS = Path(__file__).resolve().parent
REPOSITORY = TESTS.parent
VENV_BIN = Path(sys.executable).parent
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0


def fork_settings(s3_server: Any, bucket: str) -> dict[str, Any]:
    return {
        **server_settings(s3_server),
        "MINIO_READ_TIMEOUT": 1,
        "MINIO_RETRY_ATTEMPTS": 1,
        "bucket": bucket,
    }


def run_scenario(scenario: str, s3_server: Any, bucket: str) -> tuple[list[dict[str, Any]], str]:
    result = subprocess.run(
        [sys.executable, str(TESTS / "fork_child.py"), scenario],
        env={**os.environ, "FORK_TEST_SETTINGS": json.dumps(fork_settings(s3_server, bucket))},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


@pytest.mark.parametrize(
    "scenario",
    ["sys-exit-after-use", "sys-exit-untouched", "multiprocessing", "busy-parent", "own-loop"],
)
def test_the_parent_answers_at_once_after_a_child_exits_normally(scenario, s3_server, bucket):
    rounds, stderr = run_scenario(scenario, s3_server, bucket)

    assert len(rounds) == 3, rounds  # a fourth entry lists failures of the busy threads
    for finished in rounds:
        assert finished["child_exit"] == 0, (finished, stderr)
        assert finished["answered"], (finished, stderr)
        assert finished["seconds"] < 1.0, (finished, stderr)
    for forbidden in ("Unclosed", "ERROR", "Traceback", "Exception ignored"):
        assert forbidden not in stderr, stderr


# --- the pieces, in this process ---------------------------------------------------------------


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    created = asyncio.new_event_loop()
    yield created
    if not created.is_closed():
        created.close()


def test_unregistering_on_a_disowned_loop_leaves_the_shared_epoll_set_alone(loop):
    reader, writer = socket.socketpair()
    registered = reader.fileno()
    loop.add_reader(registered, lambda: None)
    # What the parent still holds after fork(): its descriptors of the same epoll set and socket.
    parent_epoll = select.epoll.fromfd(os.dup(loop._selector.fileno()))
    parent_reader = reader.dup()
    try:
        miniopy.disown_loop(loop)
        loop.remove_reader(registered)  # what closing a transport does
        reader.close()  # the child's copy
        loop.close()
        writer.send(b"x")

        assert parent_epoll.poll(0) == [(registered, select.EPOLLIN)]
    finally:
        parent_epoll.close()
        parent_reader.close()
        writer.close()


async def _in_a_thread() -> str:
    return await asyncio.to_thread(lambda: "done")


def test_a_disowned_loop_has_its_own_selector_and_wakeup_pair_and_still_runs(loop):
    inherited_selector, inherited_wakeup = loop._selector, loop._csock

    miniopy.disown_loop(loop)

    assert loop._selector is not inherited_selector
    assert loop._csock is not inherited_wakeup
    assert inherited_wakeup.fileno() == -1  # the child's copy is closed
    assert loop.run_until_complete(asyncio.wait_for(_in_a_thread(), 5)) == "done"


def test_a_disowned_loop_whose_thread_is_gone_closes_quietly(loop):
    errors = []
    loop.set_exception_handler(lambda loop, context: errors.append(context))
    future = loop.create_future()  # work of the parent's that never finishes
    loop._thread_id = -1  # as if it were running in a thread that did not survive the fork

    miniopy.disown_loop(loop)
    miniopy.close_disowned_loop(loop)
    loop.call_exception_handler({"message": "a parent's task was destroyed"})

    assert loop.is_closed()
    assert not future.done()
    assert errors == []


async def test_a_disowned_session_is_closed_and_keeps_its_sockets(s3_server):
    session = aiohttp.ClientSession()
    async with session.get(f"{s3_server.base_url}/") as answer:
        await answer.read()
    (pooled,) = [protocol for kept in session.connector._conns.values() for protocol, _ in kept]
    sock = pooled.transport.get_extra_info("socket")

    miniopy.disown_session(session)

    assert session.closed
    assert session.connector.closed
    assert not session.connector._conns
    assert sock.fileno() != -1  # still open: neither closed nor shut down
    # This test's own clean-up: the transport closes its socket from a loop callback, which
    # must run before the loop ends, or the socket is reported unclosed in a later test.
    pooled.transport.abort()
    for _ in range(100):
        if sock.fileno() == -1:
            break
        await asyncio.sleep(0)
    assert sock.fileno() == -1


# --- gunicorn --preload, sync workers restarted by --max-requests ----------------------------


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"the server did not answer {url}:\n{log.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(STOP_TIMEOUT)


@pytest.fixture
def gunicorn_preload(
    s3_server, bucket, tmp_path
) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """``gunicorn --preload -w 2 --max-requests 20`` serving ``tests/wsgi_fork_app.py``."""
    (port,) = free_ports(1)
    log = tmp_path / "gunicorn.log"
    environment = {
        **os.environ,
        "FORK_TEST_SETTINGS": json.dumps(fork_settings(s3_server, bucket)),
        "PYTHONPATH": str(REPOSITORY),
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                str(VENV_BIN / "gunicorn"),
                "--preload",
                "--workers=2",
                "--max-requests=20",
                f"--bind=127.0.0.1:{port}",
                "--graceful-timeout=5",
                "--log-level=info",
                "--no-control-socket",
                "tests.wsgi_fork_app:application",
            ],
            cwd=REPOSITORY,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/ready", process, log)
        yield url, process, log
    finally:
        stop(process)


def test_gunicorn_preload_workers_restart_without_unclosed_sessions(gunicorn_preload):
    url, process, log = gunicorn_preload

    def save_and_read(number: int) -> bytes:
        with urllib.request.urlopen(f"{url}/roundtrip/{number}", timeout=10) as response:
            return response.read()

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(save_and_read, range(100)))
    stop(process)  # the workers end too, with sys.exit: their finalisers run

    assert process.returncode == 0
    assert answers == [f"object {number}".encode() for number in range(100)]
    text = log.read_text()
    assert text.count("Autorestarting worker") >= 3, text  # --max-requests restarted workers
    for forbidden in ("ERROR", "Unclosed", "Traceback", "Exception ignored"):
        assert forbidden not in text, text
