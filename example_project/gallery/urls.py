from django.urls import include
from django.urls import path

from . import views
from .large_files import large_upload_page
from .large_files import large_uploads

urlpatterns = [
    path("", views.upload, name="upload"),
    path("large/", large_upload_page, name="large-upload"),
    path("large/", include(large_uploads.urls)),
    path("gallery/", views.gallery, name="gallery"),
    path("download/<int:pk>/", views.download, name="download"),
]
