"""CSV exports of the customer list and the at-risk list: streamed, scoped, filtered, formula-safe."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from aftersales.core.csv import csv_safe
from tests.factories import CustomerFactory, ProductFactory, PurchaseFactory, RiskFlagFactory

pytestmark = pytest.mark.django_db


def _rows(response) -> list[dict]:
    assert response.streaming, "the export must stream, not build the whole file in memory"
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1 555", "'+1 555"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("Ann O'Neil", "Ann O'Neil"),
        ("a=b", "a=b"),
        (42, 42),
    ],
)
def test_a_cell_that_a_spreadsheet_would_run_is_neutralised(value, written):
    assert csv_safe(value) == written


def test_the_customer_export_keeps_the_lists_filters_and_neutralises_formulas(alice_client, alice, bob):
    CustomerFactory(owner=alice, name="=cmd|' /C calc'!A0", company="Acme", health_score=20)
    CustomerFactory(owner=alice, name="Green Gary", health_score=90)
    CustomerFactory(owner=bob, name="Bob's customer", health_score=20)

    response = alice_client.get(reverse("customers:export"), {"band": "red"})

    assert response["Content-Type"].startswith("text/csv")
    assert "attachment;" in response["Content-Disposition"]
    rows = _rows(response)
    assert [row["name"] for row in rows] == ["'=cmd|' /C calc'!A0"]
    assert rows[0]["health_band"] == "red" and rows[0]["rep"] == "Alice Archer"


def test_the_at_risk_export_has_reasons_and_products_and_only_visible_flags(mary_client, alice):
    flagged = CustomerFactory(owner=alice, name="Flagged Fran")
    RiskFlagFactory(customer=flagged, reason="detractor")
    RiskFlagFactory(customer=flagged, reason="gone_quiet")
    PurchaseFactory(customer=flagged, product=ProductFactory(name="-Boiler"))
    CustomerFactory(owner=alice, name="Calm Carl")

    rows = _rows(mary_client.get(reverse("risk:export"), {"rep": alice.pk}))

    assert [row["name"] for row in rows] == ["Flagged Fran"]
    assert rows[0]["reasons"] == "Detractor; Gone quiet"
    assert rows[0]["products"] == "'-Boiler"


def test_a_rep_exports_only_their_own_customers(alice_client, alice, bob):
    RiskFlagFactory(customer=CustomerFactory(owner=bob, name="Bob's"))
    RiskFlagFactory(customer=CustomerFactory(owner=alice, name="Alice's"))

    assert [row["name"] for row in _rows(alice_client.get(reverse("risk:export"), {"rep": bob.pk}))] == ["Alice's"]
    assert [row["name"] for row in _rows(alice_client.get(reverse("customers:export")))] == ["Alice's"]


def test_the_export_reads_in_chunks_not_one_query_per_row(mary_client, alice, settings):
    def export_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            _rows(mary_client.get(reverse("risk:export")))
        return len(queries.captured_queries)

    for _ in range(3):
        RiskFlagFactory(customer=CustomerFactory(owner=alice))
    few = export_queries()
    for _ in range(30):
        RiskFlagFactory(customer=CustomerFactory(owner=alice))

    assert export_queries() == few
