"""Health: the probe, ``manage.py is_minio_available`` and the async health view."""

from __future__ import annotations

import concurrent.futures
import io
import json
import socket
from collections.abc import Iterator

import pytest
from django.core.management import CommandError
from django.core.management import call_command
from django.test import AsyncClient
from django.test import override_settings
from django.urls import include
from django.urls import path

from async_minio_storage import MinioServerStatus
from async_minio_storage import MinioStorage
from async_minio_storage import sync_edge
from async_minio_storage import views
from async_minio_storage.health import WRITE_PROBE_PREFIX
from tests.conftest import MEDIA_BUCKET
from tests.conftest import STATIC_BUCKET
from tests.fault_proxy import FaultProxy
from tests.misbehaving_server import MisbehavingServer
from tests.s3_server import free_ports

# The URLconf of the view tests that opt in to the write probe (ROOT_URLCONF=__name__).
urlpatterns = [
    path("health/", include("async_minio_storage.urls")),
    path("health/write/", views.health, {"write": True}),
]


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """An address that accepts connections and never answers."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        host, port = silent.getsockname()
        yield f"{host}:{port}"


@pytest.fixture
def closed_endpoint() -> str:
    (port,) = free_ports(1)
    return f"127.0.0.1:{port}"


@pytest.fixture
def faults(s3_server) -> Iterator[FaultProxy]:
    """A proxy to the test server that records every request and injects faults on demand."""
    with FaultProxy(s3_server.endpoint) as proxy:
        yield proxy


def behind(faults: FaultProxy, bucket: str, **options: object) -> MinioStorage:
    return MinioStorage(bucket_name=bucket, MINIO_ENDPOINT=faults.endpoint, **options)


def requests_of(faults: FaultProxy, method: str) -> list[str]:
    """The paths of the requests of ``method`` that went through the proxy."""
    return [line.split(" ")[1] for line in faults.requests if line.startswith(method + " ")]


def probe_objects(s3_admin, bucket: str) -> list[str]:
    return [key for key in s3_admin.keys(bucket) if key.startswith(WRITE_PROBE_PREFIX)]


def test_a_reachable_server_and_bucket_are_available(storage):
    status = storage.is_minio_available()

    assert isinstance(status, MinioServerStatus)
    assert status
    assert status.is_available
    assert (status.details, status.status) == ("", 200)
    assert status.latency is not None
    assert status.latency > 0


async def test_the_async_probe(storage):
    status = await storage.ais_minio_available()

    assert status
    assert status.as_dict()["status"] == "ok"


def test_a_missing_bucket_is_unavailable():
    status = MinioStorage(bucket_name="no-such-bucket-here").is_minio_available()

    assert not status
    assert status.status == 404
    assert "does not exist" in status.details


@pytest.mark.parametrize("write", [False, True])
def test_a_missing_bucket_created_on_the_first_save_is_available(s3_admin, write):
    storage = MinioStorage(bucket_name="no-such-bucket-yet", MINIO_BUCKET_CHECK_ON_SAVE=True)

    status = storage.is_minio_available(write=write)

    assert status
    assert status.status == 404
    assert "does not exist yet; it will be created on the first save" in status.details
    assert ("test write was skipped" in status.details) is write
    assert not s3_admin.bucket_exists("no-such-bucket-yet")  # the probe creates nothing


def test_a_closed_port_is_unavailable(bucket, closed_endpoint):
    status = MinioStorage(bucket_name=bucket, MINIO_ENDPOINT=closed_endpoint).is_minio_available()

    assert not status
    assert "refused the connection" in status.details


def test_an_unknown_host_is_unavailable(bucket):
    storage = MinioStorage(bucket_name=bucket, MINIO_ENDPOINT="no-such-host.invalid:9000")

    status = storage.is_minio_available()

    assert not status
    assert "could not be resolved" in status.details


def test_refused_credentials_are_unavailable(bucket):
    status = MinioStorage(bucket_name=bucket, MINIO_SECRET_KEY="wrong").is_minio_available()

    assert not status
    assert status.status == 403
    assert "refused the access key or secret key" in status.details


def test_a_server_that_never_answers_is_unavailable_within_the_time_limit(bucket, silent_endpoint):
    storage = MinioStorage(
        bucket_name=bucket, MINIO_ENDPOINT=silent_endpoint, MINIO_HEALTH_TIMEOUT=0.5
    )

    status = storage.is_minio_available()

    assert not status
    assert "did not answer within 0.5 s" in status.details
    assert status.latency is not None
    assert status.latency < 2.5
    assert "unavailable" in repr(status)


def test_minio_liveness_is_asked_first_then_the_bucket():
    with MisbehavingServer(200, routes={"/minio/health/live": 200}) as minio:
        status = MinioStorage(
            bucket_name="photos", MINIO_ENDPOINT=minio.endpoint
        ).is_minio_available()

    assert status
    assert minio.requests == ["GET /minio/health/live", "HEAD /photos"]


def test_minio_reporting_it_is_not_live_is_unavailable():
    with MisbehavingServer(200, routes={"/minio/health/live": 503}) as minio:
        status = MinioStorage(
            bucket_name="photos", MINIO_ENDPOINT=minio.endpoint
        ).is_minio_available()

    assert not status
    assert status.status == 503
    assert "not live" in status.details
    assert minio.requests == ["GET /minio/health/live"]  # no retry, no bucket check


def test_the_cluster_probe_reports_a_lost_write_quorum():
    routes = {"/minio/health/live": 200, "/minio/health/cluster": 503}
    with MisbehavingServer(200, routes=routes) as minio:
        storage = MinioStorage(bucket_name="photos", MINIO_ENDPOINT=minio.endpoint)
        without_cluster = storage.is_minio_available()
        with_cluster = storage.is_minio_available(cluster=True)

    assert without_cluster
    assert not with_cluster
    assert "write quorum" in with_cluster.details


def test_servers_without_health_endpoints_fall_back_to_the_bucket_check(storage, s3_server):
    if not s3_server.is_seaweedfs:
        pytest.skip("only SeaweedFS lacks /minio/health/live")  # pragma: no cover

    status = storage.is_minio_available()  # SeaweedFS answers 403 to /minio/health/live

    assert status


def test_the_write_probe_puts_one_object_and_deletes_it(faults, bucket, s3_admin):
    storage = behind(faults, bucket)

    assert storage.is_minio_available()
    assert requests_of(faults, "PUT") == []  # only when asked
    status = storage.is_minio_available(write=True)

    assert status
    assert (status.details, status.status) == ("", 200)
    (put,) = requests_of(faults, "PUT")
    assert put.startswith(f"/{bucket}/{WRITE_PROBE_PREFIX}")
    assert requests_of(faults, "DELETE") == [put]
    assert s3_admin.keys(bucket) == []
    assert storage.listdir("") == ([], [])  # no "directory" left behind either


async def test_the_async_write_probe(faults, bucket, s3_admin):
    status = await behind(faults, bucket).ais_minio_available(write=True)

    assert status
    assert len(requests_of(faults, "PUT")) == len(requests_of(faults, "DELETE")) == 1
    assert s3_admin.keys(bucket) == []


@pytest.mark.parametrize(
    ("refusal", "said"),
    [
        (403, "the server refused a test write (HTTP 403"),  # a policy or keys without PutObject
        (503, "a test write failed (HTTP 503"),  # no write quorum, a read-only cluster
    ],
    ids=["403", "503"],
)
def test_a_store_that_reads_but_cannot_write_is_unavailable(
    faults, bucket, s3_admin, refusal, said
):
    storage = behind(faults, bucket)
    faults.answer_next(10, refusal, method="PUT")  # every attempt of the PUT; reads go through

    read_only = storage.is_minio_available()
    status = storage.is_minio_available(write=True)

    assert read_only
    assert not status
    assert status.status == refusal
    assert f"The bucket {bucket!r} can be read, but " in status.details
    assert said in status.details
    assert faults.requests_answered >= 1
    assert len(requests_of(faults, "DELETE")) == 1  # cleaned up even so
    assert s3_admin.keys(bucket) == []


def test_the_write_probe_deletes_an_object_whose_answer_was_lost(faults, bucket, s3_admin):
    storage = behind(faults, bucket)
    faults.fail_after_forwarding(10, status=503, method="PUT")  # stored, but answered 503

    status = storage.is_minio_available(write=True)

    assert not status
    assert status.status == 503
    assert faults.discarded_answers
    assert all(answer == 200 for _, answer in faults.discarded_answers)  # the server stored it
    assert requests_of(faults, "DELETE") == requests_of(faults, "PUT")[:1]
    assert s3_admin.keys(bucket) == []


def test_a_write_that_never_finishes_is_unavailable_within_the_time_limit(faults, bucket):
    storage = behind(faults, bucket, MINIO_HEALTH_TIMEOUT=0.5)
    faults.stop_reading_bodies()  # the PUT's body is never taken; requests without one pass
    before = set(sync_edge.background_work())

    status = storage.is_minio_available(write=True)

    assert not status
    assert status.details == (
        f"The bucket {bucket!r} can be read, but {faults.endpoint} did not finish a test write "
        "within 0.5 s."
    )
    assert status.latency is not None
    assert status.latency < 2.5
    # The object may have been stored: it is deleted in the background, after the answer.
    cleanup = [work for work in sync_edge.background_work() if work not in before]
    concurrent.futures.wait(cleanup, timeout=10)
    (put,) = requests_of(faults, "PUT")
    assert requests_of(faults, "DELETE") == [put]


def run_command(*args: str) -> str:
    out = io.StringIO()
    call_command("is_minio_available", *args, stdout=out)
    return out.getvalue()


def test_the_command_reports_each_available_storage():
    output = run_command()

    assert "default: available" in output
    assert "staticfiles: available" in output


def test_the_command_fails_when_a_storage_is_unavailable(closed_endpoint):
    with override_settings(MINIO_ENDPOINT=closed_endpoint):
        out = io.StringIO()
        with pytest.raises(CommandError, match="not available"):
            call_command("is_minio_available", stdout=out)

    assert "default: unavailable: " in out.getvalue()
    assert "refused the connection" in out.getvalue()


def test_the_command_probes_writes_with_write(faults, s3_admin):
    with override_settings(MINIO_ENDPOINT=faults.endpoint):
        output = run_command("--write")

    assert "default: available" in output
    assert "staticfiles: available" in output
    assert len(requests_of(faults, "PUT")) == len(requests_of(faults, "DELETE")) == 2
    assert probe_objects(s3_admin, MEDIA_BUCKET) == probe_objects(s3_admin, STATIC_BUCKET) == []


def test_the_command_fails_when_a_store_refuses_writes(faults):
    faults.answer_next(10, 403, method="PUT")
    with override_settings(MINIO_ENDPOINT=faults.endpoint):
        assert "default: available" in run_command()
        out = io.StringIO()
        with pytest.raises(CommandError, match="not available"):
            call_command("is_minio_available", "--write", stdout=out)

    assert "default: unavailable: " in out.getvalue()
    assert "refused a test write" in out.getvalue()


async def test_the_health_view_answers_200_with_json():
    response = await AsyncClient().get("/health/")

    body = json.loads(response.content)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    assert body["status"] == "ok"
    assert body["storages"]["default"]["status"] == "ok"
    assert body["storages"]["staticfiles"]["http_status"] == 200


async def test_the_health_view_answers_503_when_storage_is_down(closed_endpoint, minio_settings):
    with override_settings(MINIO_ENDPOINT=closed_endpoint):
        response = await AsyncClient().get("/health/")

    body = json.loads(response.content)
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["storages"]["default"]["status"] == "unavailable"
    assert minio_settings["MINIO_SECRET_KEY"] not in response.content.decode()
    assert minio_settings["MINIO_ACCESS_KEY"] not in response.content.decode()


async def test_the_health_view_accepts_only_reads():
    response = await AsyncClient().post("/health/")

    assert response.status_code == 405


async def test_the_health_view_writes_only_where_its_urlconf_says(faults, s3_admin):
    with override_settings(MINIO_ENDPOINT=faults.endpoint, ROOT_URLCONF=__name__):
        asked_by_the_client = await AsyncClient().get("/health/?write=1")
        assert requests_of(faults, "PUT") == []  # a query parameter cannot make it write
        configured = await AsyncClient().get("/health/write/")

    assert asked_by_the_client.status_code == 200
    assert configured.status_code == 200
    assert json.loads(configured.content)["status"] == "ok"
    assert len(requests_of(faults, "PUT")) == len(requests_of(faults, "DELETE")) == 2
    assert probe_objects(s3_admin, MEDIA_BUCKET) == probe_objects(s3_admin, STATIC_BUCKET) == []


async def test_the_write_probing_view_answers_503_when_writes_are_refused(faults):
    faults.answer_next(10, 403, method="PUT")
    with override_settings(MINIO_ENDPOINT=faults.endpoint, ROOT_URLCONF=__name__):
        reads = await AsyncClient().get("/health/")
        writes = await AsyncClient().get("/health/write/")

    body = json.loads(writes.content)
    assert reads.status_code == 200
    assert writes.status_code == 503
    assert body["status"] == "unavailable"
    assert body["storages"]["default"]["http_status"] == 403
    assert "refused a test write" in body["storages"]["default"]["details"]
