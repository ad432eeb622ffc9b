"""The literal swap: ``django_minio_backend`` → ``async_minio_storage`` in a project's text.

``tests/ancestor_project`` is a small project written for django-minio-backend 4.x: settings
with ``STORAGES`` naming ``django_minio_backend.models.MinioBackend`` and
``"django_minio_backend.apps.DjangoMinioBackendConfig"`` in ``INSTALLED_APPS``, a model with
``FileField(storage=MinioBackend(bucket_name=...), upload_to=iso_date_prefix)``, and the
migration that django-minio-backend 4.4.4 itself generated for it (``makemigrations`` with the
ancestor installed), naming ``django_minio_backend.models.MinioBackend`` and
``django_minio_backend.models.iso_date_prefix``.

The end-to-end test copies it, replaces that text and nothing else, and runs ``manage.py``
in a fresh interpreter against the suite's server: ``migrate``, ``makemigrations --check``
(no spurious migration), ``check``, then a save and a read through the models.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC
from datetime import datetime
from pathlib import Path

import pytest
from django.apps import AppConfig
from django.apps import apps
from django.db import models
from django.db.migrations.autodetector import MigrationAutodetector
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ProjectState

import async_minio_storage
from async_minio_storage import health
from async_minio_storage import names
from async_minio_storage import staticfiles
from async_minio_storage import storage
from async_minio_storage.apps import AsyncMinioStorageConfig
from async_minio_storage.apps import DjangoMinioBackendConfig

ANCESTOR_PROJECT = Path(__file__).parent / "ancestor_project"
PACKAGE_ROOT = Path(async_minio_storage.__file__).resolve().parent.parent
OLD, NEW = "django_minio_backend", "async_minio_storage"
# The bucket the ancestor project names (django-minio-backend's example uses it). The test
# lends the project a bucket of the suite's pool instead: a developer's MinIO may well hold a
# real bucket of that name.
ANCESTOR_BUCKET = "django-backend-dev-private"
COMMAND_TIMEOUT = 120  # seconds for one manage.py command; each takes about one
# django-minio-backend.models.__all__ (4.4.3), and the status its health check returns.
ANCESTOR_MODELS_NAMES = ["MinioBackend", "MinioBackendStatic", "get_iso_date", "iso_date_prefix"]

# What the project does with its files, written against django-minio-backend and swapped
# along with the project. Run by ``manage.py shell -c``; prints one line of JSON.
ROUNDTRIP = """
import json, sys
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django_minio_backend import MinioBackend
from django_minio_backend.models import get_iso_date
from ancestor_app.models import GenericAttachment, PrivateAttachment

attachment = PrivateAttachment.objects.create(
    file=ContentFile(b"private report", name="report.txt"),
    scan=ContentFile(b"scanned page", name="scan.txt"),
)
generic = GenericAttachment.objects.create(file=ContentFile(b"generic notes", name="notes.txt"))
attachment = PrivateAttachment.objects.get(pk=attachment.pk)
generic = GenericAttachment.objects.get(pk=generic.pk)
with attachment.file.open("rb") as file:
    file_data = file.read().decode()
print(json.dumps({
    "file": attachment.file.name,
    "file_data": file_data,
    "scan": attachment.scan.name,
    "scan_data": attachment.scan.read().decode(),
    "generic": generic.file.name,
    "generic_data": generic.file.read().decode(),
    "storage": type(attachment.file.storage).__qualname__,
    "default_storage": type(default_storage._wrapped).__qualname__,
    "available": bool(MinioBackend().is_minio_available()),
    "iso_date": get_iso_date(),
    # Spelt so that the swap leaves it alone: nothing may import the old package.
    "old_package_imported": any(name.startswith("django" "_minio_backend") for name in sys.modules),
}))
"""


def swap(text: str) -> str:
    """The whole migration: the package's name, replaced wherever it is written."""
    return text.replace(OLD, NEW)


def utc_today() -> str:
    return datetime.now(UTC).date().isoformat()


# --- async_minio_storage.models ------------------------------------------------------------


def test_models_module_has_the_ancestors_names():
    from async_minio_storage import models as swapped

    for name in [*ANCESTOR_MODELS_NAMES, "MinioServerStatus"]:
        assert name in swapped.__all__
        assert hasattr(swapped, name), name


def test_models_module_names_are_the_packages_own_objects():
    from async_minio_storage import models as swapped

    # Identity, not equality of behaviour: a migration compares upload_to by identity.
    assert swapped.iso_date_prefix is names.iso_date_prefix is async_minio_storage.iso_date_prefix
    assert swapped.MinioBackend is storage.MinioStorage
    assert swapped.MinioBackendStatic is staticfiles.MinioStaticStorage
    assert swapped.MinioServerStatus is health.MinioServerStatus


def test_get_iso_date_is_todays_utc_date_zero_padded():
    from async_minio_storage.models import get_iso_date

    before = utc_today()
    date = get_iso_date()
    after = utc_today()

    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", date)
    assert date in {before, after}


def test_iso_date_prefix_uses_get_iso_dates_date():
    from async_minio_storage.models import get_iso_date
    from async_minio_storage.models import iso_date_prefix

    before = get_iso_date()
    prefixed = iso_date_prefix(None, "cat.png")
    after = get_iso_date()

    assert prefixed in {f"{before}/cat.png", f"{after}/cat.png"}


def test_the_app_has_no_models_and_no_migrations():
    config = apps.get_app_config("async_minio_storage")

    assert config.models_module is not None
    assert config.models_module.__name__ == "async_minio_storage.models"
    assert list(config.get_models()) == []
    assert "async_minio_storage" in MigrationLoader(None).unmigrated_apps


def file_field(*, storage_class: object, upload_to: object) -> models.FileField:
    return models.FileField(
        storage=storage_class(bucket_name="invoices"),  # type: ignore[operator]
        upload_to=upload_to,  # type: ignore[arg-type]
    )


def test_a_swapped_migrations_field_equals_the_models_field():
    """What ``makemigrations`` compares: the fields' deep deconstruction.

    The swapped migration builds its field from ``async_minio_storage.models.*``; the model
    may import the same names from the package (``from async_minio_storage import ...``).
    """
    from async_minio_storage import models as swapped

    deconstruct = MigrationAutodetector(ProjectState(), ProjectState()).deep_deconstruct
    in_migration = file_field(storage_class=swapped.MinioBackend, upload_to=swapped.iso_date_prefix)
    in_model = file_field(
        storage_class=async_minio_storage.MinioBackend,
        upload_to=async_minio_storage.iso_date_prefix,
    )

    assert deconstruct(in_migration) == deconstruct(in_model)


def test_a_copy_of_iso_date_prefix_would_be_a_change():
    """Why ``models.iso_date_prefix`` is a re-export, not a thin function of its own: the
    autodetector compares functions by identity, so a copy (even one calling the original)
    makes every swapped project's ``makemigrations`` write an ``AlterField``."""

    def iso_date_prefix(instance: object, filename: str) -> str:
        return names.iso_date_prefix(instance, filename)

    deconstruct = MigrationAutodetector(ProjectState(), ProjectState()).deep_deconstruct
    with_copy = file_field(storage_class=storage.MinioStorage, upload_to=iso_date_prefix)
    with_original = file_field(storage_class=storage.MinioStorage, upload_to=names.iso_date_prefix)

    assert deconstruct(with_copy) != deconstruct(with_original)


# --- async_minio_storage.apps.DjangoMinioBackendConfig --------------------------------------


@pytest.mark.parametrize(
    ("entry", "config_class"),
    [
        ("async_minio_storage", AsyncMinioStorageConfig),
        ("async_minio_storage.apps.AsyncMinioStorageConfig", AsyncMinioStorageConfig),
        ("async_minio_storage.apps.DjangoMinioBackendConfig", DjangoMinioBackendConfig),
    ],
)
def test_each_installed_apps_entry_installs_the_same_app(entry, config_class):
    config = AppConfig.create(entry)

    assert type(config) is config_class
    assert config.name == "async_minio_storage"
    assert config.label == "async_minio_storage"
    assert isinstance(config, AsyncMinioStorageConfig)  # its ready() registers the checks


def test_the_installed_app_is_still_async_minio_storages_config():
    # tests/settings.py lists "async_minio_storage": the second config in apps.py must not
    # make Django fall back to its plain AppConfig.
    assert type(apps.get_app_config("async_minio_storage")) is AsyncMinioStorageConfig


# --- the ancestor project, swapped ---------------------------------------------------------


def copy_project(destination: Path, bucket: str) -> list[Path]:
    """Copy the ancestor project, lend it ``bucket``, and swap; return the files changed."""
    shutil.copytree(
        ANCESTOR_PROJECT, destination, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3")
    )
    swapped = []
    for path in sorted(destination.rglob("*.py")):
        original = path.read_text()
        path.write_text(swap(original.replace(ANCESTOR_BUCKET, bucket)))
        if OLD in original:
            swapped.append(path.relative_to(destination))
    return swapped


def manage(project: Path, env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


def assert_succeeded(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"


def test_an_ancestor_project_runs_after_the_literal_swap(tmp_path, s3_server, s3_admin, bucket):
    project = tmp_path / "project"
    swapped = copy_project(project, bucket)
    assert {str(path) for path in swapped} == {
        "ancestor_site/settings.py",
        "ancestor_app/models.py",
        "ancestor_app/storages.py",
        "ancestor_app/migrations/0001_initial.py",
    }
    migration = (project / "ancestor_app/migrations/0001_initial.py").read_text()
    assert "storage=async_minio_storage.models.MinioBackend(" in migration
    assert "upload_to=async_minio_storage.models.iso_date_prefix" in migration
    assert bucket in migration
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("DJANGO_")},
        "DJANGO_SETTINGS_MODULE": "ancestor_site.settings",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.getenv("PYTHONPATH")])),
        "PYTHONWARNINGS": "error",
        "GH_MINIO_ENDPOINT": s3_server.endpoint,
        "GH_MINIO_ACCESS_KEY": s3_server.access_key,
        "GH_MINIO_SECRET_KEY": s3_server.secret_key,
        "GH_MINIO_USE_HTTPS": "true" if s3_server.use_https else "false",
    }

    migrated = manage(project, env, "migrate", "--no-input")
    assert_succeeded(migrated)
    assert "Applying ancestor_app.0001_initial... OK" in migrated.stdout

    unchanged = manage(project, env, "makemigrations", "--check", "--dry-run")
    assert_succeeded(unchanged)
    assert "No changes detected" in unchanged.stdout

    checked = manage(project, env, "check", "--fail-level", "ERROR")
    assert_succeeded(checked)

    before = utc_today()
    roundtrip = manage(project, env, "shell", "--verbosity", "0", "--command", swap(ROUNDTRIP))
    after = utc_today()
    assert_succeeded(roundtrip)
    result = json.loads(roundtrip.stdout.strip().splitlines()[-1])

    assert result["file"] in {f"{before}/report.txt", f"{after}/report.txt"}
    assert result["scan"] in {f"{before}/scan.txt", f"{after}/scan.txt"}
    assert result["generic"] == "generic/notes.txt"
    assert result["file_data"] == "private report"
    assert result["scan_data"] == "scanned page"
    assert result["generic_data"] == "generic notes"
    assert result["storage"] == result["default_storage"] == "MinioStorage"
    assert result["available"] is True
    assert result["iso_date"] in {before, after}
    assert result["old_package_imported"] is False
    # Where the files really are: the bucket the project names, on the suite's server.
    assert s3_admin.get(bucket, result["file"]) == b"private report"
    assert s3_admin.get(bucket, result["scan"]) == b"scanned page"
    assert s3_admin.get(bucket, "generic/notes.txt") == b"generic notes"
    assert (project / "db.sqlite3").exists()
