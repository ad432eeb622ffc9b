"""Which loop sync calls run on, and that clients never cross loops, threads or processes."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import urllib.request
import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import sync_to_async
from django.core.exceptions import SynchronousOnlyOperation
from django.core.files.base import ContentFile
from django.template import Context
from django.template import Template

from async_minio_storage import client
from async_minio_storage import sync_edge
from tests.testapp.models import Attachment


def test_the_sync_api_from_eight_threads_at_once(storage, s3_admin):
    def work(number: int) -> bytes:
        name = storage.save(f"threads/{number}.txt", ContentFile(b"thread %d" % number))
        assert storage.exists(name)
        with storage.open(name) as file:
            return file.read()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(32)))

    assert results == [b"thread %d" % number for number in range(32)]
    assert len(s3_admin.keys(storage.bucket_name)) == 32


def test_one_storage_from_sync_code_then_from_two_successive_event_loops(storage):
    storage.save("shared.txt", ContentFile(b"one storage, three loops"))

    async def read_it() -> bytes:
        async with await storage.aopen("shared.txt") as file:
            return await file.read()

    assert asyncio.run(read_it()) == b"one storage, three loops"
    assert asyncio.run(read_it()) == b"one storage, three loops"
    assert storage.open("shared.txt").read() == b"one storage, three loops"


def test_asyncio_run_closes_the_sessions_of_its_loop(storage):
    async def use_storage():
        await storage.aexists("anything.txt")
        return await storage.aclient()

    used_client = asyncio.run(use_storage())

    assert used_client._session is None  # closed by close_session() at loop shutdown


async def test_sync_calls_from_sync_to_async_threads_run_on_the_outer_loop(
    storage, fresh_connections
):
    outer_loop = asyncio.get_running_loop()

    def sync_view() -> tuple[str, asyncio.AbstractEventLoop | None]:
        name = storage.save("from-a-sync-view.txt", ContentFile(b"sync view"))
        return name, sync_edge.outer_event_loop()

    name, loop_seen_by_the_thread = await sync_to_async(sync_view)()
    _, seen_without_thread_sensitivity = await sync_to_async(sync_view, thread_sensitive=False)()

    assert loop_seen_by_the_thread is outer_loop
    assert seen_without_thread_sensitivity is outer_loop
    assert outer_loop in client._clients
    assert sync_edge._portal is None  # the portal was never needed
    assert await storage.asize(name) == 9


async def test_sync_url_works_on_the_event_loop_thread(storage):
    await storage.asave("inline.txt", ContentFile(b"rendered in an async view"))

    url = storage.url("inline.txt")  # a template does this inside an async view

    body = await asyncio.to_thread(lambda: urllib.request.urlopen(url).read())
    assert body == b"rendered in an async view"


async def test_a_template_renders_file_urls_inside_an_async_view(media_bucket):
    attachment = Attachment(file="2026-01-01/report.pdf")

    html = Template("<a href='{{ attachment.file.url }}'>").render(
        Context({"attachment": attachment})
    )

    assert f"/{media_bucket}/2026-01-01/report.pdf?X-Amz-Algorithm=" in html


async def test_blocking_sync_calls_on_the_event_loop_thread_are_refused(storage):
    with pytest.raises(SynchronousOnlyOperation, match="await"):
        storage.exists("x.txt")
    with pytest.raises(SynchronousOnlyOperation, match="await"):
        storage.save("x.txt", ContentFile(b"x"))


# (method called, its arguments, its async twin)
REFUSED_CALLS = [
    ("save", ("x.txt", ContentFile(b"x")), "asave"),  # which runs _asave
    ("size", ("x.txt",), "asize"),
    ("exists", ("x.txt",), "aexists"),
    ("listdir", ("",), "alistdir"),
    ("open", ("x.txt",), "aopen"),  # Django's open() runs _open() in between
    ("delete", ("x.txt",), "adelete"),
    ("get_modified_time", ("x.txt",), "aget_modified_time"),
    ("get_available_name", ("x.txt",), "aget_available_name"),
    ("_save", ("x.txt", ContentFile(b"x")), "_asave"),  # Django's hook, called directly
    ("is_minio_available", (), "ais_minio_available"),
]


@pytest.mark.parametrize(
    ("called", "arguments", "twin"), REFUSED_CALLS, ids=[call[0] for call in REFUSED_CALLS]
)
async def test_a_refused_sync_call_names_the_method_called_and_its_async_twin(
    storage, called, arguments, twin
):
    with pytest.raises(SynchronousOnlyOperation) as refused:
        getattr(storage, called)(*arguments)

    assert str(refused.value) == (
        f"{called}() was called synchronously on a thread that runs an event loop, which would "
        f"block the loop. Await its async twin instead: `await storage.{twin}(...)`."
    )


async def test_a_refused_call_through_a_model_field_names_the_storage_method(media_bucket):
    attachment = Attachment(file="2026-01-01/report.pdf")

    with pytest.raises(SynchronousOnlyOperation, match=r"^size\(\) .*`await storage\.asize"):
        attachment.file.size  # noqa: B018 (a template's {{ attachment.file.size }})


async def test_a_refusal_without_a_sync_caller_is_named_after_the_coroutine_function(storage):
    with pytest.raises(SynchronousOnlyOperation, match=r"^size\(\) was called .*storage\.asize"):
        sync_edge.run_sync(storage.asize, "x.txt")  # called from no method of the storage


def test_the_portal_serves_sync_callers_on_one_long_lived_thread(storage, fresh_connections):
    storage.exists("a.txt")
    first = sync_edge.portal()
    storage.exists("b.txt")

    assert sync_edge.portal() is first
    assert first.thread.is_alive()
    assert first.thread is not threading.current_thread()


def test_stopping_the_portal_closes_its_sessions(storage, fresh_connections):
    storage.exists("a.txt")
    portal = sync_edge.portal()
    portal_client = portal.run(storage.aclient())

    sync_edge.stop_portal()

    assert portal_client._session is None
    assert not portal.thread.is_alive()
    assert storage.exists("a.txt") is False  # a new portal starts on demand


def test_a_forked_child_uses_its_own_portal_and_connections(storage):
    storage.save("before-fork.txt", ContentFile(b"parent"))
    parent_portal = sync_edge.portal()

    with warnings.catch_warnings():
        # Python 3.12+ warns that forking a process with threads may deadlock: the very case
        # (gunicorn --preload) that this test shows is handled.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child
        code = 1
        signal.alarm(30)  # a child stuck on the parent's portal thread would wait forever
        try:
            child_portal = sync_edge.portal()
            name = storage.save("from-child.txt", ContentFile(b"child"))
            fine = (
                child_portal is not parent_portal
                and storage.open("before-fork.txt").read() == b"parent"
                and storage.exists(name)
            )
            code = 0 if fine else 2
        finally:
            os._exit(code)

    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert sync_edge.portal() is parent_portal
    assert storage.open("from-child.txt").read() == b"child"


async def test_aclose_clients_closes_the_running_loops_sessions_early(storage):
    await storage.aexists("x.txt")
    used = await storage.aclient()

    await client.aclose_clients()

    assert used._session is None
    assert asyncio.get_running_loop() not in client._clients
    assert await storage.aexists("x.txt") is False  # a new client is made on demand
    assert await storage.aclient() is not used
