"""The example project's ASGI application, for the servers ``tests/test_workers.py`` starts.

It is ``example_project/project/asgi.py``'s, loaded after one synchronous call to the storage,
as an app that looks at its storage at start-up makes: under ``gunicorn --preload`` that call
runs in the master, so each worker is forked with the master's portal loop and its pooled
connection, which the worker must leave alone.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "example_project"
if str(EXAMPLE) not in sys.path:
    sys.path.insert(0, str(EXAMPLE))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

from project.asgi import application  # noqa: E402 - the example's modules are on the path now


def look_at_the_storage() -> None:
    from gallery.models import private_storage  # Django is set up by the import above

    private_storage().exists("loaded-by-the-server.txt")


look_at_the_storage()

__all__ = ["application"]
