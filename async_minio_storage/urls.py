"""URL patterns to include: ``path("health/", include("async_minio_storage.urls"))``."""

from django.urls import path

from . import views

app_name = "async_minio_storage"
urlpatterns = [
    path("", views.health, name="health"),
]
