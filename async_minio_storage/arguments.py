"""Checks of the arguments a storage is built and called with, each raising at once.

Split out of :mod:`~async_minio_storage.storage` so the class holds Django's shape and nothing
else. Each check is pure and fast, with no request and no loop: the constructor's checks run on
whichever thread builds the storage (often at import, from ``STORAGES``), the others on the
thread or loop of the call they guard. The options table and its own checks (the names of the
``MINIO_*`` options, bucket-name syntax) stay in :mod:`~async_minio_storage.options`.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from typing import Any
from typing import TypeVar

from django.core.exceptions import ImproperlyConfigured

from .config import is_valid_bucket_name
from .config import redact
from .config import reject_unknown_options
from .options import CREDENTIAL_SETTINGS

StorageClass = TypeVar("StorageClass", bound=type)


def deconstructs_without_credentials(klass: StorageClass) -> StorageClass:
    """Make ``deconstruct()`` (what ``makemigrations`` writes for a field's storage) leave
    out the credentials given as keyword arguments: a migration is committed, a key is not.
    Applied on top of Django's ``@deconstructible``, whose ``deconstruct`` and ``__new__`` it
    wraps; the arguments it keeps for ``deconstruct`` hold credentials as ``Secret``."""
    django_deconstruct: Callable[[Any], tuple[str, tuple[Any, ...], dict[str, Any]]]
    django_deconstruct = klass.deconstruct  # type: ignore[attr-defined]

    def deconstruct(storage: Any) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
        """``(path, args, kwargs)`` for ``makemigrations``, as Django's ``@deconstructible``
        gives them, without the credentials given as keyword arguments (``MINIO_ACCESS_KEY``,
        ``MINIO_SECRET_KEY``, ``MINIO_SESSION_TOKEN``, ``MINIO_CREDENTIALS``). No I/O."""
        path, args, kwargs = django_deconstruct(storage)
        kept = {name: value for name, value in kwargs.items() if name not in CREDENTIAL_SETTINGS}
        return path, args, kept

    klass.deconstruct = deconstruct  # type: ignore[attr-defined]
    django_new = klass.__new__

    def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:
        # Django keeps the arguments (``_constructor_args``) for deconstruct(): with the
        # credentials as Secret, a report that prints them shows stars.
        return django_new(cls, *args, **redact(kwargs))

    klass.__new__ = staticmethod(__new__)  # type: ignore[assignment]
    return klass


def check_constructor_arguments(
    storage_class: type,
    bucket_name: object,
    storage_name: object,
    replace_existing: object,
    options: Mapping[str, Any],
) -> None:
    """Refuse, with ``ImproperlyConfigured``, what ``MinioStorage(...)`` cannot take: an
    unknown option, names that are not ``str``, or a ``replace_existing`` that is not a bool."""
    reject_unknown_options(options)
    if not isinstance(bucket_name, str) or not isinstance(storage_name, str):
        raise ImproperlyConfigured(
            f"{storage_class.__name__}(bucket_name, storage_name) takes two names, not "
            f"{bucket_name!r} and {storage_name!r}; replace_existing is a keyword argument."
        )
    if not isinstance(replace_existing, bool):
        raise ImproperlyConfigured(
            f"replace_existing must be True or False, not {replace_existing!r}."
        )


def checked_bucket_name(name: str) -> str:
    """``name`` if S3 accepts it as a bucket name, else ``ImproperlyConfigured``."""
    if not is_valid_bucket_name(name):
        raise ImproperlyConfigured(
            f"bucket_name {name!r} is not a valid bucket name: use 3-63 lowercase letters, "
            "digits, dots and hyphens, starting and ending with a letter or digit."
        )
    return name


def check_open_mode(mode: str) -> None:
    """Objects are opened for reading, in binary: any mode but ``"rb"`` is a ``ValueError``."""
    if mode != "rb":
        raise ValueError(
            f"Objects can only be opened for reading in binary mode ('rb'), not {mode!r}; "
            "save new content with storage.save()."
        )
