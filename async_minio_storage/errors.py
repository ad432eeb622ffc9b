"""The exceptions this package raises (``wire`` is where server answers become them).

Callers catch Python's and Django's own types where one fits: ``FileNotFoundError`` for a missing
object, ``SuspiciousFileOperation`` for a refused name, ``ImproperlyConfigured`` for settings.
Everything else that goes wrong talking to the object store is a :class:`MinioStorageError`:

- :class:`StorageUnavailable` (also a ``ConnectionError``): the server could not be reached,
  did not answer in time, or answered 5xx to every attempt. Never mistaken for "the file does
  not exist".
- :class:`StorageRequestError`: the server answered with an error (``code`` and ``status`` say
  which), for example ``AccessDenied``; :class:`WrongRegion` when it expects requests
  signed for another region than ``MINIO_REGION``.
"""

from __future__ import annotations

__all__ = [
    "MinioStorageError",
    "ObjectChanged",
    "StorageRequestError",
    "StorageUnavailable",
    "WrongRegion",
]


class MinioStorageError(Exception):
    """Base class of the errors raised by async_minio_storage.

    ``code`` and ``status`` are the server's error code and HTTP status, when it answered.
    Catch it for any failure to talk to the object store; a missing object is
    :exc:`FileNotFoundError` instead, a refused name
    :exc:`~django.core.exceptions.SuspiciousFileOperation`.
    """

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.status = status


class StorageUnavailable(MinioStorageError, ConnectionError):
    """The object store could not be reached, did not answer in time, or kept failing (5xx).

    Raised once retrying cannot help (``MINIO_RETRY_ATTEMPTS`` used up, a timeout, which is not
    retried, or ``MINIO_OPERATION_TIMEOUT`` reached) and when a download breaks off. Also a
    :exc:`ConnectionError`; never raised for a missing object.
    """


class StorageRequestError(MinioStorageError):
    """The object store refused a request (a 4xx answer, or one an S3 client cannot read).

    ``code`` and ``status`` say which, for example ``AccessDenied`` and 403. Not retried.
    """


class WrongRegion(StorageRequestError):
    """The server expects another region than ``MINIO_REGION``; ``expected`` is the region it
    named (None if it did not say)."""

    def __init__(self, message: str, *, expected: str | None, code: str | None, status: int | None):
        super().__init__(message, code=code, status=status)
        self.expected = expected


class ObjectChanged(StorageRequestError):
    """The object was replaced while it was being read (its ETag no longer matches): raised
    by a read of a file opened before the change, which never mixes two versions' bytes."""


class NameTaken(MinioStorageError):
    """A conditional write found an object under the name (HTTP 412). Internal to saving."""
