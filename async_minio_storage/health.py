"""Is the object store reachable? ``MinioServerStatus`` and the probe behind it.

The probe is one signed ``HEAD`` of a bucket, bounded by a timeout: it proves DNS, TCP, TLS and
the credentials at once, and works on any S3 server (SeaweedFS, for one, has no
``/minio/health/*`` endpoints).
"""

from __future__ import annotations

import asyncio

import aiohttp
from miniopy_async.api import Minio
from miniopy_async.error import MinioException
from miniopy_async.error import S3Error

from .errors import status_of

DEFAULT_PROBE_TIMEOUT = 2.0


class MinioServerStatus:
    """The answer of a health probe: truthy when the server is available.

    Kept compatible with django-minio-backend's class of the same name: ``bool(status)``,
    ``is_available``, ``details`` and ``status``.
    """

    def __init__(self, is_available: bool, details: str = "", status: int | None = None) -> None:
        self.is_available = is_available
        self.details = details
        self.status = status

    def __bool__(self) -> bool:
        return self.is_available

    def __repr__(self) -> str:
        state = "available" if self.is_available else "unavailable"
        return f"<MinioServerStatus {state}{': ' + self.details if self.details else ''}>"


async def probe_server(
    client: Minio, bucket: str, time_limit: float = DEFAULT_PROBE_TIMEOUT
) -> MinioServerStatus:
    """Ask the server about ``bucket``; report whether it answered within ``time_limit`` s."""
    try:
        async with asyncio.timeout(time_limit):
            exists = await client.bucket_exists(bucket)
    except TimeoutError:
        return MinioServerStatus(False, f"No answer within {time_limit:g} s.")
    except S3Error as error:
        return MinioServerStatus(False, f"{error.code}: {error.message}", status_of(error))
    except (aiohttp.ClientError, MinioException) as error:
        return MinioServerStatus(False, f"{type(error).__name__}: {error}")
    if not exists:
        return MinioServerStatus(True, f"The server answered, but bucket {bucket!r} is missing.")
    return MinioServerStatus(True)
