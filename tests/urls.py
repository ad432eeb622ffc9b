from django.http import HttpResponse
from django.urls import include
from django.urls import path

from async_minio_storage import MinioStorage
from async_minio_storage.direct_uploads import DirectUploadViews
from tests.testapp.models import AsyncAttachment


async def record_attachment(request, info):
    """What an app does once an upload is verified: write the model row."""
    attachment, _ = await AsyncAttachment.objects.aget_or_create(file=info.name)
    return {"id": attachment.pk}


uploads = DirectUploadViews(
    upload_to="direct/",
    max_size=1024 * 1024,
    content_types=["text/plain", "image/*"],
    on_confirm=record_attachment,
)


def exists_in(request, bucket):
    """A sync view that asks the storage something (``tests/test_debug_pages``)."""
    return HttpResponse(str(MinioStorage(bucket_name=bucket).exists("anything.txt")))


async def aexists_in(request, bucket):
    """An async view: under WSGI (Django's test client) Django runs it on a loop of its own."""
    storage = MinioStorage(bucket_name=bucket)
    return HttpResponse(str(await storage.aexists(request.GET.get("name", "anything.txt"))))


async def aread_in(request, bucket):
    """An async view that reads a file through ``aopen`` (``tests/test_connections``)."""
    storage = MinioStorage(bucket_name=bucket)
    async with await storage.aopen(request.GET["name"]) as file:
        return HttpResponse(b"".join([piece async for piece in file.chunks()]))


urlpatterns = [
    path("aread/<str:bucket>/", aread_in),
    path("aexists/<str:bucket>/", aexists_in),
    path("debug-page/<str:bucket>/", exists_in),
    path("health/", include("async_minio_storage.urls")),
    path("uploads/", include(uploads.urls)),
]
