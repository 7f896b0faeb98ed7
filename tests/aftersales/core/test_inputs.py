"""The one rule for what comes in (aftersales/core/inputs.py), and the guards that apply it to every request."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from aftersales.api.parsers import json_depth_exceeds
from aftersales.core import inputs
from customers.models import Purchase

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


# --- Dates, amounts, currencies -------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "accepted"),
    [
        (dt.date(2000, 1, 1), True),
        (dt.date(2046, 3, 2), True),
        (dt.date(1999, 12, 31), False),
        (dt.date(2046, 3, 3), False),
        (dt.date(9999, 12, 31), False),
        (dt.date(1, 1, 1), False),
    ],
)
def test_dates_are_taken_from_2000_to_twenty_years_ahead(day, accepted):
    if accepted:
        assert inputs.check_date(day, label="Ordered on") == day
    else:
        with pytest.raises(ValidationError) as raised:
            inputs.check_date(day, label="Ordered on")
        assert raised.value.messages == ["Ordered on: use a date from 2000-01-01 to 2046-03-02."]


def test_twenty_years_after_29_february_is_28_february():
    assert inputs.latest_date(dt.date(2080, 2, 29)) == dt.date(2100, 2, 28)  # 2100 is no leap year


@pytest.mark.parametrize(
    ("amount", "accepted"),
    [(0, True), (Decimal("9999999999.99"), True), (Decimal("-0.01"), False), (10**10, False), ("NaN", False)],
)
def test_amounts_run_from_zero_to_what_the_column_holds(amount, accepted):
    if accepted:
        assert inputs.check_amount(amount, label="Amount") == Decimal(amount)
    else:
        with pytest.raises(ValidationError, match="Amount: use an amount from 0 to 9,999,999,999.99."):
            inputs.check_amount(amount, label="Amount")


def test_the_amount_limit_is_what_the_purchase_column_holds():
    column = Purchase._meta.get_field("amount")

    assert Decimal(10 ** (column.max_digits - column.decimal_places)) - Decimal("0.01") == inputs.MAX_AMOUNT


@pytest.mark.parametrize(("code", "expected"), [("eur", "EUR"), (" usd ", "USD"), ("RUB", "RUB"), ("DEM", "DEM")])
def test_iso_4217_codes_in_use_or_withdrawn_since_2000_are_taken(code, expected):
    assert inputs.check_currency(code, label="Currency") == expected


@pytest.mark.parametrize("code", ["XYZ", "EU", "EURO", "XAU", "XTS", "", "E1"])
def test_other_codes_metals_and_test_codes_are_refused(code):
    with pytest.raises(ValidationError, match="Currency: use a three-letter currency code"):
        inputs.check_currency(code, label="Currency")


@pytest.mark.parametrize(
    ("text", "expected"), [("2026-03", dt.date(2026, 3, 1)), ("2000-01", dt.date(2000, 1, 1)), ("2046-03", None)]
)
def test_a_drill_down_month_is_a_month_of_the_window(text, expected):
    assert inputs.parse_month(text, label="answered") == (expected or dt.date(2046, 3, 1))


@pytest.mark.parametrize("text", ["9999-12", "0000-01", "1999-12", "2046-04", "2026-13", "2026-3", "٢٠٢٦-٠٣", "x"])
def test_any_other_month_is_refused_without_building_a_date(text):
    with pytest.raises(ValidationError):
        inputs.parse_month(text, label="answered")


@pytest.mark.parametrize("text", ["Ana\x00", "\ud800", "a\udfffb"])
def test_text_with_a_null_or_a_lone_surrogate_cannot_be_stored(text):
    assert not inputs.storable(text)
    with pytest.raises(ValidationError, match="Name: the text contains a null character"):
        inputs.check_text(text, label="Name")


def test_ordinary_text_in_any_script_can_be_stored():
    assert inputs.storable("Ана Руис — café 😀")


# --- JSON depth --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "deeper"),
    [
        ("[" * 32 + "]" * 32, False),
        ("[" * 33 + "]" * 33, True),
        ('{"a": "' + "[" * 100 + '"}', False),  # brackets inside a string
        ('{"a": "\\"[[[[", "b": [[1]]}', False),  # an escaped quote does not end the string
        ("[" * 50_000, True),
    ],
)
def test_depth_is_counted_outside_strings(text, deeper):
    assert json_depth_exceeds(text) is deeper


# --- A NUL in the address ----------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/customers/?q=%00", "/risk/?band=%00", "/customers/?%00=1"])
def test_a_null_character_in_the_query_string_is_a_400_page(alice_client, url):
    response = alice_client.get(url)

    assert response.status_code == 400
    assert "contains a null character" in response.content.decode()


def test_a_null_character_in_an_admin_filter_is_a_400_not_a_database_error(admin_client):
    """``?reason__exact=%00`` reached PostgreSQL, which refuses NUL in a string: a 500."""
    response = admin_client.get("/admin/customers/riskflag/?reason__exact=%00")

    assert response.status_code == 400


def test_a_json_client_gets_the_apis_error_shape(alice_client):
    response = alice_client.get("/api/customers/?q=%00", headers={"Accept": "application/json"})

    assert response.status_code == 400
    assert response.json() == {"q": ["q: the value contains a null character."]}


def test_the_page_is_translated(alice_client, compiled_messages):
    with translation.override("en"):  # the request switches to Spanish; the next test must not inherit it
        response = alice_client.get(reverse("customers:list") + "?q=%00", headers={"Accept-Language": "es"})

    assert response.status_code == 400
    assert "carácter nulo" in response.content.decode()
