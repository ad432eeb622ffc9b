from django.urls import path

from . import views

urlpatterns = [
    path("", views.upload, name="upload"),
    path("gallery/", views.gallery, name="gallery"),
    path("download/<int:pk>/", views.download, name="download"),
]
