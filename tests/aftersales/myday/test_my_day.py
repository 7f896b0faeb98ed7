"""My day, a rep's home, and the due counts in the navigation."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from aftersales.core.models import UserProfile
from customers.models import Customer, RiskFlag
from tests.factories import CustomerFactory, RiskFlagFactory, SurveyResponseFactory, TouchPointFactory
from touchpoints.models import Status, TouchPoint

NOW = dt.datetime(2025, 3, 12, 10, 0, tzinfo=dt.UTC)  # a Wednesday morning


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def _queries(client, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return [q["sql"] for q in queries.captured_queries]


def _nav_badge(content: str) -> str:
    """The text of the My day badge in the navigation ('' when there is none)."""
    match = re.search(r'<span id="nav-due-count">(.*?)</span>\s*</a>', content, re.S)
    assert match, "the navigation has no My day count"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


# --- The page -------------------------------------------------------------------------


def test_my_day_sorts_the_reps_checkups_into_overdue_today_and_next_days(alice_client, alice):
    customer = CustomerFactory(owner=alice, name="Nadia Ortega")
    TouchPointFactory(customer=customer, objective="Three days late", due_at=NOW - dt.timedelta(days=3))
    TouchPointFactory(customer=customer, objective="This afternoon", due_at=NOW + dt.timedelta(hours=5))
    TouchPointFactory(customer=customer, objective="On Monday", due_at=NOW + dt.timedelta(days=5))
    TouchPointFactory(customer=customer, objective="Next month", due_at=NOW + dt.timedelta(days=30))
    TouchPointFactory(
        customer=customer,
        objective="Already done",
        due_at=NOW - dt.timedelta(days=1),
        status=Status.DONE,
        completed_at=NOW,
    )

    response = alice_client.get(reverse("my_day"))

    assert response.status_code == 200
    assert [tp.objective for tp in response.context["overdue"]] == ["Three days late"]
    assert [tp.objective for tp in response.context["due_today"]] == ["This afternoon"]
    assert [tp.objective for tp in response.context["upcoming"]] == ["On Monday"]
    content = response.content.decode()
    assert "3 days overdue" in content
    assert "Nadia Ortega" in content
    assert "Next month" not in content and "Already done" not in content


def test_my_day_shows_only_the_reps_own_touchpoints(alice_client, alice, bob):
    TouchPointFactory(customer=CustomerFactory(owner=alice), objective="Alice's call")
    TouchPointFactory(customer=CustomerFactory(owner=bob, name="Bob's Customer"), objective="Bob's call")

    content = alice_client.get(reverse("my_day")).content.decode()

    assert "Alice&#x27;s call" in content
    assert "Bob&#x27;s call" not in content
    assert "Bob&#x27;s Customer" not in content


def test_my_day_uses_the_reps_time_zone_for_today(client, alice):
    """At 23:30 UTC it is already tomorrow in Tokyo: a check-up at 01:00 UTC is 'today' there.

    The profile changes after sign-in: My day reads it afresh (the session copy is for the navigation)."""
    late_evening = dt.datetime(2025, 3, 12, 23, 30, tzinfo=dt.UTC)
    TouchPointFactory(customer=CustomerFactory(owner=alice), objective="Early call", due_at=late_evening)

    with time_machine.travel(late_evening - dt.timedelta(hours=1), tick=False):
        client.force_login(alice)
        UserProfile.objects.create(user=alice, timezone="Asia/Tokyo")
        response = client.get(reverse("my_day"))

    assert [tp.objective for tp in response.context["due_today"]] == ["Early call"]
    assert "Asia/Tokyo" in response.content.decode()


def test_my_day_lists_the_reps_customers_with_open_flags(alice_client, alice, bob):
    flagged = CustomerFactory(owner=alice, name="Quiet Quentin")
    RiskFlagFactory(customer=flagged, reason="gone_quiet")
    RiskFlagFactory(customer=CustomerFactory(owner=alice, name="Resolved Rita"), resolved_at=NOW)
    RiskFlagFactory(customer=CustomerFactory(owner=bob, name="Bob's Flagged"))

    response = alice_client.get(reverse("my_day"))

    assert [c.name for c in response.context["at_risk"]] == ["Quiet Quentin"]
    content = response.content.decode()
    assert "Gone quiet" in content
    assert "Resolved Rita" not in content and "Bob&#x27;s Flagged" not in content


def test_my_day_escapes_customer_text(alice_client, alice):
    TouchPointFactory(customer=CustomerFactory(owner=alice, name="<script>alert(1)</script>"), objective="<b>x</b>")

    content = alice_client.get(reverse("my_day")).content.decode()

    assert "<script>alert(1)</script>" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content
    assert "&lt;b&gt;x&lt;/b&gt;" in content


def test_each_row_has_log_reschedule_and_cancel_working_with_and_without_javascript(alice_client, alice):
    checkup = TouchPointFactory(customer=CustomerFactory(owner=alice), due_at=NOW + dt.timedelta(hours=2))

    content = alice_client.get(reverse("my_day")).content.decode()

    for name in ("touchpoint_log", "touchpoint_reschedule", "touchpoint_cancel"):
        url = reverse(name, args=[checkup.pk])
        assert f'href="{url}" hx-get="{url}" hx-target="#touchpoint-{checkup.pk}" hx-swap="outerHTML"' in content


def test_overdue_rows_say_how_many_days(alice_client, alice):
    customer = CustomerFactory(owner=alice)
    TouchPointFactory(customer=customer, due_at=NOW - dt.timedelta(days=1))
    TouchPointFactory(customer=customer, due_at=NOW - dt.timedelta(days=9))

    content = alice_client.get(reverse("my_day")).content.decode()

    assert "1 day overdue" in content and "9 days overdue" in content


def test_fresh_survey_answers_of_the_reps_customers_newest_first(alice_client, alice, bob):
    nadia = CustomerFactory(owner=alice, name="Nadia Ortega")
    pavel = CustomerFactory(owner=alice, name="Pavel Petrov")
    SurveyResponseFactory(
        invitation__customer=nadia, nps=3, csat=2, comment="Leaks <again>", submitted_at=NOW - dt.timedelta(days=2)
    )
    SurveyResponseFactory(invitation__customer=pavel, nps=10, csat=5, submitted_at=NOW - dt.timedelta(hours=1))
    SurveyResponseFactory(invitation__customer=nadia, nps=8, submitted_at=NOW - dt.timedelta(days=8))  # too old
    SurveyResponseFactory(invitation__customer=CustomerFactory(owner=bob, name="Boris Belov"), nps=0)

    response = alice_client.get(reverse("my_day"))

    assert [(a.customer.name, a.nps) for a in response.context["answers"]] == [
        ("Pavel Petrov", 10),
        ("Nadia Ortega", 3),
    ]
    content = response.content.decode()
    assert "NPS 3" in content and "CSAT 2/5" in content and "NPS 10" in content
    assert "Leaks &lt;again&gt;" in content
    assert "Boris Belov" not in content and "NPS 8" not in content


def test_at_risk_customers_have_a_log_a_contact_button(alice_client, alice):
    customer = CustomerFactory(owner=alice, name="Quiet Quentin")
    RiskFlagFactory(customer=customer)

    content = alice_client.get(reverse("my_day")).content.decode()

    url = reverse("touchpoint_log_contact", args=[customer.pk])
    assert f'href="{url}?next=/my-day/" hx-get="{url}?next=/my-day/"' in content


def _add_rows(rep, count: int) -> None:
    for n in range(count):
        customer = CustomerFactory(owner=rep)
        RiskFlagFactory(customer=customer)
        TouchPointFactory(customer=customer, due_at=NOW - dt.timedelta(days=2, minutes=n))
        TouchPointFactory(customer=customer, due_at=NOW + dt.timedelta(minutes=n))
        TouchPointFactory(customer=customer, due_at=NOW + dt.timedelta(days=2, minutes=n))
        SurveyResponseFactory(invitation__customer=customer, submitted_at=NOW - dt.timedelta(hours=n))


def test_my_day_query_count_does_not_grow_with_rows(alice_client, alice):
    """Every section filled, at 3 and at 30 rows each: the same queries (navigation count included)."""
    _add_rows(alice, 3)
    small = _queries(alice_client, reverse("my_day"))
    _add_rows(alice, 27)
    large = _queries(alice_client, reverse("my_day"))

    assert len(large) == len(small), "\n".join(large)
    assert len(small) <= 12, "\n".join(small)


def test_my_day_for_a_rep_with_2000_customers_is_bounded_and_quick(alice_client, alice):
    customers = Customer.objects.bulk_create(
        Customer(owner=alice, name=f"Customer {n:04d}", email=f"c{n}@example.com") for n in range(2000)
    )
    TouchPoint.objects.bulk_create(
        TouchPoint(customer=c, assignee=alice, due_at=NOW + dt.timedelta(days=offset, minutes=n), objective="Call")
        for n, c in enumerate(customers)
        for offset in (-3, 0, 3, 30)
    )
    RiskFlag.objects.bulk_create(RiskFlag(customer=c, reason="gone_quiet") for c in customers[::2])

    started = time.perf_counter()
    response = alice_client.get(reverse("my_day"))
    elapsed = time.perf_counter() - started

    assert response.status_code == 200
    for section in ("overdue", "due_today", "upcoming", "at_risk"):
        assert len(response.context[section]) == 50 and response.context[f"{section}_more"], section
    assert "Showing the first 50; there are more." in response.content.decode()
    assert elapsed < 3, f"My day took {elapsed:.2f}s for 2,000 customers"


# --- The navigation count ---------------------------------------------------------------------


def test_nav_count_is_overdue_plus_due_today_for_the_signed_in_rep(alice_client, alice, bob):
    mine = CustomerFactory(owner=alice)
    TouchPointFactory(customer=mine, due_at=NOW - dt.timedelta(days=3))  # overdue
    TouchPointFactory(customer=mine, due_at=NOW + dt.timedelta(hours=5))  # later today
    TouchPointFactory(customer=mine, due_at=NOW + dt.timedelta(days=1))  # tomorrow: not counted
    TouchPointFactory(customer=mine, due_at=NOW - dt.timedelta(days=1), status=Status.DONE, completed_at=NOW)
    TouchPointFactory(customer=mine, due_at=NOW, status=Status.CANCELLED)
    TouchPointFactory(customer=CustomerFactory(owner=bob), due_at=NOW - dt.timedelta(days=1))

    content = alice_client.get(reverse("customers:list")).content.decode()

    assert _nav_badge(content) == "2 check-ups due: 1 overdue, 1 today"


def test_nav_count_is_absent_when_nothing_is_due(alice_client, alice):
    TouchPointFactory(customer=CustomerFactory(owner=alice), due_at=NOW + dt.timedelta(days=2))

    assert _nav_badge(alice_client.get(reverse("customers:list")).content.decode()) == ""


def test_nav_count_costs_one_query_on_any_page(alice_client, alice):
    TouchPointFactory(customer=CustomerFactory(owner=alice), due_at=NOW)

    queries = _queries(alice_client, reverse("customers:list"))

    touching = [sql for sql in queries if "touchpoints_touchpoint" in sql]
    assert len(touching) == 1, "\n".join(touching)
    assert "COUNT" in touching[0]
    assert not [sql for sql in queries if "aftersales_userprofile" in sql], "the time zone comes from the session"


def test_nav_count_follows_the_reps_time_zone(client, alice):
    """At 10:00 UTC it is 23:00 in Auckland: a check-up at 12:00 UTC is tomorrow there, not today."""
    UserProfile.objects.create(user=alice, timezone="Pacific/Auckland")
    TouchPointFactory(customer=CustomerFactory(owner=alice), due_at=NOW + dt.timedelta(hours=2))
    client.force_login(alice)  # the session learns the time zone at sign-in

    assert _nav_badge(client.get(reverse("customers:list")).content.decode()) == ""


def test_managers_and_visitors_pay_nothing_for_the_count(client, mary, db):
    TouchPointFactory(assignee=mary, due_at=NOW)

    login_page = _queries(Client(), reverse("login"))
    assert not [sql for sql in login_page if "touchpoints_touchpoint" in sql]

    client.force_login(mary)
    manager_page = _queries(client, reverse("customers:list"))
    assert not [sql for sql in manager_page if "touchpoints_touchpoint" in sql]


def test_logging_from_my_day_refreshes_the_count_out_of_band(alice_client, alice):
    customer = CustomerFactory(owner=alice)
    first = TouchPointFactory(customer=customer, due_at=NOW - dt.timedelta(days=1))
    TouchPointFactory(customer=customer, due_at=NOW + dt.timedelta(hours=1))

    response = alice_client.post(
        reverse("touchpoint_log", args=[first.pk]), {f"tp{first.pk}-outcome": "reached"}, HTTP_HX_REQUEST="true"
    )

    content = response.content.decode()
    match = re.search(r'<span id="nav-due-count" hx-swap-oob="true">(.*?)</span>\s*$', content, re.S)
    assert match
    assert " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split()) == "1 check-up due: 0 overdue, 1 today"
