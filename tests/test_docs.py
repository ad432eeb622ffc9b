"""The README is the front page of the documentation site: every file it links to exists.

The site itself is checked by its build (``./dev.sh docs``, the nox session ``docs``): broken
references, links and anchors, public names missing from the API reference and members
without docstrings fail it (``docs/_ext/site_checks.py``).
"""

from __future__ import annotations

import re
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
# [text](target) and ![alt](target), without the links to other sites.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def relative_links(markdown: str) -> list[str]:
    return [
        target
        for target in LINK.findall(markdown)
        if not re.match(r"[a-z]+:", target) and not target.startswith("#")
    ]


def test_every_file_the_readme_links_to_exists():
    links = relative_links((REPOSITORY / "README.md").read_text())
    missing = [link for link in links if not (REPOSITORY / link.split("#")[0]).exists()]

    assert links, "the README links into the site"
    assert missing == []


def test_every_guide_of_the_site_is_linked_from_the_readme():
    linked = {
        Path(link.split("#")[0]) for link in relative_links((REPOSITORY / "README.md").read_text())
    }
    guides = {
        path.relative_to(REPOSITORY) for path in (REPOSITORY / "docs" / "guides").glob("*.md")
    }

    assert guides - linked - {Path("docs/guides/security.md")} == set()
