"""Property: any value of any setting is either accepted or refused with an
``ImproperlyConfigured`` that names the setting; nothing else escapes."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from async_minio_storage.config import OPTIONS
from async_minio_storage.config import resolve_config

NAMES = sorted(name for option in OPTIONS for name in (option.setting, *option.aliases))
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.binary(max_size=10),
    st.timedeltas(min_value=timedelta(days=-30), max_value=timedelta(days=30)),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=8), inner, max_size=3),
    ),
    max_leaves=6,
)


def refusal(options: dict[str, object]) -> str | None:
    """The message of the ImproperlyConfigured the options get, or None if accepted."""
    try:
        resolve_config(options)
    except ImproperlyConfigured as refused:
        return str(refused)
    return None


@settings(max_examples=400, deadline=None)
@given(setting=st.sampled_from(NAMES), value=VALUES)
def test_any_value_is_accepted_or_refused_naming_the_setting(setting, value):
    message = refusal({setting: value})

    assert message is None or setting in message


@settings(max_examples=100, deadline=None)
@given(options=st.dictionaries(st.sampled_from(NAMES), VALUES, max_size=5))
def test_any_combination_is_accepted_or_refused_naming_a_given_setting(options):
    message = refusal(options)

    assert message is None or any(name in message for name in options)
