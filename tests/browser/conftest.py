"""The example project started the way the README says, and a headless Chromium to drive it.

Chromium is Debian's (``apt-get install chromium``; ``.ci/run`` installs it): browsers cannot
be downloaded on these machines, so Playwright is pointed at that executable.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import pytest
from playwright.sync_api import Browser
from playwright.sync_api import Page
from playwright.sync_api import sync_playwright

from tests.s3_server import free_ports

REPOSITORY = Path(__file__).resolve().parents[2]
ARTIFACTS = REPOSITORY / ".artifacts" / "browser"
START_TIMEOUT = 600  # the first run creates .venv-example and installs into it
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class RunningExample:
    url: str
    admin_password: str
    data_dir: Path
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)


def seaweedfs_sockets(commands: list[str]) -> set[Path]:
    """The gRPC sockets the ``weed`` processes with these command lines create in ``/tmp``.

    weed names them after the gRPC ports, and always puts them in /tmp. Looking only at our
    server's ports keeps other SeaweedFS servers on the machine (other test runs, benchmarks)
    from failing the check.
    """
    ports = {port for command in commands for port in re.findall(r"port\.grpc=(\d+)", command)}
    return {path for port in ports for path in Path("/tmp").glob(f"seaweedfs-*-grpc-{port}.sock")}


def processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in command:
            found.append(command)
    return found


@pytest.fixture(scope="session")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningExample]:
    """``./dev.sh example`` on a free port with its own data folder; Ctrl-C at the end."""
    data_dir = tmp_path_factory.mktemp("example-data")
    (port,) = free_ports(1)
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("MINIO_", "DJANGO_", "VIRTUAL_ENV"))
    }
    environment["PYTHONUNBUFFERED"] = "1"
    process = subprocess.Popen(
        ["./dev.sh", "example", "--port", str(port), "--data-dir", str(data_dir)],
        cwd=REPOSITORY,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    started = threading.Event()

    def read_output() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if line.startswith("Open http://"):
                started.set()

    reader = threading.Thread(target=read_output, daemon=True)
    reader.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not started.wait(0.5):
        if process.poll() is not None or time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail("the example did not start:\n" + "".join(output))
    text = "".join(output)
    url = re.search(r"^Open (http://\S+)", text, re.MULTILINE)
    password = re.search(r"password '([^']+)'", text)
    assert url is not None
    assert password is not None
    running = RunningExample(url.group(1), password.group(1), data_dir, process, output)
    yield running

    our_seaweedfs = processes_mentioning(str(data_dir))
    assert any("port.grpc=" in command for command in our_seaweedfs)  # for the socket check
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in the terminal
    process.wait(60)
    reader.join(10)
    assert process.stdout is not None
    process.stdout.close()
    assert process.returncode == 0, "".join(output)
    assert "Stopped the embedded S3 server." in "".join(output)
    assert processes_mentioning(str(data_dir)) == []  # no SeaweedFS left running
    assert seaweedfs_sockets(our_seaweedfs) == set()  # no stray files in /tmp


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(executable).exists():
        pytest.fail("The browser tests need Debian's Chromium: apt-get install -y chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh page; its last state is saved as a screenshot under .artifacts/browser/."""
    context = browser.new_context(viewport={"width": 1100, "height": 760}, accept_downloads=True)
    opened = context.new_page()
    yield opened
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    opened.screenshot(path=ARTIFACTS / f"{request.node.name}.png", full_page=True)
    context.close()
