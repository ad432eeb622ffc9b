"""The Django app: installs the management commands and the on-start consistency check."""

from __future__ import annotations

import sys
from pathlib import PurePath

from django.apps import AppConfig
from django.conf import settings

# Commands for which checking buckets at start-up makes no sense, or would break them (no
# server during makemigrations in CI, for example).
SKIP_CHECK_FOR_COMMANDS = frozenset(
    {
        "check",
        "collectstatic",
        "compilemessages",
        "createcachetable",
        "dbshell",
        "diffsettings",
        "help",
        "initialize_buckets",
        "makemessages",
        "makemigrations",
        "migrate",
        "sendtestemail",
        "shell",
        "showmigrations",
        "sqlflush",
        "sqlmigrate",
        "sqlsequencereset",
        "squashmigrations",
        "startapp",
        "startproject",
        "test",
        "version",
    }
)


def _running_command() -> str | None:
    """The management command this process runs, if it was started by manage.py/django-admin.

    A pytest run counts as the ``test`` command.
    """
    program = PurePath(sys.argv[0]) if sys.argv else PurePath()
    if program.name in ("pytest", "py.test") or program.parent.name == "pytest":
        return "test"
    if program.name in ("manage.py", "django-admin", "django-admin.py") or (
        program.name == "__main__.py" and program.parent.name == "django"  # python -m django
    ):
        return sys.argv[1] if len(sys.argv) > 1 else "help"
    return None


class AsyncMinioStorageConfig(AppConfig):
    name = "async_minio_storage"
    verbose_name = "Async MinIO storage"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the system checks

        if getattr(settings, "MINIO_CONSISTENCY_CHECK_ON_START", False) is not True:
            return
        if _running_command() in SKIP_CHECK_FOR_COMMANDS:
            return
        from .consistency import acheck_buckets
        from .sync_edge import run_on_own_loop

        run_on_own_loop(acheck_buckets())


class DjangoMinioBackendConfig(AsyncMinioStorageConfig):
    """django-minio-backend's app config name, for ``INSTALLED_APPS`` entries that replace
    ``django_minio_backend`` with ``async_minio_storage``:
    ``"async_minio_storage.apps.DjangoMinioBackendConfig"`` installs this same app (name and
    label ``async_minio_storage``), so list one entry or the other, not both.

    ``default = False``: an entry ``"async_minio_storage"`` still picks
    :class:`AsyncMinioStorageConfig`, and not Django's plain ``AppConfig``, which it would fall
    back to when a module has two candidate configs and neither is marked.
    """

    default = False
