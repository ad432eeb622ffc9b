"""Browser uploads straight to the object store: the signed PUT and POST, and the view pair.

Every upload here is sent over real HTTP to the server, which checks the signature, the
expiry, the signed headers and the POST policy itself; "refused" means the server said no.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC
from datetime import datetime

import aiohttp
import pytest
from django.contrib.auth.models import User
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.test import Client

from async_minio_storage.presigned import PresignedUpload
from async_minio_storage.wire import SAVE_TOKEN_HEADER
from tests.conftest import run
from tests.testapp.models import AsyncAttachment


async def put(upload: PresignedUpload, body: bytes, **header_changes: str | None) -> int:
    """PUT as a browser would: the upload's URL and headers, with ``header_changes``."""
    headers = dict(upload.headers)
    for keyword, value in header_changes.items():
        name = keyword.replace("_", "-")
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
    async with (
        aiohttp.ClientSession() as session,
        session.put(upload.url, data=body, headers=headers) as response,
    ):
        return response.status


async def post(
    upload: PresignedUpload, body: bytes, *, url: str | None = None, **field_changes: str
) -> tuple[int, str]:
    """POST a multipart form as a browser would: the policy's fields, then the file."""
    form = aiohttp.FormData()
    for name, value in {**upload.post_fields, **field_changes}.items():
        form.add_field(name, value)
    form.add_field("file", body, filename="upload", content_type=upload.content_type)
    async with (
        aiohttp.ClientSession() as session,
        session.post(url or upload.post_url, data=form) as response,
    ):
        return response.status, await response.text()


# --- the signed upload ---------------------------------------------------------------------------


async def test_a_presigned_put_stores_the_object(storage, s3_admin):
    upload = await storage.apresigned_upload("docs/notes.txt")

    assert await put(upload, b"sent by the browser") == 200

    assert upload.name == "docs/notes.txt"
    token = upload.headers[SAVE_TOKEN_HEADER]
    assert upload.headers == {
        "Content-Type": "text/plain",
        "If-None-Match": "*",
        SAVE_TOKEN_HEADER: token,
    }
    assert s3_admin.headers(storage.bucket_name, "docs/notes.txt")[SAVE_TOKEN_HEADER] == token
    assert s3_admin.get(storage.bucket_name, "docs/notes.txt") == b"sent by the browser"
    assert s3_admin.content_type(storage.bucket_name, "docs/notes.txt") == "text/plain"


async def test_a_presigned_post_stores_the_object(storage, s3_admin):
    upload = await storage.apresigned_upload("photo.png", max_size=100)

    status, _ = await post(upload, b"\x89PNG tiny")

    assert status in (200, 201, 204)
    assert s3_admin.get(storage.bucket_name, "photo.png") == b"\x89PNG tiny"
    assert s3_admin.content_type(storage.bucket_name, "photo.png") == "image/png"


async def test_the_name_goes_through_get_available_name(storage):
    await storage.asave("report.pdf", ContentFile(b"first"))

    upload = await storage.apresigned_upload("report.pdf")

    assert re.fullmatch(r"report_\w{7}\.pdf", upload.name)


async def test_names_are_checked_as_save_checks_them(storage):
    with pytest.raises(SuspiciousFileOperation):
        await storage.apresigned_upload("../outside.txt")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"content_type": "text/plain\r\nX-Evil: 1"}, "Not a valid content type"),
        ({"content_type": "nonsense"}, "Not a valid content type"),
        ({"max_size": -1}, "max_size must be"),
        ({"size": 11, "max_size": 10}, "at most 10 are allowed"),
        ({"expire": 8 * 24 * 3600}, "between 1 second and 7 days"),
    ],
)
async def test_bad_arguments_are_refused_before_signing(storage, arguments, message):
    with pytest.raises(ValueError, match=message):
        await storage.apresigned_upload("a.txt", **arguments)


def test_the_sync_twin(storage):
    upload = storage.presigned_upload("sync.txt", size=4)

    assert run(put(upload, b"sync")) == 200


def test_repr_keeps_the_signature_out_of_logs(storage):
    upload = storage.presigned_upload("secret.txt")

    assert "Signature" not in repr(upload)
    assert "secret.txt" in repr(upload)


# --- what the server refuses ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "tamper",
    [
        {"Content_Type": "text/html"},
        {"If_None_Match": None},
        {"Content_Type": None},
    ],
    ids=["other-content-type", "without-if-none-match", "without-content-type"],
)
async def test_a_put_with_other_headers_is_refused(storage, s3_admin, tamper):
    upload = await storage.apresigned_upload("page.txt")

    assert await put(upload, b"<script>", **tamper) == 403
    assert s3_admin.keys(storage.bucket_name) == []


async def test_a_put_to_another_name_is_refused(storage, s3_admin):
    upload = await storage.apresigned_upload("mine.txt")
    elsewhere = PresignedUpload(**{**upload.__dict__, "url": upload.url.replace("mine", "yours")})

    assert await put(elsewhere, b"sneaky") == 403
    assert s3_admin.keys(storage.bucket_name) == []


async def test_a_put_with_a_forged_signature_is_refused(storage, s3_admin):
    upload = await storage.apresigned_upload("mine.txt")
    signature = upload.url.rsplit("=", 1)[1]
    forged = "0" * len(signature) if signature[0] != "0" else "1" * len(signature)
    tampered = PresignedUpload(**{**upload.__dict__, "url": upload.url.replace(signature, forged)})

    assert await put(tampered, b"forged") == 403
    assert s3_admin.keys(storage.bucket_name) == []


async def test_a_put_of_another_size_than_signed_is_refused(storage, s3_admin):
    upload = await storage.apresigned_upload("sized.txt", size=10)

    assert await put(upload, b"eleven byte") == 403
    assert await put(upload, b"nine byte") == 403
    assert s3_admin.keys(storage.bucket_name) == []
    assert await put(upload, b"ten bytes!") == 200


async def test_a_put_never_overwrites_an_object_that_appeared_meanwhile(storage, s3_admin):
    upload = await storage.apresigned_upload("race.txt")
    s3_admin.put(storage.bucket_name, "race.txt", b"saved first")

    assert await put(upload, b"too late") == 412
    assert s3_admin.get(storage.bucket_name, "race.txt") == b"saved first"


async def test_an_oversized_post_is_refused(storage, s3_admin):
    upload = await storage.apresigned_upload("big.txt", max_size=10)

    status, body = await post(upload, b"x" * 11)

    assert status == 400
    assert "EntityTooLarge" in body
    assert s3_admin.keys(storage.bucket_name) == []


@pytest.mark.parametrize(
    "tamper",
    [{"key": "elsewhere.txt"}, {"Content-Type": "text/html"}, {"policy": "e30="}],
    ids=["other-key", "other-content-type", "other-policy"],
)
async def test_a_post_with_changed_fields_is_refused(storage, s3_admin, tamper):
    upload = await storage.apresigned_upload("form.txt", max_size=100)

    status, _ = await post(upload, b"changed", **tamper)

    assert status == 403
    assert s3_admin.keys(storage.bucket_name) == []


async def test_an_expired_upload_is_refused(storage, s3_admin):
    upload = await storage.apresigned_upload("late.txt", expire=1, max_size=100)
    await asyncio.sleep(max(0.0, (upload.expires_at - datetime.now(UTC)).total_seconds()) + 1.5)

    assert await put(upload, b"late") == 403
    assert (await post(upload, b"late"))[0] == 403
    assert s3_admin.keys(storage.bucket_name) == []


# --- the view pair -------------------------------------------------------------------------------

pytestmark_db = pytest.mark.django_db(transaction=True)


def start(client: Client, **fields: object) -> tuple[int, dict]:
    response = client.post("/uploads/start/", json.dumps(fields), content_type="application/json")
    return response.status_code, response.json()


def confirm(client: Client, token: str) -> tuple[int, dict]:
    response = client.post(
        "/uploads/confirm/", json.dumps({"token": token}), content_type="application/json"
    )
    return response.status_code, response.json()


@pytest.fixture
def alice() -> Client:
    client = Client()
    client.force_login(User.objects.create_user("alice"))
    return client


def as_upload(answer: dict) -> PresignedUpload:
    fields = dict(answer["upload"])
    fields["expires_at"] = datetime.fromisoformat(fields["expires_at"])
    return PresignedUpload(**fields)


@pytestmark_db
def test_start_put_confirm_writes_the_row(alice, media_bucket, s3_admin):
    status, answer = start(alice, filename="C:\\Users\\alice\\notes.txt", size=5)
    assert status == 200
    upload = as_upload(answer)
    assert upload.name == "direct/notes.txt"

    assert run(put(upload, b"hello")) == 200
    status, confirmed = confirm(alice, answer["token"])

    assert status == 200
    assert confirmed["name"] == "direct/notes.txt"
    assert confirmed["size"] == 5
    row = AsyncAttachment.objects.get(pk=confirmed["id"])
    assert row.file.name == "direct/notes.txt"
    assert row.file.read() == b"hello"


@pytestmark_db
def test_start_needs_a_logged_in_user(media_bucket):
    assert start(Client(), filename="a.txt", size=1)[0] == 403


@pytestmark_db
@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"filename": "a.txt", "size": 2 * 1024 * 1024}, 413, "too large"),
        ({"filename": "a.exe", "size": 10}, 415, "not accepted"),
        ({"filename": "a.txt", "size": 10, "content_type": "text/html"}, 415, "not accepted"),
        ({"filename": "a.txt", "size": -1}, 400, "size must be"),
        ({"filename": "a.txt"}, 400, "Send JSON"),
        ({"filename": "..", "size": 1}, 400, ""),
    ],
)
def test_start_refuses_what_is_not_allowed(alice, media_bucket, fields, status, message):
    answer_status, answer = start(alice, **fields)

    assert answer_status == status
    assert message in answer["error"]


@pytestmark_db
def test_confirm_refuses_what_never_arrived(alice, media_bucket):
    _, answer = start(alice, filename="ghost.txt", size=5)

    status, refused = confirm(alice, answer["token"])

    assert status == 400
    assert "Nothing was uploaded" in refused["error"]
    assert AsyncAttachment.objects.count() == 0


@pytestmark_db
def test_confirm_deletes_an_upload_smaller_than_announced(alice, media_bucket, s3_admin):
    """The POST policy allows up to the announced size; confirm checks the exact size."""
    _, answer = start(alice, filename="short.txt", size=10)
    upload = as_upload(answer)
    assert run(post(upload, b"short"))[0] in (200, 201, 204)

    status, refused = confirm(alice, answer["token"])

    assert status == 400
    assert "5 bytes arrived, 10 were announced" in refused["error"]
    assert s3_admin.keys(media_bucket) == []
    assert AsyncAttachment.objects.count() == 0


@pytestmark_db
def test_confirm_refuses_another_users_token(alice, media_bucket):
    _, answer = start(alice, filename="alice.txt", size=1)
    assert run(put(as_upload(answer), b"a")) == 200
    bob = Client()
    bob.force_login(User.objects.create_user("bob"))

    status, _ = confirm(bob, answer["token"])

    assert status == 403
    assert AsyncAttachment.objects.count() == 0


@pytestmark_db
def test_confirm_refuses_a_forged_token(alice, media_bucket):
    _, answer = start(alice, filename="real.txt", size=1)
    forged = answer["token"][:-3] + ("AAA" if not answer["token"].endswith("AAA") else "BBB")

    status, refused = confirm(alice, forged)

    assert status == 400
    assert "Not a valid upload token" in refused["error"]


@pytestmark_db
def test_a_put_repeated_after_a_lost_answer_is_confirmed_once(alice, media_bucket, s3_admin):
    """The browser sent the file, lost the answer and sent it again: the store refuses the
    repeat (412), and confirm finds this upload's file by its save token."""
    _, answer = start(alice, filename="twice.txt", size=5)
    upload = as_upload(answer)
    assert run(put(upload, b"hello")) == 200
    assert run(put(upload, b"hello")) == 412

    status, confirmed = confirm(alice, answer["token"])

    assert status == 200
    assert s3_admin.keys(media_bucket) == ["direct/twice.txt"]
    assert AsyncAttachment.objects.filter(file="direct/twice.txt").count() == 1
    assert confirmed["name"] == "direct/twice.txt"


@pytestmark_db
def test_confirm_refuses_and_keeps_a_file_another_upload_stored_under_the_name(
    alice, media_bucket, s3_admin
):
    # Both start before either sends: the name is free for both, and one PUT wins.
    _, first = start(alice, filename="race.txt", size=5)
    _, second = start(alice, filename="race.txt", size=5)
    assert as_upload(first).name == as_upload(second).name == "direct/race.txt"
    assert run(put(as_upload(first), b"first")) == 200
    assert run(put(as_upload(second), b"other")) == 412

    status, refused = confirm(alice, second["token"])

    assert status == 409
    assert "Another file was stored under this name first" in refused["error"]
    assert s3_admin.get(media_bucket, "direct/race.txt") == b"first"
    assert AsyncAttachment.objects.count() == 0
    assert confirm(alice, first["token"])[0] == 200


async def test_a_put_without_the_save_token_is_refused(storage, s3_admin):
    upload = await storage.apresigned_upload("untokened.txt")

    assert await put(upload, b"x", **{SAVE_TOKEN_HEADER.replace("-", "_"): None}) == 403
    assert s3_admin.keys(storage.bucket_name) == []


async def test_a_post_carries_the_save_token_and_refuses_another(storage, s3_admin):
    upload = await storage.apresigned_upload("form.txt", max_size=10)

    status, _ = await post(upload, b"x", **{SAVE_TOKEN_HEADER: "not-this-uploads"})
    assert status == 403
    status, _ = await post(upload, b"x")

    assert status in (200, 201, 204)
    stored = s3_admin.headers(storage.bucket_name, "form.txt")
    assert stored[SAVE_TOKEN_HEADER] == upload.post_fields[SAVE_TOKEN_HEADER]
