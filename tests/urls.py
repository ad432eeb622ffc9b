from django.urls import include
from django.urls import path

urlpatterns = [
    path("health/", include("async_minio_storage.urls")),
]
