"""The retry policy, the deadline, and the mapping of answers to exceptions.

:data:`RETRY_POLICY` says, for each kind of request, which failures are tried again and why
that is safe. Attempts are ``MINIO_RETRY_ATTEMPTS``, with exponential backoff from
:data:`FIRST_BACKOFF`. A request that timed out is not tried again: the server is slow, and a
second wait would double the caller's. :func:`operation` runs one operation under it, within
``MINIO_OPERATION_TIMEOUT`` for all its attempts, and raises this package's exceptions
(:func:`translate`).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import re
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import TypeVar

import aiohttp
from miniopy_async.error import MinioException
from miniopy_async.error import S3Error
from miniopy_async.error import ServerError

from async_minio_storage.errors import NameTaken
from async_minio_storage.errors import StorageRequestError
from async_minio_storage.errors import StorageUnavailable
from async_minio_storage.errors import WrongRegion

from .miniopy import Client
from .miniopy import status_of

if TYPE_CHECKING:
    from async_minio_storage.client import Connection

logger = logging.getLogger(__name__)
T = TypeVar("T")


# Seconds before the second attempt; doubled for each one after (with jitter).
FIRST_BACKOFF = 0.1
SERVER_ERRORS = frozenset({500, 502, 503, 504})
NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchBucket", "NoSuchObject", "ResourceNotFound"})
PRECONDITION_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
# Answers that mean "signed for the wrong region" (AWS S3, MinIO).
REGION_CODES = frozenset(
    {
        "AuthorizationHeaderMalformed",
        "AuthorizationQueryParametersError",
        "InvalidRegion",
        "IllegalLocationConstraintException",
        "PermanentRedirect",
    }
)
_EXPECTED_REGION = re.compile(r"expecting '([A-Za-z0-9_-]+)'|use region ([A-Za-z0-9_-]+)")


class Request(enum.Enum):
    """The kinds of request, as far as retrying them goes."""

    READ = "read"
    PUT_OBJECT = "put object"
    CREATE_UPLOAD = "create multipart upload"
    UPLOAD_PART = "upload part"
    COMPLETE_UPLOAD = "complete multipart upload"
    ABORT_UPLOAD = "abort multipart upload"
    DELETE = "delete"
    BUCKET = "bucket set-up"
    PROBE = "health probe"


@dataclass(frozen=True)
class Retry:
    """Which failures of a kind of request are tried again, and why that is safe."""

    statuses: frozenset[int]
    connection_errors: bool
    why: str


RETRY_POLICY: Mapping[Request, Retry] = {
    Request.READ: Retry(
        SERVER_ERRORS, True, "GET, HEAD and listings change nothing; repeating one is harmless."
    ),
    Request.PUT_OBJECT: Retry(
        SERVER_ERRORS,
        True,
        "The same bytes to the same key. A conditional PUT that meets its own first attempt "
        "(412) finds its save token on the key and counts as done.",
    ),
    Request.CREATE_UPLOAD: Retry(
        SERVER_ERRORS,
        True,
        "Each attempt whose answer was lost may have started an upload: once one attempt "
        "succeeds, the others' uploads of the key are listed and aborted.",
    ),
    Request.UPLOAD_PART: Retry(
        SERVER_ERRORS, True, "A part sent twice under one number is stored once, the last."
    ),
    Request.COMPLETE_UPLOAD: Retry(
        SERVER_ERRORS,
        True,
        "A repeat of a completion that succeeded meets NoSuchUpload (or 412); the save "
        "token on the key tells that it was ours.",
    ),
    Request.ABORT_UPLOAD: Retry(
        SERVER_ERRORS, True, "Aborting twice is aborting once; NoSuchUpload counts as done."
    ),
    Request.DELETE: Retry(SERVER_ERRORS, True, "Deleting twice is deleting once."),
    Request.BUCKET: Retry(
        SERVER_ERRORS,
        True,
        "A bucket created twice answers BucketAlreadyOwnedByYou, taken as done; a policy is "
        "set as a whole document.",
    ),
    Request.PROBE: Retry(
        frozenset(),
        True,
        "A health probe reports the server's answer as it is, within its own time limit; it "
        "tries again only when a kept-alive connection broke before any answer.",
    ),
}

# Transport failures after which a request may be sent again: the connection broke (reset,
# closed, refused). Timeouts are not among them, see the module's docstring.
_CONNECTION_ERRORS = (
    aiohttp.ClientConnectionError,
    ConnectionError,
)


def retryable(rule: Retry, error: BaseException) -> bool:
    if isinstance(error, TimeoutError | aiohttp.ServerTimeoutError):
        return False
    status = status_of(error)
    if status is not None:
        return status in rule.statuses
    return rule.connection_errors and isinstance(error, _CONNECTION_ERRORS)


def backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1, 2, ...): exponential, with
    jitter so that many clients failed at once do not come back at once."""
    return FIRST_BACKOFF * 2.0 ** (attempt - 1) * random.uniform(0.5, 1.0)  # noqa: S311


class Attempt:
    """What an attempt may want to know: its number, and whether the operation sent anything
    before it (then a refusal may be the answer to our own earlier request)."""

    __slots__ = ("number",)

    def __init__(self) -> None:
        self.number = 0

    @property
    def is_repeat(self) -> bool:
        return self.number > 1


async def operation(
    connection: Connection,
    request: Request,
    send: Callable[[Client, Attempt], Awaitable[T]],
    *,
    bucket: str,
    key: str | None = None,
) -> T:
    """Run ``send`` under the retry policy of ``request`` and the operation deadline, and
    raise what it raised as this package's exceptions."""
    rule = RETRY_POLICY[request]
    settings = connection.settings
    attempt = Attempt()
    try:
        async with asyncio.timeout(settings.operation_timeout):
            while True:
                attempt.number += 1
                try:
                    async with connection.slots:
                        return await send(connection.minio, attempt)
                except (MinioException, aiohttp.ClientError, OSError) as error:
                    if attempt.number >= settings.retry_attempts or not retryable(rule, error):
                        raise
                    logger.info(
                        "Retrying %s of %s (attempt %d failed: %s).",
                        request.value,
                        where_of(bucket, key),
                        attempt.number,
                        describe(error),
                    )
                await asyncio.sleep(backoff(attempt.number))
    except TimeoutError as error:
        raise StorageUnavailable(
            f"The object store did not finish the {request.value} of {where_of(bucket, key)!r} "
            f"in time (MINIO_READ_TIMEOUT {settings.read_timeout:g} s for each wait, "
            f"MINIO_OPERATION_TIMEOUT {settings.operation_timeout:g} s in all)."
        ) from error
    except (MinioException, aiohttp.ClientError, OSError) as error:
        raise translate(error, bucket=bucket, key=key, region=settings.region) from error


def is_not_found(error: BaseException) -> bool:
    # A HEAD on a missing bucket is reported as NoSuchKey (a HEAD answer has no body to say
    # otherwise), so both codes mean "not found".
    return isinstance(error, S3Error) and (error.code in NOT_FOUND_CODES or status_of(error) == 404)


def is_precondition_failed(error: BaseException) -> bool:
    return status_of(error) == 412 or (
        isinstance(error, S3Error) and error.code in PRECONDITION_CODES
    )


def where_of(bucket: str, key: str | None) -> str:
    return f"{bucket}/{key}" if key is not None else bucket


def describe(error: BaseException) -> str:
    if isinstance(error, S3Error):
        return f"{error.code}: {error.message}"
    status = status_of(error)
    return f"HTTP {status}" if status is not None else f"{type(error).__name__}: {error}"


def expected_region(error: BaseException, region: str) -> str | bool:
    """The region the server asked for when ``error`` says that ``region`` is the wrong one:
    AWS names it in ``x-amz-bucket-region`` (a 301 or 400 for a bucket of another region)
    and in the message of ``AuthorizationHeaderMalformed`` ("expecting 'eu-west-1'"), MinIO in
    the message. True if the error says the region is wrong without naming the right one;
    False if it is not about the region."""
    if not isinstance(error, S3Error):
        return False
    named = error.response.headers.get("x-amz-bucket-region") if error.response else None
    if named and named != region:
        return str(named)
    if error.code in REGION_CODES or "region" in (error.message or "").lower():
        match = _EXPECTED_REGION.search(error.message or "")
        named = (match[1] or match[2]) if match else None
        if named and named != region:
            return str(named)
        return error.code in REGION_CODES
    return False


def translate(
    error: BaseException, *, bucket: str, key: str | None = None, region: str | None = None
) -> Exception:
    """The exception this package promises for what the client or the transport raised."""
    where = where_of(bucket, key)
    status = status_of(error)
    code = error.code if isinstance(error, S3Error) else None
    expected = expected_region(error, region) if region is not None else False
    if expected:
        asked = f"region {expected!r}" if isinstance(expected, str) else "another region"
        advice = (
            f"set MINIO_REGION = {expected!r}"
            if isinstance(expected, str)
            else ("set MINIO_REGION to the bucket's region")
        )
        return WrongRegion(
            f"The object store expects requests for {where!r} signed for {asked}, and "
            f"MINIO_REGION is {region!r}: {advice}.",
            expected=expected if isinstance(expected, str) else None,
            code=code,
            status=status,
        )
    if code == "NoSuchBucket":
        return FileNotFoundError(f"No bucket {bucket!r} in the object store.")
    if is_not_found(error):
        return FileNotFoundError(f"No object {where!r} in the object store.")
    if is_precondition_failed(error):
        return NameTaken(where)
    if status is not None and status >= 500:
        return StorageUnavailable(
            f"The object store failed the request for {where!r}: {describe(error)}.",
            code=code,
            status=status,
        )
    if isinstance(error, S3Error):
        return StorageRequestError(
            f"The object store refused the request for {where!r}: {error.code}: {error.message}",
            code=code,
            status=status,
        )
    if isinstance(error, ServerError):
        return StorageRequestError(
            f"The object store answered HTTP {status} for {where!r}.", status=status
        )
    if isinstance(error, aiohttp.ClientError | OSError):
        return StorageUnavailable(
            f"The object store could not be reached for {where!r}: {type(error).__name__}: {error}"
        )
    # InvalidResponseError (an HTML page from a proxy, say) and anything else the client
    # raises: the server answered, but not in a way an S3 client understands.
    return StorageRequestError(
        f"The object store sent an unexpected response for {where!r}: {type(error).__name__}.",
        status=status,
    )
