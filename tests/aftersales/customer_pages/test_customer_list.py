"""The customer list: scoping, search, filters, sorting, pagination, query counts and its PostgreSQL indexes."""

from __future__ import annotations

import pytest
import time_machine
from django.db import connection
from django.urls import reverse

from aftersales.customer_pages import views
from aftersales.customer_pages.selectors import CustomerFilters, customer_search
from tests.aftersales.customer_pages.test_customer_pages import DAY, NOW, _queries, _text
from tests.factories import (
    CustomerFactory,
    ProductFactory,
    PurchaseFactory,
    RiskFlagFactory,
    SurveyResponseFactory,
)


@pytest.fixture
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def _names(response) -> list[str]:
    return [customer.name for customer in response.context["customers"]]


# --- The customer list -----------------------------------------------------------------


def test_rep_sees_only_their_customers_even_when_asking_for_another_rep(alice_client, alice, bob):
    CustomerFactory(owner=alice, name="Ana Alvarez")
    CustomerFactory(owner=bob, name="Boris Belov")

    assert _names(alice_client.get(reverse("customers:list"))) == ["Ana Alvarez"]
    response = alice_client.get(reverse("customers:list"), {"owner": bob.pk})
    assert _names(response) == ["Ana Alvarez"]  # the owner filter is not offered to reps: ignored
    assert 'name="owner"' not in response.content.decode()


def test_manager_filters_by_owner(mary_client, alice, bob):
    CustomerFactory(owner=alice, name="Ana Alvarez")
    CustomerFactory(owner=bob, name="Boris Belov")

    assert _names(mary_client.get(reverse("customers:list"))) == ["Ana Alvarez", "Boris Belov"]
    response = mary_client.get(reverse("customers:list"), {"owner": bob.pk})
    assert _names(response) == ["Boris Belov"]
    content = response.content.decode()
    assert f'<option value="{bob.pk}" selected>Bob Baker</option>' in content
    assert f'<option value="{alice.pk}">Alice Archer</option>' in content


def test_manager_owner_filter_ignores_a_bad_value(mary_client, alice):
    CustomerFactory(owner=alice, name="Ana Alvarez")

    response = mary_client.get(reverse("customers:list"), {"owner": "999999", "band": "purple", "sort": "password"})

    assert response.status_code == 200
    assert _names(response) == ["Ana Alvarez"]


def test_product_filter_lists_each_buyer_once(alice_client, alice):
    espresso, router = ProductFactory(name="Espresso"), ProductFactory(name="Router")
    twice = CustomerFactory(owner=alice, name="Bought twice")
    PurchaseFactory.create_batch(2, customer=twice, product=espresso)
    PurchaseFactory(customer=CustomerFactory(owner=alice, name="Bought once"), product=espresso)
    PurchaseFactory(customer=CustomerFactory(owner=alice, name="Other product"), product=router)
    CustomerFactory(owner=alice, name="Nothing bought")

    response = alice_client.get(reverse("customers:list"), {"product": espresso.pk})

    assert _names(response) == ["Bought once", "Bought twice"]
    assert "2 matching" in _text(response)


def test_band_and_quiet_filters(alice_client, alice, frozen_now):
    CustomerFactory(owner=alice, name="Red quiet", health_score=50, quiet_after=NOW - DAY)
    CustomerFactory(owner=alice, name="Red lively", health_score=10, quiet_after=NOW + DAY)
    CustomerFactory(owner=alice, name="Yellow quiet", health_score=51, quiet_after=NOW)
    CustomerFactory(owner=alice, name="Unscored", health_score=None)

    url = reverse("customers:list")
    assert _names(alice_client.get(url, {"band": "red"})) == ["Red lively", "Red quiet"]
    assert _names(alice_client.get(url, {"band": "yellow"})) == ["Yellow quiet"]
    assert _names(alice_client.get(url, {"quiet": "on"})) == ["Red quiet", "Yellow quiet"]
    assert _names(alice_client.get(url, {"quiet": "on", "band": "red"})) == ["Red quiet"]


def test_search_combines_with_filters_and_matches_case_insensitively(alice_client, alice):
    product = ProductFactory()
    nadia = CustomerFactory(owner=alice, name="Nadia Ortega", company="Acme Tools", email="n.ortega@acme.example")
    PurchaseFactory(customer=nadia, product=product)
    CustomerFactory(owner=alice, name="Olga Ortega", company="Zeta")

    url = reverse("customers:list")
    assert _names(alice_client.get(url, {"q": "ORTEGA"})) == ["Nadia Ortega", "Olga Ortega"]
    assert _names(alice_client.get(url, {"q": "acme.EXAMPLE"})) == ["Nadia Ortega"]
    assert _names(alice_client.get(url, {"q": "ortega", "product": product.pk})) == ["Nadia Ortega"]
    assert _names(alice_client.get(url, {"q": "100%"})) == []  # % is a literal, not a wildcard


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["Ana", "Ben", "Cid", "Dee"]),
        ("-name", ["Dee", "Cid", "Ben", "Ana"]),
        # Missing values first ascending, last descending.
        ("last_contact", ["Dee", "Ben", "Cid", "Ana"]),
        ("-last_contact", ["Ana", "Cid", "Ben", "Dee"]),
        ("health", ["Cid", "Ana", "Dee", "Ben"]),
        ("-health", ["Ben", "Dee", "Ana", "Cid"]),
        ("quiet_after", ["Ana", "Dee", "Ben", "Cid"]),
        ("-quiet_after", ["Cid", "Ben", "Dee", "Ana"]),
        ("something_else", ["Ana", "Ben", "Cid", "Dee"]),
    ],
)
def test_sorting(alice_client, alice, sort, expected):
    CustomerFactory(owner=alice, name="Ana", last_contact_at=NOW, health_score=20, quiet_after=None)
    CustomerFactory(owner=alice, name="Ben", last_contact_at=NOW - 9 * DAY, health_score=90, quiet_after=NOW)
    CustomerFactory(owner=alice, name="Cid", last_contact_at=NOW - DAY, health_score=None, quiet_after=NOW + DAY)
    CustomerFactory(owner=alice, name="Dee", last_contact_at=None, health_score=60, quiet_after=NOW - DAY)

    assert _names(alice_client.get(reverse("customers:list"), {"sort": sort})) == expected


def test_sort_headers_keep_the_filters_and_toggle_the_direction(alice_client, alice):
    product = ProductFactory()
    PurchaseFactory(customer=CustomerFactory(owner=alice), product=product)

    content = alice_client.get(reverse("customers:list"), {"q": "a", "product": product.pk, "sort": "health"}).content
    content = content.decode()

    assert f'href="?q=a&amp;product={product.pk}&amp;sort=-health"' in content  # current column: reverse it
    assert f'href="?q=a&amp;product={product.pk}&amp;sort=name"' in content
    assert 'aria-sort="ascending"' in content


def test_pagination_keeps_filters_and_sort_in_its_links(alice_client, alice):
    CustomerFactory.create_batch(30, owner=alice, company="Acme", health_score=10)

    response = alice_client.get(reverse("customers:list"), {"q": "acme", "band": "red", "sort": "-health"})

    assert len(response.context["customers"]) == 25
    content = response.content.decode()
    assert 'href="?q=acme&amp;band=red&amp;sort=-health&amp;page=2"' in content
    assert "Page 1 of 2" in _text(response) and "30 matching" in _text(response)
    second = alice_client.get(reverse("customers:list"), {"q": "acme", "band": "red", "sort": "-health", "page": 2})
    assert len(second.context["customers"]) == 5
    assert "Showing 26–30" in _text(second)
    ids = [c.pk for c in response.context["customers"]] + [c.pk for c in second.context["customers"]]
    assert len(set(ids)) == 30


def test_a_page_past_the_end_shows_the_last_page(alice_client, alice):
    CustomerFactory.create_batch(3, owner=alice)

    response = alice_client.get(reverse("customers:list"), {"page": 99})

    assert len(response.context["customers"]) == 3
    assert response.context["page_obj"].number == 1


def test_a_result_too_large_to_count_pages_without_a_total(alice_client, alice, monkeypatch):
    """Above the cap the list does not count every match: it says "more than" and still pages."""
    monkeypatch.setattr(views, "COUNT_CAP", 40)
    monkeypatch.setattr(views, "PAGE_SIZE", 20)
    CustomerFactory.create_batch(45, owner=alice)

    first = alice_client.get(reverse("customers:list"))
    third = alice_client.get(reverse("customers:list"), {"page": 3})

    assert "More than 40 in total" in _text(first)
    assert "Page 1 " in _text(first) and "Page 1 of" not in _text(first)
    assert first.context["page_obj"].has_next
    assert len(third.context["customers"]) == 5 and not third.context["page_obj"].has_next


def _add_list_rows(alice, bob, product, count: int) -> None:
    for n in range(count):
        customer = CustomerFactory(owner=alice if n % 2 else bob, company="Acme", health_score=30)
        PurchaseFactory.create_batch(2, customer=customer, product=product)
        RiskFlagFactory(customer=customer, reason="gone_quiet")
        RiskFlagFactory(customer=customer, reason="detractor")


@pytest.mark.parametrize(
    ("viewer", "params"),
    [
        ("alice", {}),
        ("alice", {"q": "acme", "band": "red", "sort": "-last_contact"}),
        ("mary", {}),
        ("mary", {"owner": "ALICE", "product": "PRODUCT", "quiet": "", "sort": "health"}),
    ],
)
def test_customer_list_query_count_does_not_grow_with_rows(client, alice, bob, mary, viewer, params):
    client.force_login({"alice": alice, "mary": mary}[viewer])
    product = ProductFactory()
    params = {key: {"ALICE": alice.pk, "PRODUCT": product.pk}.get(value, value) for key, value in params.items()}
    _add_list_rows(alice, bob, product, 4)
    small = _queries(client, reverse("customers:list"), params)
    _add_list_rows(alice, bob, product, 60)
    large = _queries(client, reverse("customers:list"), params)

    assert len(large) == len(small), "\n".join(large)


def test_list_shows_the_open_flags_of_each_customer(alice_client, alice, frozen_now):
    customer = CustomerFactory(owner=alice)
    RiskFlagFactory(customer=customer, reason="gone_quiet")
    RiskFlagFactory(customer=customer, reason="detractor", resolved_at=NOW)

    response = alice_client.get(reverse("customers:list"))

    assert [flag.reason for flag in response.context["customers"][0].open_flags] == ["gone_quiet"]
    assert "Gone quiet" in _text(response) and "Detractor" not in _text(response)


# --- PostgreSQL indexes of the list ------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram and sort indexes exist on PostgreSQL only")
def test_search_and_sort_indexes_match_the_queries_django_writes(alice, mary):
    """With sequential scans off, the planner can only use our indexes if their expressions match the SQL."""
    CustomerFactory.create_batch(5, owner=alice)

    def plan(queryset) -> str:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            return queryset.explain()

    search = customer_search(user=mary, filters=CustomerFilters(q="ortega")).order_by()
    assert "customer_name_trgm_idx" in plan(search)
    assert "customer_company_trgm_idx" in plan(search) and "customer_email_trgm_idx" in plan(search)
    for sort, index in [("-health", "customer_health_sort_idx"), ("last_contact", "customer_last_contact_sort_idx")]:
        assert index in plan(customer_search(user=mary, filters=CustomerFilters(sort=sort))[:25]), sort


# --- Drill-downs from a rep's scorecard: answered / invited since an instant -------------------


def test_answered_since_and_invited_since_list_the_customers_from_that_instant_on(mary_client, alice, frozen_now):
    recent, early, never = (CustomerFactory(owner=alice, name=name) for name in ("Recent", "Early", "Never"))
    SurveyResponseFactory(invitation__customer=recent, invitation__sent_at=NOW - 3 * DAY, submitted_at=NOW - 2 * DAY)
    SurveyResponseFactory(invitation__customer=early, invitation__sent_at=NOW - 40 * DAY, submitted_at=NOW - 39 * DAY)
    since = (NOW - 10 * DAY).isoformat()

    answered = mary_client.get(reverse("customers:list"), {"answered_since": since})
    invited = mary_client.get(reverse("customers:list"), {"invited_since": since})
    just_after = mary_client.get(reverse("customers:list"), {"answered_since": (NOW - 2 * DAY).isoformat()})

    assert _names(answered) == _names(invited) == _names(just_after) == ["Recent"]  # the instant itself counts
    assert "Customers who answered a survey since 2025-03-02 10:00." in _text(answered)
    assert "Customers who were invited to a survey since 2025-03-02 10:00." in _text(invited)
    assert never.name not in _names(mary_client.get(reverse("customers:list"), {"invited_since": since}))


@pytest.mark.parametrize(
    "query", ["answered_since=yesterday", "invited_since=9999-12-31T23:59:59Z", "answered_since=1999-12-31T00:00Z"]
)
def test_since_drill_downs_with_bad_values_are_dropped(mary_client, alice, query):
    CustomerFactory(owner=alice, name="Anyone")

    response = mary_client.get(reverse("customers:list") + "?" + query)

    assert response.status_code == 200
    assert _names(response) == ["Anyone"]
    assert response.context["drilldown"] == ""
