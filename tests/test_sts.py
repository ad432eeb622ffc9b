"""Temporary credentials from a real STS: SeaweedFS's AssumeRole hands out an access key, a
secret and a session token, and a storage given miniopy-async's own ``AssumeRoleProvider`` as
``MINIO_CREDENTIALS`` signs requests, ``url()`` and presigned uploads with them. The same keys
without their token are refused by the server, so the token really is checked.

The server is a ``weed mini`` of this module's own, started with an advanced IAM configuration
(``-s3.iam.config``): an STS signing key, and a role the admin identity is trusted to assume,
whose policy allows every S3 action.
"""

from __future__ import annotations

import asyncio
import base64
import urllib.request
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import aiohttp
import pytest
from django.core.files.base import ContentFile
from miniopy_async.credentials import Credentials
from miniopy_async.credentials.providers import AssumeRoleProvider

from async_minio_storage import MinioStorage
from async_minio_storage import StorageRequestError
from async_minio_storage.wire.miniopy import credentials_expiry
from tests.s3_server import S3Server
from tests.s3_server import SeaweedFS

from .test_urls import fetch

# Credentials do not depend on the Django line: one CI row is enough.
pytestmark = pytest.mark.once

ACCOUNT = "000000000000"  # SeaweedFS's account id when its STS configuration names none
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/StorageRole"
SESSION_NAME = "async-minio-storage-test"  # 2 to 64 characters, or the STS answers 400
BUCKET = "sts"

IAM_CONFIG = {
    "sts": {
        "tokenDuration": "1h",
        "maxSessionLength": "12h",
        "issuer": "seaweedfs-sts",
        "signingKey": base64.b64encode(b"async-minio-storage-sts-test-key").decode(),
    },
    "policy": {"defaultEffect": "Deny"},
    "roles": [
        {
            "roleName": "StorageRole",
            "roleArn": ROLE_ARN,
            "trustPolicy": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        # The identity named "admin" in tests/s3_server.py's s3.json.
                        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/admin"},
                        "Action": ["sts:AssumeRole"],
                    }
                ],
            },
            "attachedPolicies": ["StorageAccess"],
        }
    ],
    "policies": [
        {
            "name": "StorageAccess",
            "document": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["s3:*"],
                        "Resource": ["arn:aws:s3:::*", "arn:aws:s3:::*/*"],
                    }
                ],
            },
        }
    ],
    "providers": [],
}


def assume_role(
    server: S3Server, session: aiohttp.ClientSession | None = None
) -> AssumeRoleProvider:
    return AssumeRoleProvider(
        server.base_url,
        server.access_key,
        server.secret_key,
        duration_seconds=900,
        region="us-east-1",
        role_arn=ROLE_ARN,
        role_session_name=SESSION_NAME,
        session=session,
    )


def temporary_credentials(server: S3Server) -> Credentials:
    """One AssumeRole call of the test's own, over a session it closes."""

    async def retrieve() -> Credentials:
        async with aiohttp.ClientSession() as session:
            return await assume_role(server, session).retrieve()

    return asyncio.run(retrieve())


@pytest.fixture(scope="module")
def sts_server(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    if not s3_server.is_seaweedfs:
        pytest.skip("needs a SeaweedFS of its own, started with an STS configuration")
    weed = SeaweedFS(Path(tmp_path_factory.mktemp("seaweedfs-sts")), iam_config=IAM_CONFIG)
    server = weed.start()
    try:
        yield server
    finally:
        weed.stop()


def credential_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["X-Amz-Credential"][0].split("/")[0]


def test_the_sts_hands_out_temporary_keys_with_a_token(sts_server: S3Server):
    credentials = temporary_credentials(sts_server)

    assert credentials.access_key != sts_server.access_key
    assert credentials.secret_key != sts_server.secret_key
    assert credentials.session_token
    expiry = credentials_expiry(credentials)
    assert expiry is not None
    assert datetime.now(UTC) < expiry <= datetime.now(UTC) + timedelta(hours=1, minutes=1)


def test_a_storage_with_assume_role_saves_reads_lists_deletes_and_signs_urls(
    sts_server: S3Server,
):
    storage = MinioStorage(
        bucket_name=BUCKET,
        MINIO_ENDPOINT=sts_server.endpoint,
        MINIO_CREDENTIALS=assume_role(sts_server),
        MINIO_BUCKET_CHECK_ON_SAVE=True,
    )

    name = storage.save("assumed/report.txt", ContentFile(b"signed with temporary keys"))

    assert storage.open(name).read() == b"signed with temporary keys"
    assert storage.listdir("assumed") == ([], ["report.txt"])
    url = storage.url(name)
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Security-Token"][0]
    assert credential_of(url) != sts_server.access_key
    assert storage.config.access_key is None  # the provider's keys, not the settings'
    status, body, _ = fetch(url)
    assert (status, body) == (200, b"signed with temporary keys")
    storage.delete(name)
    assert not storage.exists(name)


def test_a_presigned_upload_with_temporary_keys_is_accepted(sts_server: S3Server):
    storage = MinioStorage(
        bucket_name=BUCKET,
        MINIO_ENDPOINT=sts_server.endpoint,
        MINIO_CREDENTIALS=assume_role(sts_server),
        MINIO_BUCKET_CHECK_ON_SAVE=True,
    )
    storage.exists("warm-up.txt")  # the bucket, and the provider's first keys
    upload = storage.presigned_upload("uploads/direct.txt")
    assert "X-Amz-Security-Token" in parse_qs(urlsplit(upload.url).query)

    request = urllib.request.Request(
        upload.url, data=b"straight from the browser", method="PUT", headers=dict(upload.headers)
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 200

    assert storage.open("uploads/direct.txt").read() == b"straight from the browser"
    storage.delete("uploads/direct.txt")


def test_temporary_keys_are_refused_without_their_session_token(sts_server: S3Server):
    credentials = temporary_credentials(sts_server)
    assert credentials.session_token is not None
    keys = {
        "MINIO_ENDPOINT": sts_server.endpoint,
        "MINIO_ACCESS_KEY": credentials.access_key,
        "MINIO_SECRET_KEY": credentials.secret_key,
        "MINIO_BUCKET_CHECK_ON_SAVE": True,
    }
    with_token = MinioStorage(
        bucket_name=BUCKET, MINIO_SESSION_TOKEN=credentials.session_token, **keys
    )
    without_token = MinioStorage(bucket_name=BUCKET, **keys)

    name = with_token.save("fixed/with-token.txt", ContentFile(b"token and keys"))
    assert with_token.open(name).read() == b"token and keys"
    assert fetch(with_token.url(name))[:2] == (200, b"token and keys")

    # A temporary key exists only with its token: without it, or with a forged one, SeaweedFS
    # does not know the key at all.
    forged = MinioStorage(
        bucket_name=BUCKET, MINIO_SESSION_TOKEN=credentials.session_token[:-4] + "AAAA", **keys
    )
    for refused in (without_token, forged):
        with pytest.raises(StorageRequestError) as saving:
            refused.save("fixed/refused.txt", ContentFile(b"keys alone"))
        assert (saving.value.status, saving.value.code) == (403, "InvalidAccessKeyId")
        with pytest.raises(StorageRequestError):
            refused.open(name).read()
        assert fetch(refused.url(name))[0] == 403
    assert not with_token.exists("fixed/refused.txt")
    with_token.delete(name)
