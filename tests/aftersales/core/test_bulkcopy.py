"""The one bulk-insert helper (aftersales/core/bulkcopy.py): COPY on PostgreSQL, on either driver; INSERTs on SQLite."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sqlite3
from decimal import Decimal

import pytest
import time_machine
from django.db import connection

from aftersales.core import bulkcopy
from customers.models import FlagReason, Purchase, RiskFlag
from tests.factories import CustomerFactory, ProductFactory
from touchpoints.models import Channel, Kind, Status, TouchPoint

NOW = dt.datetime(2026, 3, 4, 10, 0, tzinfo=dt.UTC)
# What COPY's text and CSV formats must escape or quote, and what SQL would choke on.
AWKWARD = 'Tab\there, a new\nline, a back\\slash, a "quote", a comma, \\N and \r; Привет'


@pytest.fixture
def customer(alice):
    return CustomerFactory(owner=alice)


@pytest.mark.django_db
def test_bulk_insert_writes_what_save_would(customer):
    """Fields left out get their defaults and auto_now times; awkward text, None and booleans come back as given."""
    due = NOW + dt.timedelta(days=3)
    rows = [
        {"customer_id": customer.pk, "assignee_id": customer.owner_id, "due_at": due, "objective": AWKWARD},
        {
            "customer_id": customer.pk,
            "assignee_id": customer.owner_id,
            "due_at": due + dt.timedelta(hours=1),
            "kind": Kind.RENEWAL,
            "survey_follows": True,
            "temperature": None,
            "notes": "",
        },
    ]
    with time_machine.travel(NOW, tick=False):
        assert bulkcopy.bulk_insert(TouchPoint, rows) == 2
    first, second = TouchPoint.objects.filter(customer=customer).order_by("due_at")
    assert (first.objective, first.due_at, first.kind, first.channel, first.status) == (
        AWKWARD,
        due,
        Kind.PLANNED,
        Channel.CALL,
        Status.SCHEDULED,
    )
    assert (first.created_at, first.updated_at, first.survey_follows, first.completed_at) == (NOW, NOW, False, None)
    assert (second.kind, second.survey_follows, second.temperature, second.notes) == (Kind.RENEWAL, True, None, "")


@pytest.mark.django_db
def test_bulk_insert_writes_json_and_callable_defaults(customer):
    """A dict goes in as JSON; a callable default (raised_at = now) is called."""
    data = {"days_silent": 50, "note": AWKWARD, "nested": [1, None, True]}
    with time_machine.travel(NOW, tick=False):
        bulkcopy.bulk_insert(RiskFlag, [{"customer_id": customer.pk, "reason": FlagReason.GONE_QUIET, "data": data}])
    flag = RiskFlag.objects.get(customer=customer)
    assert (flag.data, flag.raised_at, flag.detail, flag.resolved_at) == (data, NOW, "", None)


@pytest.mark.django_db
def test_bulk_insert_refuses_a_key_the_model_has_no_column_for(customer):
    """A misspelt or non-attname key fails loudly instead of being dropped on one database and not the other."""
    with pytest.raises(ValueError, match="customer"):
        bulkcopy.bulk_insert(TouchPoint, [{"customer": customer, "due_at": NOW}])
    assert not TouchPoint.objects.exists()


@pytest.mark.django_db
def test_bulk_insert_of_nothing_writes_nothing():
    assert bulkcopy.bulk_insert(TouchPoint, []) == 0


@pytest.mark.django_db
def test_write_rows_inserts_tuples_in_column_order(customer):
    """Tuples (or their CSV) go in as given: '' stays '' in a not-null text column, None is NULL, decimals exact."""
    product = ProductFactory()
    table = Purchase._meta.db_table
    columns = ["id", "customer_id", "product_id", "ordered_at", "delivered_at", "amount", "currency", "external_ref"]
    columns += ["created_at"]
    rows = [
        (900_001, customer.pk, product.pk, dt.date(2026, 1, 5), None, "1234.56", "", None, "2026-01-05 09:00:00"),
        (900_002, customer.pk, product.pk, dt.date(2026, 2, 1), dt.date(2026, 2, 3), "9.90", "RUB", AWKWARD, NOW),
    ]
    not_null = ["currency"]
    bulkcopy.write_rows(table=table, columns=columns, rows=rows[:1], not_null=not_null)
    # seed_demo renders the CSV in one thread and writes it in another.
    payload = bulkcopy.render_csv(rows[1:]) if connection.vendor == "postgresql" else rows[1:]
    bulkcopy.write_rows(table=table, columns=columns, rows=payload, not_null=not_null)
    got = list(
        Purchase.objects.filter(customer=customer)
        .order_by("pk")
        .values_list("pk", "ordered_at", "delivered_at", "amount", "currency", "external_ref", "created_at")
    )
    assert got == [
        (900_001, dt.date(2026, 1, 5), None, Decimal("1234.56"), "", None, dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)),
        (900_002, dt.date(2026, 2, 1), dt.date(2026, 2, 3), Decimal("9.90"), "RUB", AWKWARD, NOW),
    ]


def test_the_driver_is_told_by_the_connection_module():
    """psycopg2's and psycopg 3's connection classes live in their own packages; anything else is refused."""
    sqlite = sqlite3.connect(":memory:")
    try:
        assert bulkcopy.copy_driver(sqlite) == "sqlite3"
        with pytest.raises(NotImplementedError, match="sqlite3"):
            bulkcopy.copy_into(sqlite.cursor(), "COPY t FROM STDIN", "1\n")
    finally:
        sqlite.close()


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
def test_djangos_connection_is_dispatched_to_its_own_driver():
    """The module Django loaded as its PostgreSQL driver is the one the helper sees on the raw connection."""
    connection.ensure_connection()
    assert bulkcopy.copy_driver(connection.connection) == connection.Database.__name__


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
@pytest.mark.parametrize("driver", ["psycopg2", "psycopg"])
def test_copy_into_works_on_each_installed_driver(driver):
    """COPY through the driver's own cursor: psycopg2's copy_expert, psycopg 3's copy(); skipped where not installed."""
    if importlib.util.find_spec(driver) is None:
        pytest.skip(f"{driver} is not installed")
    module = importlib.import_module(driver)
    settings = connection.settings_dict
    raw = module.connect(
        dbname=settings["NAME"],
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
    )
    try:
        cursor = raw.cursor()
        cursor.execute("CREATE TEMP TABLE bulkcopy_probe (n integer, note text, at timestamptz)")
        bulkcopy.copy_into(
            cursor,
            "COPY bulkcopy_probe (n, note, at) FROM STDIN WITH (FORMAT csv)",
            bulkcopy.render_csv([(1, AWKWARD, NOW), (2, None, None)]),
        )
        cursor.execute("SELECT n, note, at FROM bulkcopy_probe ORDER BY n")
        assert cursor.fetchall() == [(1, AWKWARD, NOW), (2, None, None)]
    finally:
        raw.close()
