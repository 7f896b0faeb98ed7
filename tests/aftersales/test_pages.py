"""My day, the dashboard, the customer pages and the error pages."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.views.defaults import server_error

from tests.factories import (
    CustomerFactory,
    PurchaseFactory,
    RiskFlagFactory,
    SurveyResponseFactory,
    TouchPointFactory,
)
from touchpoints.models import Status

NOW = dt.datetime(2025, 3, 12, 10, 0, tzinfo=dt.UTC)  # a Wednesday morning


@pytest.fixture
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def _queries(client, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return [q["sql"] for q in queries.captured_queries]


# --- Dashboard ------------------------------------------------------------------


def test_dashboard_is_for_managers_only(alice_client):
    response = alice_client.get(reverse("dashboard"))

    assert response.status_code == 403
    assert "You can’t open this page" in response.content.decode()


def test_dashboard_headline_numbers(mary_client, alice, bob, frozen_now):
    customers = CustomerFactory.create_batch(4, owner=alice)
    RiskFlagFactory(customer=customers[0], reason="gone_quiet")
    RiskFlagFactory(customer=customers[1], reason="gone_quiet")
    RiskFlagFactory(customer=customers[1], reason="detractor")
    RiskFlagFactory(customer=customers[2], reason="detractor", resolved_at=NOW)
    TouchPointFactory(customer=customers[0], due_at=NOW - dt.timedelta(days=1))
    TouchPointFactory(customer=customers[0], due_at=NOW - dt.timedelta(days=1), status=Status.CANCELLED)
    TouchPointFactory(customer=customers[0], due_at=NOW + dt.timedelta(days=1))
    # 5 promoters, 2 passives, 3 detractors in the window: NPS = (5 - 3) / 10 = +20.
    for score in (9, 10, 9, 10, 10, 7, 8, 0, 6, 3):
        SurveyResponseFactory(invitation__customer=customers[3], nps=score, submitted_at=NOW - dt.timedelta(days=10))
    SurveyResponseFactory(invitation__customer=customers[3], nps=0, submitted_at=NOW - dt.timedelta(days=91))
    SurveyResponseFactory(invitation__customer=customers[3], nps=None, submitted_at=NOW)

    response = mary_client.get(reverse("dashboard"))

    assert response.status_code == 200
    context = response.context
    assert context["customer_count"] == 4
    assert context["at_risk_count"] == 2
    assert sum(count for _, count in context["flags_by_reason"]) == 3
    assert dict(context["flags_by_reason"])["Gone quiet"] == 2
    assert dict(context["flags_by_reason"])["Detractor"] == 1
    assert context["overdue_count"] == 1
    nps = context["nps"]
    assert (nps.responses, nps.promoters, nps.passives, nps.detractors, nps.score) == (10, 5, 2, 3, 20)
    content = " ".join(response.content.decode().split())
    assert "10 answers: 5 promoters, 2 passives, 3 detractors." in content
    assert "NPS by month" in content, "the trend charts replaced the placeholder note"


def test_dashboard_without_answers_shows_no_nps(mary_client):
    response = mary_client.get(reverse("dashboard"))

    assert response.context["nps"].score is None
    assert "0 answers" in response.content.decode()


# --- Customers ------------------------------------------------------------------


def test_customer_list_shows_a_rep_only_their_customers(alice_client, alice, bob):
    CustomerFactory(owner=alice, name="Ana Alvarez")
    CustomerFactory(owner=bob, name="Boris Belov")

    content = alice_client.get(reverse("customers:list")).content.decode()

    assert "Ana Alvarez" in content
    assert "Boris Belov" not in content


def test_manager_sees_every_customer_with_its_rep(mary_client, alice, bob):
    CustomerFactory(owner=alice, name="Ana Alvarez")
    CustomerFactory(owner=bob, name="Boris Belov")

    content = mary_client.get(reverse("customers:list")).content.decode()

    assert "Ana Alvarez" in content and "Boris Belov" in content
    assert "Alice Archer" in content and "Bob Baker" in content


@pytest.mark.parametrize("query", ["ortega", "ACME", "nadia.o@"])
def test_customer_search_by_name_company_or_email(alice_client, alice, query):
    CustomerFactory(owner=alice, name="Nadia Ortega", company="Acme Tools", email="nadia.o@example.com")
    CustomerFactory(owner=alice, name="Pavel Petrov", company="Zeta", email="pavel@example.com")

    response = alice_client.get(reverse("customers:list"), {"q": query})

    assert [c.name for c in response.context["customers"]] == ["Nadia Ortega"]


def test_customer_search_with_no_match_says_so(alice_client, alice):
    CustomerFactory(owner=alice)

    content = alice_client.get(reverse("customers:list"), {"q": "<zzz>"}).content.decode()

    assert "No customer matches “&lt;zzz&gt;”." in content


def test_customer_list_is_paginated_and_keeps_the_search(alice_client, alice):
    CustomerFactory.create_batch(30, owner=alice, company="Acme")

    response = alice_client.get(reverse("customers:list"), {"q": "acme"})

    assert len(response.context["customers"]) == 25
    assert "?q=acme&amp;page=2" in response.content.decode()
    second = alice_client.get(reverse("customers:list"), {"q": "acme", "page": 2})
    assert len(second.context["customers"]) == 5


@pytest.mark.parametrize("viewer", ["alice", "mary"])
def test_customer_list_query_count_does_not_grow_with_rows(client, alice, bob, mary, viewer):
    """Same number of queries for 3 and 30 customers, for a rep and for a manager (who sees the rep column)."""
    client.force_login({"alice": alice, "mary": mary}[viewer])

    def add(count: int) -> None:
        for n, customer in enumerate(CustomerFactory.create_batch(count, owner=alice)):
            RiskFlagFactory(customer=customer)
            CustomerFactory(owner=bob if n % 2 else alice)

    add(3)
    small = _queries(client, reverse("customers:list"))
    add(27)
    large = _queries(client, reverse("customers:list"))

    assert len(large) == len(small), "\n".join(large)


def test_customer_detail_shows_profile_purchases_touchpoints_answers_and_flags(alice_client, alice, frozen_now):
    customer = CustomerFactory(owner=alice, name="Nadia Ortega", notes="Prefers <calls> in the morning")
    PurchaseFactory(customer=customer, product__name="Espresso Pro 3000")
    TouchPointFactory(customer=customer, objective="Check the grinder", temperature=4)
    SurveyResponseFactory(invitation__customer=customer, nps=3, comment="Leaks <again>")
    RiskFlagFactory(customer=customer, reason="detractor", detail="Answered NPS 3")

    response = alice_client.get(customer.get_absolute_url())

    assert response.status_code == 200
    content = response.content.decode()
    for text in ("Nadia Ortega", "Espresso Pro 3000", "Check the grinder", "NPS 3", "Answered NPS 3", "Detractor"):
        assert text in content, text
    assert "Leaks &lt;again&gt;" in content
    assert "Prefers &lt;calls&gt; in the morning" in content


def test_rep_cannot_open_another_reps_customer(alice_client, bob):
    customer = CustomerFactory(owner=bob)

    response = alice_client.get(customer.get_absolute_url())

    assert response.status_code == 404
    assert customer.name not in response.content.decode()
    assert "Page not found" in response.content.decode()


def test_manager_can_open_any_customer(mary_client, bob):
    customer = CustomerFactory(owner=bob, name="Boris Belov")

    response = mary_client.get(customer.get_absolute_url())

    assert response.status_code == 200
    assert "Boris Belov" in response.content.decode()


@pytest.mark.parametrize("url_name", ["my_day", "dashboard", "customers:list"])
def test_pages_need_a_login(client, db, url_name):
    response = client.get(reverse(url_name))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# --- Layout ---------------------------------------------------------------------


def test_layout_navigation_per_role(alice_client, client, mary, alice):
    rep_page = alice_client.get(reverse("customers:list")).content.decode()
    assert reverse("my_day") in rep_page and reverse("dashboard") not in rep_page
    assert 'href="#main"' in rep_page  # skip link
    assert 'hx-headers=\'{"X-CSRFToken": "' in rep_page
    assert "bootstrap/css/bootstrap.min.css" in rep_page and "django_htmx/htmx" in rep_page
    assert not re.search(r'(src|href)="(https?:)?//', rep_page), "assets must be served locally, not from a CDN"

    client.force_login(mary)
    manager_page = client.get(reverse("customers:list")).content.decode()
    assert reverse("dashboard") in manager_page and 'href="/my-day/"' not in manager_page
    assert reverse("admin:index") not in manager_page  # not staff


def test_messages_are_rendered_in_the_layout(client, db):
    """A flash message (here: from the mailbox clear action) shows on the next page."""
    from tests.factories import UserFactory

    client.force_login(UserFactory(is_staff=True))
    response = client.post(reverse("mailbox:clear"), follow=True)

    assert 'class="alert alert-success' in response.content.decode()


def test_server_error_page_renders_without_context(db):
    response = server_error(RequestFactory().get("/"))

    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()
