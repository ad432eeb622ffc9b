"""The exceptions this package raises, and the one place where client errors are translated.

Callers catch Python's and Django's own types where one fits: ``FileNotFoundError`` for a missing
object, ``SuspiciousFileOperation`` for a refused name, ``ImproperlyConfigured`` for settings.
Everything else that goes wrong talking to the object store is a :class:`MinioStorageError`:

- :class:`StorageUnavailable` (also a ``ConnectionError``): the server could not be reached or
  did not answer in time. Never mistaken for "the file does not exist".
- :class:`StorageRequestError`: the server answered with an error (``code`` and ``status`` say
  which), for example ``AccessDenied``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from miniopy_async.error import InvalidResponseError
from miniopy_async.error import MinioException
from miniopy_async.error import S3Error
from miniopy_async.error import ServerError

NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchBucket", "NoSuchObject", "ResourceNotFound"})
NAME_TAKEN_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})


class MinioStorageError(Exception):
    """Base class of the errors raised by async_minio_storage."""


class StorageUnavailable(MinioStorageError, ConnectionError):
    """The object store could not be reached, or did not answer within the timeout."""


class StorageRequestError(MinioStorageError):
    """The object store refused a request."""

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.status = status


class NameTaken(MinioStorageError):
    """A conditional write found an object under the name (HTTP 412). Internal to saving."""


def status_of(error: BaseException) -> int | None:
    """The HTTP status of a server's answer, when the error came from one."""
    if isinstance(error, S3Error):
        return error.response.status if error.response is not None else None
    if isinstance(error, ServerError):
        return error.status_code
    if isinstance(error, InvalidResponseError):  # a non-S3 answer, such as a proxy's error page
        code = getattr(error, "_code", None)  # the status; the class exposes no public field
        return code if isinstance(code, int) else None
    return None


def is_not_found(error: BaseException) -> bool:
    """True for the answers S3 gives for a missing object or bucket.

    A HEAD on a missing bucket is reported as ``NoSuchKey`` by miniopy-async (a HEAD response
    has no body to say otherwise), so both codes mean "not found" here.
    """
    return isinstance(error, S3Error) and (error.code in NOT_FOUND_CODES or status_of(error) == 404)


def is_name_taken(error: BaseException) -> bool:
    return isinstance(error, S3Error) and (
        error.code in NAME_TAKEN_CODES or status_of(error) == 412
    )


def translate(error: Exception, *, bucket: str, name: str | None = None) -> Exception:
    """Map a client or transport error to the exception this package promises."""
    where = f"{bucket}/{name}" if name is not None else bucket
    if isinstance(error, S3Error) and error.code == "NoSuchBucket":
        return FileNotFoundError(f"No bucket {bucket!r} in the object store.")
    if is_not_found(error):
        return FileNotFoundError(f"No object {where!r} in the object store.")
    if is_name_taken(error):
        return NameTaken(where)
    if isinstance(error, S3Error):
        return StorageRequestError(
            f"The object store refused the request for {where!r}: {error.code}: {error.message}",
            code=error.code,
            status=status_of(error),
        )
    if isinstance(error, ServerError):
        return StorageRequestError(
            f"The object store answered HTTP {error.status_code} for {where!r}.",
            status=error.status_code,
        )
    if isinstance(error, aiohttp.ClientError | asyncio.TimeoutError):
        return StorageUnavailable(
            f"The object store could not be reached for {where!r}: {type(error).__name__}: {error}"
        )
    # InvalidResponseError (an HTML error page from a proxy, say) and anything else the client
    # raises: the server answered, but not in a way an S3 client understands.
    return StorageRequestError(
        f"The object store sent an unexpected response for {where!r}: {type(error).__name__}.",
        status=status_of(error),
    )


@asynccontextmanager
async def translated(*, bucket: str, name: str | None = None) -> AsyncIterator[None]:
    """Run the block and re-raise what the client raised as this package's exceptions."""
    try:
        yield
    except (TimeoutError, MinioException, aiohttp.ClientError) as error:
        raise translate(error, bucket=bucket, name=name) from error
