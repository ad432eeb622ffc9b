"""The admin saves uploads through the storage's synchronous API (FileField, sync views)."""

from django.contrib import admin

from .models import PrivateAttachment
from .models import PublicImage


@admin.register(PrivateAttachment)
class PrivateAttachmentAdmin(admin.ModelAdmin):
    list_display = ["file", "uploaded_at"]


@admin.register(PublicImage)
class PublicImageAdmin(admin.ModelAdmin):
    list_display = ["file", "uploaded_at"]
