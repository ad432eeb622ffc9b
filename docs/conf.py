"""Sphinx configuration of the documentation site (``./dev.sh docs`` builds it; ``docs/README.md``
says why Sphinx and how the checks work).

The build is hermetic: Django is configured here with settings that name no server, so autodoc
imports the package without network I/O, and the intersphinx inventories of Django and Python
are read from ``docs/inventories/`` (CI reaches PyPI only), written by the ``site_checks``
extension from the lists kept there.
"""

from __future__ import annotations

import sys
from pathlib import Path

import django
from django.conf import settings

DOCS = Path(__file__).resolve().parent
sys.path[:0] = [str(DOCS.parent), str(DOCS / "_ext")]

settings.configure(
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "async_minio_storage"],
    MINIO_ENDPOINT="docs.invalid:9000",
)
django.setup()

import async_minio_storage  # noqa: E402 -- after django.setup()

project = "async_minio_storage"
author = "async_minio_storage contributors"
copyright = "the async_minio_storage contributors, MIT licence"
release = async_minio_storage.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "myst_parser",
    "site_checks",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "README.md", "inventories"]
templates_path: list[str] = []

# Every reference must resolve: a missing page, heading, class or setting fails the build.
nitpicky = True
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "deflist"]
suppress_warnings: list[str] = []

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
maximum_signature_line_length = 88
autodoc_typehints_format = "short"
# Each class lists its own members; docs/reference/api.rst asks for more where a class's public
# methods come from a mixin of the package, and names the members of the file classes.
autodoc_default_options = {"members": True, "show-inheritance": True}
autoclass_content = "class"  # not the __init__ of Django's View and the like

intersphinx_mapping = {
    "python": ("https://docs.python.org/3/", str(DOCS / "_build" / "inventories" / "python.inv")),
    "django": (
        "https://docs.djangoproject.com/en/5.2/",
        str(DOCS / "_build" / "inventories" / "django.inv"),
    ),
}
# miniopy-async and aiohttp publish no inventory that CI can read: their names stay plain text.
nitpick_ignore_regex = [("py:class", r"(miniopy_async|aiohttp)\..*")]

html_theme = "furo"
html_title = "async_minio_storage"
html_static_path = ["_static"]
html_css_files = ["site.css"]
html_show_sourcelink = False
html_copy_source = False
