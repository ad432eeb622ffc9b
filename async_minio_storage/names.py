"""Storage names → object keys: validation, alternatives, which naming hooks a subclass
overrides, and the ``upload_to`` helper.

Every method of the storage passes the name it was given through :func:`object_key` before any
request is made, so a hostile name is refused with ``SuspiciousFileOperation`` instead of reaching
the server as an unexpected key.
"""

from __future__ import annotations

import os
import pathlib
import re
import weakref
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import Storage
from django.core.files.utils import validate_file_name

if TYPE_CHECKING:
    from .storage import MinioStorage

# C0 controls, DEL and C1 controls (U+0080-U+009F): Unicode's category Cc, every one of them.
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MAX_KEY_BYTES = 1024  # S3's limit for a whole key
MAX_SEGMENT_BYTES = 255  # MinIO's limit for each "/"-separated part (it stores them as paths)
# Stop looking for a free name after this many conditional writes were refused.
MAX_NAME_ATTEMPTS = 100


def object_key(name: str | os.PathLike[str]) -> str:
    """Return the object key for a storage name, or raise ``SuspiciousFileOperation``.

    Backslashes become slashes, as in Django's own storages. Refused: empty or blank names
    (only whitespace: miniopy-async refuses to read or delete such a key once it is stored),
    absolute names, ``.`` or ``..`` segments, empty segments (``a//b``, trailing ``/``), control
    characters (U+0000-U+001F with NUL, DEL and the C1 controls U+0080-U+009F), keys longer
    than S3's limit of 1024 UTF-8 bytes, and segments longer than MinIO's limit of 255 bytes.
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


def save_candidates(storage: MinioStorage, name: str, max_length: int | None) -> Iterator[str]:
    """The keys a save of ``name`` tries in turn, as :func:`candidate_names` yields them.

    Each is checked with :func:`object_key`. After :data:`MAX_NAME_ATTEMPTS` names were
    refused as taken, ``FileExistsError``: a save never loops for ever.
    """
    for attempt, candidate in enumerate(candidate_names(storage, name, max_length)):
        if attempt == MAX_NAME_ATTEMPTS:
            raise FileExistsError(
                f"Gave up saving {name!r} in bucket {storage.bucket_name!r} after "
                f"{MAX_NAME_ATTEMPTS} names were refused as taken."
            )
        yield object_key(candidate)


def iso_date_prefix(instance: Any, filename: str) -> str:
    """``upload_to`` helper: store under today's UTC date, ``"YYYY-MM-DD/filename"``
    (``instance`` is not used). Pure computation, safe on any thread; see :func:`get_iso_date`."""
    return f"{datetime.now(UTC).date().isoformat()}/{filename}"


# The hooks Django documents for Storage subclasses around naming and writing.
DJANGO_HOOKS = (
    "get_available_name",
    "is_name_available",
    "get_alternative_name",
    "exists",
    "_save",
)


# The answers of overridden_hooks(), per class.
_hooks_of: weakref.WeakKeyDictionary[type, frozenset[str]] = weakref.WeakKeyDictionary()


def overridden_hooks(storage_class: type) -> frozenset[str]:
    """The hooks of :data:`DJANGO_HOOKS` that ``storage_class`` defines outside this package.

    Saving without them is one conditional write per candidate name (race-free, and no
    ``exists()`` request). A subclass that overrides one of them (an "OverwriteStorage" whose
    ``get_available_name`` deletes the old file, names made from UUIDs, an ``exists`` with a
    cache) is saved in Django's order instead, so that its overrides are called.
    """
    found = _hooks_of.get(storage_class)
    if found is None:
        found = _hooks_of[storage_class] = frozenset(
            hook for hook in DJANGO_HOOKS if _defined_outside_this_package(storage_class, hook)
        )
    return found


def _defined_outside_this_package(storage_class: type, hook: str) -> bool:
    owner = next(klass for klass in storage_class.__mro__ if hook in vars(klass))
    return owner is not Storage and not owner.__module__.startswith("async_minio_storage.")


def name_to_save(name: str | None, content: Any) -> str:
    if content is None:
        raise ValueError("Cannot save None: pass a File, such as ContentFile(b'...').")
    if name is None:
        name = content.name
    if not name:
        raise ValueError("Cannot save without a name: give one, or content with a name.")
    # Every name written passes object_key(), which refuses all that Django's
    # validate_file_name() refuses (absolute names, "." and ".." segments) and more.
    return object_key(name)
