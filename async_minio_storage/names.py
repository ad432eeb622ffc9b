"""Storage names → object keys: validation, alternatives and the ``upload_to`` helper.

Every method of the storage passes the name it was given through :func:`object_key` before any
request is made, so a hostile name is refused with ``SuspiciousFileOperation`` instead of reaching
the server as an unexpected key.
"""

from __future__ import annotations

import os
import pathlib
import re
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.utils import validate_file_name

if TYPE_CHECKING:
    from django.core.files.storage import Storage

_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
MAX_KEY_BYTES = 1024  # S3's limit for a whole key
MAX_SEGMENT_BYTES = 255  # MinIO's limit for each "/"-separated part (it stores them as paths)


def object_key(name: str | os.PathLike[str]) -> str:
    """Return the object key for a storage name, or raise ``SuspiciousFileOperation``.

    Backslashes become slashes, as in Django's own storages. Refused: empty or blank names
    (only whitespace: miniopy-async refuses to read or delete such a key once it is stored),
    absolute names, ``.`` or ``..`` segments, empty segments (``a//b``, trailing ``/``), control
    characters (NUL included), keys longer than S3's limit of 1024 UTF-8 bytes, and segments
    longer than MinIO's limit of 255 bytes.
    """
    key = os.fspath(name).replace("\\", "/")
    if not key:
        raise SuspiciousFileOperation("An object name must not be empty.")
    if not key.strip():
        raise SuspiciousFileOperation(f"Object name {key!r} is blank.")
    if _CONTROL_CHARACTER.search(key):
        raise SuspiciousFileOperation(f"Object name {key!r} contains a control character.")
    if key.startswith("/"):
        raise SuspiciousFileOperation(f"Object name {key!r} is absolute; use a relative name.")
    segments = key.split("/")
    if ".." in segments or "." in segments:
        raise SuspiciousFileOperation(f"Detected path traversal attempt in {key!r}.")
    if "" in segments:
        raise SuspiciousFileOperation(f"Object name {key!r} has an empty path segment.")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise SuspiciousFileOperation(f"Object name {key!r} is not valid Unicode.") from None
    if size > MAX_KEY_BYTES:
        raise SuspiciousFileOperation(
            f"Object name is {size} bytes long in UTF-8; S3 keys are limited to {MAX_KEY_BYTES}."
        )
    longest = max(len(segment.encode("utf-8")) for segment in segments)
    if longest > MAX_SEGMENT_BYTES:
        raise SuspiciousFileOperation(
            f"Object name {key[:60]!r}... has a part of {longest} bytes between slashes; MinIO "
            f"limits each part to {MAX_SEGMENT_BYTES}."
        )
    return key


def directory_prefix(path: str | os.PathLike[str]) -> str:
    """Return the key prefix that lists the "directory" ``path`` ("" for the bucket's root)."""
    text = os.fspath(path).replace("\\", "/").strip("/")
    return object_key(text) + "/" if text else ""


def candidate_names(storage: Storage, name: str, max_length: int | None = None) -> Iterator[str]:
    """Yield ``name`` and then Django's alternatives for it, without asking the server.

    This is the loop of Django's ``Storage.get_available_name`` with the ``exists()`` call taken
    out: saving tries each candidate with a conditional write and moves on only when the server
    answers that the name is taken, so the free case costs no request at all. Like Django, it
    truncates the file root to respect ``max_length`` and uses ``storage.get_alternative_name``,
    so a subclass overriding that method is honoured.
    """
    name = str(name).replace("\\", "/")
    if not max_length or len(name) <= max_length:
        yield name  # the caller checks it with object_key(); nothing more is needed for it
    dir_name, file_name = os.path.split(name)
    if ".." in pathlib.PurePath(dir_name).parts:
        raise SuspiciousFileOperation(f"Detected path traversal attempt in '{dir_name}'")
    validate_file_name(file_name)
    file_ext = "".join(pathlib.PurePath(file_name).suffixes)
    file_root = file_name.removesuffix(file_ext)
    while True:
        name = os.path.join(dir_name, storage.get_alternative_name(file_root, file_ext))
        if max_length:
            truncation = len(name) - max_length
            if truncation > 0:
                file_root = file_root[:-truncation]
                if not file_root:
                    raise SuspiciousFileOperation(
                        f'Storage can not find an available filename for "{name}". '
                        "Please make sure that the corresponding file field "
                        'allows sufficient "max_length".'
                    )
                name = os.path.join(dir_name, storage.get_alternative_name(file_root, file_ext))
        yield name


def iso_date_prefix(instance: Any, filename: str) -> str:
    """``upload_to`` helper: store under today's UTC date, ``"YYYY-MM-DD/filename"``."""
    return f"{datetime.now(UTC).date().isoformat()}/{filename}"
