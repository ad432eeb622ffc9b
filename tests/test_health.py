"""Health: the probe, ``manage.py is_minio_available`` and the async health view."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator

import pytest
from django.core.management import CommandError
from django.core.management import call_command
from django.test import AsyncClient
from django.test import override_settings

from async_minio_storage import MinioServerStatus
from async_minio_storage import MinioStorage
from tests.misbehaving_server import MisbehavingServer
from tests.s3_server import free_ports


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
