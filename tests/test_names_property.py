"""Property: any name either round-trips exactly, or is refused before any request.

Round trip: ``save`` → ``exists`` → ``open().read()`` → fetching ``url()`` → ``delete``, always
under the key ``save`` returned. Refused: ``SuspiciousFileOperation``, and never a server error.
"""

from __future__ import annotations

import pathlib
import posixpath
import re
import urllib.error
import urllib.request

import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from async_minio_storage.names import object_key

SEGMENT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=40
)
PATHS = st.lists(SEGMENT, min_size=1, max_size=4).map("/".join)
NAMES = st.one_of(st.text(min_size=1, max_size=60), PATHS)
PROPERTY = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def is_alternative(saved: str, key: str) -> bool:
    """``saved`` is Django's ``root_XXXXXXX.ext`` for ``key``, in the same directory."""
    directory, file_name = posixpath.split(key)
    extension = "".join(pathlib.PurePath(file_name).suffixes)
    root = file_name.removesuffix(extension)
    pattern = re.escape(root) + r"_[A-Za-z0-9]{7}" + re.escape(extension)
    saved_directory, saved_name = posixpath.split(saved)
    return saved_directory == directory and re.fullmatch(pattern, saved_name) is not None


def fetch(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.read()
    except urllib.error.HTTPError as error:
        with error:
            raise AssertionError(f"{error.code} for {url}") from None


@given(
    before=st.text(max_size=20),
    control=st.characters(categories=["Cc"]),  # C0, DEL and C1: U+0000-U+001F, U+007F-U+009F
    after=st.text(max_size=20),
)
def test_a_name_with_a_control_character_anywhere_is_refused(before, control, after):
    with pytest.raises(SuspiciousFileOperation):
        object_key(before + control + after)


@PROPERTY
@given(name=NAMES)
def test_any_name_round_trips_or_is_refused_up_front(storage, name):
    content = ContentFile(name.encode("utf-8", "surrogatepass"))
    try:
        key = object_key(name)
    except SuspiciousFileOperation:
        with pytest.raises(SuspiciousFileOperation):
            storage.save(name, content)
        return

    saved = storage.save(name, content)

    # The key itself, or Django's alternative when the name is taken (on SeaweedFS an emptied
    # "directory" left by an earlier example, "a/" for "a", counts as taken).
    assert saved == key or is_alternative(saved, key)
    assert storage.exists(saved)
    assert storage.open(saved).read() == content.file.getvalue()
    assert fetch(storage.url(saved)) == content.file.getvalue()
    storage.delete(saved)
    assert not storage.exists(saved)
