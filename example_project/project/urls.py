from django.contrib import admin
from django.urls import include
from django.urls import path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/", include("async_minio_storage.urls")),
    path("", include("gallery.urls")),
]
