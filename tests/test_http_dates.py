"""``Last-Modified`` is read without ``strptime`` in the form S3 servers send, and agrees with
Django's parser (which takes every form HTTP allows) on any date."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

from django.utils.http import http_date as format_http_date
from django.utils.http import parse_http_date
from hypothesis import given
from hypothesis import strategies as st

from async_minio_storage.wire.records import http_date

MOMENTS = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 31)).map(
    lambda moment: moment.replace(microsecond=0, tzinfo=UTC)
)


@given(MOMENTS)
def test_the_imf_fixdate_form_is_read_as_django_reads_it(moment):
    header = format_http_date(moment.timestamp())  # "Tue, 01 Dec 2026 20:56:00 GMT"

    assert http_date(header) == datetime.fromtimestamp(parse_http_date(header), tz=UTC)
    assert http_date(header) == moment


def test_the_obsolete_forms_and_nonsense_go_through_djangos_parser():
    expected = datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)

    assert http_date("Sunday, 06-Nov-94 08:49:37 GMT") == expected  # RFC 850
    assert http_date("Sun Nov  6 08:49:37 1994") == expected  # asctime
    assert http_date("Tue, 31 Feb 2026 20:56:00 GMT") is None  # no such day
    assert http_date("Tue, 01 Foo 2026 20:56:00 GMT") is None
    assert http_date("") is None
    assert http_date(None) is None
