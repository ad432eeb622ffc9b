"""The site's own checks, run by every build (``./dev.sh docs``, the nox session ``docs``).

Three things Sphinx does not do by itself, each reported as a warning, which ``-W`` turns into a
failed build:

- **Inventories without a network.** intersphinx needs ``objects.inv`` files of Python and
  Django, and CI reaches PyPI only. The objects these pages link to are listed in
  ``docs/inventories/*.txt``; on ``config-inited`` (before intersphinx reads them) they are
  written as Sphinx inventories into ``_build/inventories/``, with the addresses of the real
  documentation. A reference to an object not listed is a "reference target not found"
  warning, as for any other unresolved reference (``nitpicky``).
- **The API reference is complete.** Every name in ``async_minio_storage.__all__`` and in the
  ``__all__`` of the modules in :data:`PUBLIC_MODULES` must be documented by an ``auto*``
  directive somewhere (``env-check-consistency``).
- **Every internal link resolves.** After the HTML is written, each relative ``href`` and
  ``src`` of every page must name a file of the built site and, with a ``#fragment``, an
  element of that page with that id (``build-finished``). Links to other sites are not
  followed: they would need the network.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from urllib.parse import urlsplit

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.environment import BuildEnvironment
from sphinx.util import logging

logger = logging.getLogger(__name__)

# The modules whose public names (their ``__all__``) the API reference must document.
PUBLIC_MODULES = (
    "async_minio_storage",
    "async_minio_storage.fields",
    "async_minio_storage.views",
    "async_minio_storage.downloads",
    "async_minio_storage.direct_uploads",
    "async_minio_storage.errors",
)

# Sphinx py roles as an inventory writes them (domain:type).
PY_TYPES = {
    "class": "py:class",
    "exception": "py:exception",
    "function": "py:function",
    "method": "py:method",
    "attribute": "py:attribute",
    "data": "py:data",
    "module": "py:module",
}
STD_TYPES = {"setting": "std:setting", "label": "std:label", "command": "std:django-admin"}


def python_address(role: str, name: str) -> str:
    """docs.python.org's page of an object: its module's page, the object's id as anchor."""
    module = name if role == "module" else name.rsplit(".", 1)[0]
    anchor = f"module-{name}" if role == "module" else name
    return f"library/{module}.html#{anchor}"


def django_address(role: str, name: str, page: str, documented_as: str | None) -> str:
    """docs.djangoproject.com's anchors: the documented path of an object
    (``django.http.HttpRequest`` for ``django.http.request.HttpRequest``, the name type hints
    carry), or ``std-setting-NAME``."""
    anchors = {"setting": f"std-setting-{name}", "command": f"django-admin-{name}"}
    return f"{page}#{anchors.get(role, documented_as or name)}"


def write_inventory(source: Path, target: Path, project: str) -> None:
    """Sphinx's inventory format 2: four header lines, then zlib-compressed entries."""
    entries = []
    for line in source.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        role, name, *page = line.split()
        kind = PY_TYPES.get(role) or STD_TYPES[role]
        if project == "Django":
            address = django_address(role, name, page[0], page[1] if len(page) > 1 else None)
        else:
            address = page[0] if page else python_address(role, name)
        entries.append(f"{name} {kind} 1 {address} -")
    target.parent.mkdir(parents=True, exist_ok=True)
    header = (
        f"# Sphinx inventory version 2\n# Project: {project}\n# Version: \n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    target.write_bytes(header.encode() + zlib.compress("\n".join(entries).encode() + b"\n"))


def write_inventories(app: Sphinx, config: Config) -> None:
    docs = Path(app.confdir)
    for stem, project in (("python", "Python"), ("django", "Django")):
        write_inventory(
            docs / "inventories" / f"{stem}.txt",
            docs / "_build" / "inventories" / f"{stem}.inv",
            project,
        )


@functools.cache
def exported() -> dict[str, Any]:
    """Every public name (the ``__all__`` of :data:`PUBLIC_MODULES`), with its object."""
    names: dict[str, Any] = {}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        if not hasattr(module, "__all__"):
            logger.warning("%s has no __all__: its public names are unknown", module_name)
            continue
        names.update({f"{module_name}.{name}": getattr(module, name) for name in module.__all__})
    return names


def check_api_reference(app: Sphinx, env: BuildEnvironment) -> None:
    documented = set(env.get_domain("py").objects)  # type: ignore[attr-defined]
    for name in sorted(exported().keys() - documented):
        logger.warning("public name %s is not in the API reference", name)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if value is None:
                continue
            if key == "id" or (key == "name" and tag == "a"):
                self.ids.add(value)
            elif key in {"href", "src"}:
                self.links.append(value)


def _parse(path: Path, cache: dict[Path, _Links]) -> _Links:
    if path not in cache:
        parser = _Links()
        parser.feed(path.read_text(encoding="utf-8"))
        cache[path] = parser
    return cache[path]


def check_internal_links(app: Sphinx, exception: BaseException | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir).resolve()
    cache: dict[Path, _Links] = {}
    broken = 0
    for page in sorted(outdir.rglob("*.html")):
        for link in _parse(page, cache).links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("mailto:", "javascript:")):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            where = page.relative_to(outdir)
            if not target.is_relative_to(outdir) or not target.exists():
                logger.warning("%s: link to a missing file: %s", where, link)
                broken += 1
            elif (
                parts.fragment
                and target.suffix == ".html"
                and unquote(parts.fragment) not in _parse(target, cache).ids
            ):
                logger.warning("%s: link to a missing anchor: %s", where, link)
                broken += 1
    logger.info("site_checks: internal links of %d pages checked, %d broken", len(cache), broken)


def hide_private_bases(app: Sphinx, name: str, obj: Any, options: Any, bases: list[type]) -> None:
    """Leave the package's private mixins out of "Bases:" (their members are documented on the
    public classes), so that no reference points at an undocumented class: a base from the
    package stays only if a public module exports it."""
    public = [value for value in exported().values() if isinstance(value, type)]
    bases[:] = [
        base
        for base in bases
        if not base.__module__.startswith("async_minio_storage.") or base in public
    ]


# Public names that are aliases of a class defined elsewhere: type hints carry the class's own
# path, the reference documents the public one.
DOCUMENTED_AS = {
    "async_minio_storage.wire.records.ObjectRecord": "async_minio_storage.files.ObjectInfo",
}


def resolve_aliases(app: Sphinx, env: BuildEnvironment, node: Any, contnode: Any) -> Any:
    target = DOCUMENTED_AS.get(node.get("reftarget", ""))
    if target is None or node.get("refdomain") != "py":
        return None
    return env.get_domain("py").resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], target, node, contnode
    )


def require_docstrings(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """Every documented name of the package says what it does: the reference lists members
    without docstrings too (``undoc-members``), so a missing one is a warning here."""
    if name.startswith("async_minio_storage.") and not any(line.strip() for line in lines):
        logger.warning("%s %s has no docstring", what, name)


def signature_of_init(
    app: Sphinx,
    what: str,
    name: str,
    obj: Any,
    options: Any,
    signature: str | None,
    annotation: Any,
) -> tuple[str, Any] | None:
    """Django's ``@deconstructible`` gives storages a ``__new__(cls, *args, **kwargs)``, which
    autodoc would show as the class's signature: show ``__init__``'s instead."""
    if what != "class" or not signature or not signature.startswith("(*args"):
        return None
    init = inspect.signature(obj.__init__, eval_str=True)
    parameters = list(init.parameters.values())[1:]  # without self
    plain = init.replace(parameters=parameters, return_annotation=inspect.Signature.empty)
    text = str(plain)
    if app.config.autodoc_typehints != "signature":
        text = str(
            plain.replace(
                parameters=[p.replace(annotation=inspect.Parameter.empty) for p in parameters]
            )
        )
    return text, annotation


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("autodoc-process-signature", signature_of_init)
    app.connect("autodoc-process-docstring", require_docstrings)
    app.connect("missing-reference", resolve_aliases)
    # Django's own role for settings (``{setting}`STORAGES```), resolved through its inventory.
    app.add_crossref_type("setting", "setting", indextemplate="pair: %s; setting")
    app.connect("autodoc-process-bases", hide_private_bases)
    app.connect("config-inited", write_inventories, priority=100)
    app.connect("env-check-consistency", check_api_reference)
    app.connect("build-finished", check_internal_links)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
