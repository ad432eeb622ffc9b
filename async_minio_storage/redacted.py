"""Secrets whose ``repr`` never shows them.

Django's debug page, its plain-text report and ``AdminEmailHandler`` mails print every local
variable of every frame of a traceback, with ``repr`` (through ``pprint``). A secret key that
passes through a frame, ours or miniopy-async's, would be printed. So the secret key and the
session token are :class:`Secret` from the moment settings are read: a ``str`` that
miniopy-async and aiohttp use unchanged (``str()`` of it, as an HTTP header writer takes it, is
the value), whose ``repr`` is a row of stars. Only the signature algorithm's own operations
(``"AWS4" + secret``, ``.encode()``) produce plain values, and those are never bound to a
variable a report shows. Our own messages never format a credential.
"""

from __future__ import annotations

from typing import Any

REDACTED = "********************"


class Secret(str):
    """A credential: equal to, and hashed as, its text; printed as stars."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"'{REDACTED}'"

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled (a cache, a task queue) as a Secret again, not as a plain str.
        return (Secret, (str.__str__(self),))


def secret(value: Any) -> Any:
    """``value`` as a :class:`Secret` if it is text, else unchanged (it is then refused by
    the setting's check, which never echoes a credential)."""
    if isinstance(value, str) and not isinstance(value, Secret):
        return Secret(value)
    return value
