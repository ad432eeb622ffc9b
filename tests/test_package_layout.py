"""The package's layout: one module per concern, none of them long.

A module past ~400 lines has usually grown a second concern (the ancestor's 700-line
``models.py`` held six); split it by concern rather than raising the limit.
"""

from __future__ import annotations

from pathlib import Path

import async_minio_storage

PACKAGE = Path(async_minio_storage.__file__).parent
MAX_MODULE_LINES = 400


def test_no_module_is_longer_than_400_lines():
    lengths = {
        path.relative_to(PACKAGE).as_posix(): len(path.read_text().splitlines())
        for path in sorted(PACKAGE.rglob("*.py"))
    }
    offenders = {path: lines for path, lines in lengths.items() if lines > MAX_MODULE_LINES}

    assert not offenders, (
        f"Modules over {MAX_MODULE_LINES} lines, split them by concern: "
        + ", ".join(f"{path} ({lines})" for path, lines in offenders.items())
    )
