"""Test and lint sessions. Run them all with ``./dev.sh test`` (which installs nox first).

``tests`` runs the whole suite against a real S3 server (SeaweedFS, started by the suite) on the
supported Django lines: 5.2 and 4.2 LTS on the default Python, and the newest Django on the
newest Python; the 4.2 line with the lowest miniopy-async and aiohttp that pyproject accepts.
The first two run against ``weed mini`` (every role in one process); the newest line
(``tests(py3.13-django6.1-cluster)``) against a SeaweedFS cluster of separate processes: a
master, three volume servers with replication 001, a filer and an S3 gateway
(``ASYNC_MINIO_TEST_SERVER=cluster``, ``tests/seaweed_cluster.py``), so the cluster costs no
extra run of the suite. The slow ``once`` tests run on the first line only; among them,
``tests/test_cluster.py`` starts a cluster of its own and kills a volume server mid-workload.
``browser`` starts the example project with ``./dev.sh example`` and drives it with Debian's
Chromium. ``benchmarks_quick`` runs the benchmark harness in quick mode. ``lint`` is
ruff and mypy. ``docs`` builds the documentation site (``./dev.sh docs``) with every warning an
error: a broken reference, link or anchor, a public name missing from the API reference, or a
documented member without a docstring fails it (``docs/_ext/site_checks.py``).
"""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "docs", "tests", "browser", "benchmarks_quick"]
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True

# Python, Django, and the SeaweedFS the suite starts: "mini" or "cluster".
MATRIX = [
    ("3.11", "5.2", "mini"),
    ("3.11", "4.2", "mini"),
    ("3.13", "6.1", "cluster"),
]
# The oldest line also runs on the lowest versions pyproject.toml accepts of what the wire layer
# builds on; the others get the newest.
LOWEST = {"4.2": ["miniopy-async==1.23.5", "aiohttp==3.11.16", "certifi==2025.1.31"]}


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    session.install("-e", ".[dev]", "django~=5.2.0")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session(python="3.11")
def docs(session: nox.Session) -> None:
    """The site, built afresh (``-E``: an incremental build would not repeat the warnings of
    pages it skips) into ``docs/_build/html``, which opens from the file system."""
    session.install("-e", ".[docs]")
    session.run(
        "sphinx-build",
        "-W",
        "--keep-going",
        "-n",
        "-q",
        "-E",
        "-b",
        "html",
        "docs",
        "docs/_build/html",
        *session.posargs,
    )


@nox.session
@nox.parametrize(
    ("python", "django", "server"),
    MATRIX,
    ids=[f"py{p}-django{d}" + ("-cluster" if s == "cluster" else "") for p, d, s in MATRIX],
)
def tests(session: nox.Session, django: str, server: str) -> None:
    session.install("-e", ".[test]", f"django~={django}.0", *LOWEST.get(django, []))
    session.env["ASYNC_MINIO_TEST_SERVER"] = server
    # The first line runs every test and measures coverage. The others skip the slow tests that
    # do not depend on Django or dependency versions (marker "once"), and coverage (CI time).
    if (session.python, django, server) == MATRIX[0]:
        only_here = ["--cov=async_minio_storage", "--cov-report=term-missing:skip-covered"]
    else:
        only_here = ["-m", "not once"]
    session.run("python", "-m", "pip", "list", "--format=freeze", silent=False)
    session.run(
        "pytest",
        "--ignore=tests/browser",
        "--ignore=tests/benchmarks",
        *only_here,
        *session.posargs,
    )


@nox.session(python="3.11")
def browser(session: nox.Session) -> None:
    """The example project, started as the README says, driven by headless Chromium."""
    session.install("-e", ".[browser]")
    session.run("pytest", "tests/browser", *session.posargs)


@nox.session(python="3.11")
def benchmarks_quick(session: nox.Session) -> None:
    """The benchmark harness in quick mode (a smoke test, not a measurement)."""
    session.install("-e", ".[test,benchmarks]")
    session.run("pytest", "tests/benchmarks", *session.posargs)
