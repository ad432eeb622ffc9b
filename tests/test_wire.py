"""The wire layer (``async_minio_storage/wire/``) is the one place that sends requests and retries
them, and ``wire/miniopy.py`` the one module that touches miniopy-async's private members;
these tests read the package's source to keep it so."""

from __future__ import annotations

import re
from pathlib import Path

import async_minio_storage
from async_minio_storage.wire import miniopy

PACKAGE = Path(async_minio_storage.__file__).parent
INTERNALS = PACKAGE.parent / "docs" / "internals.md"  # the site's "How it works" page
# The private members wire/miniopy.py's docstring lists, as ``Minio._execute``.
LISTED = re.compile(
    r"``(Minio|InvalidResponseError|ClientSession|Credentials|BaseConnector|BaseSelectorEventLoop"
    r"|BaseEventLoop|Provider|ChainedProvider|RetryClient)\.(_[a-z_]+)``"
)


def package_sources() -> dict[str, str]:
    return {
        path.relative_to(PACKAGE).as_posix(): path.read_text() for path in PACKAGE.rglob("*.py")
    }


def listed_in_wire() -> set[str]:
    assert miniopy.__doc__ is not None
    return {f"{owner}.{member}" for owner, member in LISTED.findall(miniopy.__doc__)}


def test_the_docs_list_the_private_members_the_wire_layer_lists():
    page = INTERNALS.read_text()
    section = page.split("<!-- private-members -->")[1].split("<!-- /private-members -->")[0]

    assert set(re.findall(r"`([A-Za-z]+\._[a-z_]+)`", section)) == listed_in_wire()


def test_only_the_wire_layer_touches_miniopy_asyncs_private_members():
    members = {name.split(".")[1] for name in listed_in_wire()}
    touching = {
        path
        for path, source in package_sources().items()
        for member in members
        if re.search(rf"\.{member}\b", source)
    }

    assert touching == {"wire/miniopy.py"}


def test_every_private_member_the_wire_layer_touches_is_listed():
    source = (PACKAGE / "wire" / "miniopy.py").read_text()
    code = source.split('"""', 2)[2]  # past the module docstring
    used = set(
        re.findall(
            r"(?:self|client|error|session|credentials|connector|loop|provider|super\(\))\.(_[a-z][a-z_]*)\b",
            code,
        )
    )
    used |= set(re.findall(r'getattr\(\w+, "(_[a-z][a-z_]*)"', code))
    assert used == {name.split(".")[1] for name in listed_in_wire()}


def test_no_module_but_the_wire_layer_retries_or_sleeps():
    retrying = re.compile(
        r"asyncio\.sleep\(|\bbackoff\(|aiohttp_retry|RetryClient(?!\._client)|for attempt in"
    )
    found = {path for path, source in package_sources().items() if retrying.search(source)}

    assert found == {"wire/policy.py", "wire/multipart.py"}
