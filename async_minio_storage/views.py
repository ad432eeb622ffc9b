"""Reusable async views: the health endpoint for load balancers and monitoring."""

from __future__ import annotations

import asyncio

from django.http import HttpRequest
from django.http import HttpResponse
from django.http import HttpResponseNotAllowed
from django.http import JsonResponse

from .consistency import configured_storages

__all__ = ["health"]


async def health(request: HttpRequest, *, write: bool = False) -> HttpResponse:
    """``GET``: 200 ``{"status": "ok", ...}`` when every configured storage can be used, else
    503 ``{"status": "unavailable", ...}``, with each storage's status, HTTP status, latency and
    details (:meth:`~async_minio_storage.MinioServerStatus.as_dict`, under its ``STORAGES``
    alias). ``?cluster=1`` also asks MinIO whether it has write quorum. ``HEAD`` is answered
    too, any other method 405; the answer is ``Cache-Control: no-store``.

    ``write=True``, given in the URLconf only (``path("health/", views.health, {"write":
    True})``), also writes and deletes a small object in each storage's bucket. It is not a
    query parameter: anyone who reaches the endpoint could otherwise make it write.

    An async view: the probes (:meth:`~async_minio_storage.MinioStorage.ais_minio_available`)
    run concurrently, awaited on the request's loop, each bounded by ``MINIO_HEALTH_TIMEOUT``;
    a server problem is reported, not raised. The answer holds no credentials and no bucket
    contents.
    """
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    cluster = request.GET.get("cluster", "").lower() in ("1", "true", "yes")
    storages = configured_storages()
    statuses = await asyncio.gather(
        *(storage.ais_minio_available(cluster=cluster, write=write) for _, storage in storages)
    )
    healthy = all(statuses)
    response = JsonResponse(
        {
            "status": "ok" if healthy else "unavailable",
            "storages": {
                alias: status.as_dict()
                for (alias, _), status in zip(storages, statuses, strict=True)
            },
        },
        status=200 if healthy else 503,
    )
    response["Cache-Control"] = "no-store"
    return response
