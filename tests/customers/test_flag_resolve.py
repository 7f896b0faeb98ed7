"""Resolving a risk flag: the service (scope, once only, audit, health, time open) and its pages.

A rep resolves a flag of their own customer, a manager any, with a short note, from the
customer page, My day and the at-risk list: in place with htmx, or as a plain form. The
API's resolve is in tests/test_api.py; the close-the-loop call in tests/test_close_loop_call.py.
"""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.db.models import Avg
from django.forms.models import model_to_dict
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from aftersales.audit.models import AuditAction, AuditEvent
from aftersales.core.roles import is_manager
from aftersales.health.services import health_refresh
from customers.models import Customer, FlagReason, HealthBand, RiskFlag
from customers.services import RESOLUTION_MAX_LENGTH, riskflag_resolve, riskflags_resolve_many
from tests.conftest import PASSWORD
from tests.factories import CustomerFactory, RiskFlagFactory, SurveyResponseFactory

NOW = dt.datetime(2026, 6, 10, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
HTMX = {"HTTP_HX_REQUEST": "true"}
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def customer(alice):
    return CustomerFactory(owner=alice, name="Ana Ruiz", health_due_at=None)


def _flag(customer, reason=FlagReason.DETRACTOR, *, days=3, **kwargs) -> RiskFlag:
    return RiskFlagFactory(
        customer=customer, reason=reason, detail="Survey: NPS 3", raised_at=NOW - days * DAY, **kwargs
    )


def _rows() -> dict:
    """The rows a resolve writes, to compare before and after a refused one."""
    return {
        "flags": [model_to_dict(flag) for flag in RiskFlag.objects.order_by("pk")],
        "customers": [model_to_dict(customer) for customer in Customer.objects.order_by("pk")],
        "audit": list(AuditEvent.objects.order_by("pk").values()),
    }


def _text(response) -> str:
    """The page's visible text, tags removed and whitespace squeezed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


# --- The service -------------------------------------------------------------------------------


def test_a_rep_resolves_a_flag_of_their_customer_with_a_note(alice, customer):
    flag = _flag(customer)

    resolved = riskflag_resolve(flag=flag, by=alice, resolution="  Called back; a new part is on its way.  ")

    flag.refresh_from_db()
    assert (flag.resolved_at, flag.resolved_by, flag.resolution) == (
        NOW,
        alice,
        "Called back; a new part is on its way.",
    )
    assert resolved == flag and resolved.open_for == 3 * DAY
    assert not flag.is_open
    assert list(Customer.objects.at_risk()) == []


def test_a_manager_resolves_any_reps_flag(mary, customer):
    flag = _flag(customer)

    riskflag_resolve(flag=flag, by=mary, resolution="Sorted out with the customer's director.")

    assert RiskFlag.objects.get(pk=flag.pk).resolved_by == mary


def test_a_rep_cannot_resolve_another_reps_flag_and_nothing_changes(bob, customer):
    flag = _flag(customer)
    before = _rows()

    with pytest.raises(PermissionDenied):
        riskflag_resolve(flag=flag, by=bob, resolution="Not mine to say")

    assert _rows() == before


def test_a_flag_is_resolved_once_the_second_time_says_by_whom(alice, mary, customer):
    flag = _flag(customer)
    riskflag_resolve(flag=flag, by=alice, resolution="Called back")
    before = _rows()

    with pytest.raises(ValidationError) as refused:
        riskflag_resolve(flag=flag, by=mary, resolution="Called back too")

    assert refused.value.messages == ["“Detractor” was already resolved by Alice Archer; nothing was changed."]
    assert _rows() == before


@pytest.mark.parametrize(
    ("note", "message"),
    [
        ("", "Say how it was settled, in a few words."),
        ("   \n ", "Say how it was settled, in a few words."),
        (
            "x" * (RESOLUTION_MAX_LENGTH + 1),
            f"A resolution can be at most {RESOLUTION_MAX_LENGTH} characters; this one has 501.",
        ),
    ],
)
def test_an_empty_or_too_long_note_is_refused_on_its_field(alice, customer, note, message):
    flag = _flag(customer)
    before = _rows()

    with pytest.raises(ValidationError) as refused:
        riskflag_resolve(flag=flag, by=alice, resolution=note)

    assert refused.value.message_dict == {"resolution": [message]}
    assert _rows() == before


def test_a_note_of_exactly_the_limit_is_kept_whole(alice, customer):
    flag = riskflag_resolve(flag=_flag(customer), by=alice, resolution="y" * RESOLUTION_MAX_LENGTH)

    assert len(RiskFlag.objects.get(pk=flag.pk).resolution) == RESOLUTION_MAX_LENGTH


def test_the_audit_trail_says_who_resolved_what_with_which_note_after_how_long(alice, customer):
    flag = _flag(customer, FlagReason.PROBLEM_REPORTED, days=2)

    riskflag_resolve(flag=flag, by=alice, resolution="Technician fixed the leak")

    event = AuditEvent.objects.get(action=AuditAction.RESOLVED)
    assert (event.actor, event.customer, event.object_type, event.object_id) == (
        alice,
        customer,
        "customers.riskflag",
        flag.pk,
    )
    assert event.changes == {
        "reason": [None, "problem_reported"],
        "resolution": [None, "Technician fixed the leak"],
        "open_for": [None, "2\xa0days"],
    }


def test_resolving_marks_the_health_due_and_the_recompute_lifts_the_flags_cap(alice, customer):
    """Answered 3 and reported a problem: red (80 − 25 − 15). Both flags resolved: the problem no longer counts."""
    SurveyResponseFactory(invitation__customer=customer, nps=3, csat=None, submitted_at=NOW - 3 * DAY)
    detractor = _flag(customer, FlagReason.DETRACTOR)
    problem = _flag(customer, FlagReason.PROBLEM_REPORTED)
    Customer.objects.filter(pk=customer.pk).mark_health_due()
    health_refresh(customer_ids=[customer.pk])
    customer.refresh_from_db()
    assert (customer.health_score, customer.health_band, customer.health_due_at) == (40, HealthBand.RED, None)

    with time_machine.travel(NOW + dt.timedelta(minutes=5), tick=False):
        riskflags_resolve_many(flags=[detractor, problem], by=alice, resolution="Called back, all sorted")
        customer.refresh_from_db()
        assert customer.health_due_at == NOW + dt.timedelta(minutes=5)
        health_refresh(customer_ids=[customer.pk])

    customer.refresh_from_db()
    assert (customer.health_score, customer.health_band) == (55, HealthBand.YELLOW)
    assert [move["reason"] for move in customer.health_explanation] == ["Latest NPS 3 (detractor)"]


def test_resolving_several_is_all_or_nothing(alice, customer):
    first = _flag(customer, FlagReason.DETRACTOR)
    second = _flag(customer, FlagReason.LOW_CSAT)
    riskflag_resolve(flag=second, by=alice, resolution="CSAT sorted earlier")
    before = _rows()

    with pytest.raises(ValidationError):
        riskflags_resolve_many(flags=[first, second], by=alice, resolution="Both sorted")

    assert _rows() == before
    assert RiskFlag.objects.get(pk=first.pk).is_open


def test_resolving_many_costs_the_same_queries_for_two_flags_or_six(alice, mary):
    def batch(n: int) -> list[RiskFlag]:
        customers = [CustomerFactory(owner=alice) for _ in range(n)]
        return [_flag(customer, reason) for customer in customers for reason in (FlagReason.DETRACTOR, "low_csat")]

    small, large = batch(1), batch(3)
    assert is_manager(mary)  # her groups are read once per request, not per batch
    with CaptureQueriesContext(connection) as two:
        riskflags_resolve_many(flags=small, by=mary, resolution="Sorted")
    with CaptureQueriesContext(connection) as six:
        riskflags_resolve_many(flags=large, by=mary, resolution="Sorted")

    assert len(six.captured_queries) == len(two.captured_queries) == 7, [q["sql"] for q in six.captured_queries]
    assert RiskFlag.objects.open().count() == 0


def test_how_long_flags_stay_open_is_one_aggregate_away_for_the_dashboard(alice, customer):
    """raised → resolved, in SQL: the dashboard averages it without reading the rows."""
    riskflag_resolve(flag=_flag(customer, FlagReason.DETRACTOR, days=1), by=alice, resolution="Sorted")
    riskflag_resolve(flag=_flag(customer, FlagReason.LOW_CSAT, days=3), by=alice, resolution="Sorted")
    _flag(customer, FlagReason.PROBLEM_REPORTED, days=10)  # still open: not counted

    resolved = RiskFlag.objects.resolved().with_time_open()

    assert sorted(flag.time_open for flag in resolved) == [1 * DAY, 3 * DAY]
    assert resolved.aggregate(mean=Avg("time_open"))["mean"] == 2 * DAY
    assert RiskFlag.objects.open().with_time_open().get().time_open is None


# --- The pages: customer page, My day, at-risk list ---------------------------------------------


def test_the_customer_page_offers_resolve_on_each_open_flag(alice_client, customer):
    flag = _flag(customer)

    page = alice_client.get(customer.get_absolute_url()).content.decode()

    url = reverse("risk:resolve", args=[flag.pk])
    assert f'href="{url}?next=/customers/{customer.pk}/"' in page
    assert f'hx-target="#resolve-flag-{flag.pk}"' in page
    assert f'<div id="resolve-flag-{flag.pk}"></div>' in page
    assert 'aria-label="Resolve Detractor for Ana Ruiz"' in page


def test_without_javascript_the_form_is_a_page_and_saving_goes_back_to_the_customer(alice_client, customer):
    SurveyResponseFactory(invitation__customer=customer, nps=3, csat=None, submitted_at=NOW - 3 * DAY)
    flag = _flag(customer, FlagReason.PROBLEM_REPORTED)
    url = reverse("risk:resolve", args=[flag.pk])
    back = customer.get_absolute_url()

    form = alice_client.get(url, {"next": back})
    saved = alice_client.post(url, {f"flag{flag.pk}-resolution": "Leak fixed on site", "next": back})

    assert form.status_code == 200
    assert "Resolve “Problem reported” for Ana Ruiz" in _text(form)
    assert 'hx-post="' not in form.content.decode()  # a plain form
    assert saved.status_code == 302 and saved["Location"] == back
    flag.refresh_from_db()
    assert flag.resolution == "Leak fixed on site" and flag.resolved_at == NOW
    customer.refresh_from_db()
    assert customer.health_due_at is None and customer.health_score == 55  # recomputed at once
    page = _text(alice_client.get(back))
    assert "“Problem reported” resolved for Ana Ruiz." in page
    assert "Open risk flags" not in page
    timeline = page[page.index("Timeline") :]
    assert "Flag resolved Problem reported · by Alice Archer" in timeline
    assert "Open for 3 days, since 7 Jun 2026 Leak fixed on site" in timeline


def test_with_htmx_the_form_opens_in_the_flags_slot_and_closes_again(alice_client, customer):
    flag = _flag(customer)
    url = reverse("risk:resolve", args=[flag.pk])

    opened = alice_client.get(url, {"next": customer.get_absolute_url()}, **HTMX)
    closed = alice_client.get(url, {"close": 1}, **HTMX)

    fragment = opened.content.decode()
    assert "<html" not in fragment
    assert f'hx-post="{url}" hx-target="#resolve-flag-{flag.pk}" hx-swap="innerHTML"' in fragment
    assert f'value="{customer.get_absolute_url()}"' in fragment  # next
    assert "How was it settled?" in fragment
    assert closed.status_code == 200 and closed.content == b""


def test_with_htmx_an_empty_note_is_answered_in_place_and_nothing_changes(alice_client, customer):
    flag = _flag(customer)

    response = alice_client.post(reverse("risk:resolve", args=[flag.pk]), {f"flag{flag.pk}-resolution": " "}, **HTMX)

    assert response.status_code == 200
    assert "<html" not in response.content.decode()
    assert "Say how it was settled, in a few words." in _text(response)
    assert "is-invalid" in response.content.decode()
    assert RiskFlag.objects.get(pk=flag.pk).is_open


def test_with_htmx_saving_reloads_the_page_with_the_health_recomputed(alice_client, customer):
    flag = _flag(customer)
    Customer.objects.filter(pk=customer.pk).update(health_score=40)

    response = alice_client.post(
        reverse("risk:resolve", args=[flag.pk]), {f"flag{flag.pk}-resolution": "Called back, happy again"}, **HTMX
    )

    assert response.status_code == 200 and response["HX-Refresh"] == "true"
    assert RiskFlag.objects.get(pk=flag.pk).resolution == "Called back, happy again"
    customer.refresh_from_db()
    assert (customer.health_score, customer.health_due_at) == (80, None)


def test_my_day_offers_resolve_and_the_customer_leaves_its_at_risk_list(alice_client, customer):
    flag = _flag(customer)
    my_day = reverse("my_day")

    page = alice_client.get(my_day).content.decode()
    assert f'href="{reverse("risk:resolve", args=[flag.pk])}?next=/my-day/"' in page
    assert f'<div id="resolve-flag-{flag.pk}"></div>' in page

    response = alice_client.post(
        reverse("risk:resolve", args=[flag.pk]), {f"flag{flag.pk}-resolution": "Sorted", "next": my_day}, **HTMX
    )

    assert response["HX-Refresh"] == "true"
    assert alice_client.get(my_day).context["at_risk"] == []


def test_the_at_risk_list_offers_resolve_on_each_chip_and_goes_back_to_its_filters(alice_client, customer):
    flag = _flag(customer)
    other = _flag(CustomerFactory(owner=customer.owner, name="Still Flagged"), FlagReason.DETRACTOR)
    listing = reverse("risk:list") + "?reason=detractor"

    page = alice_client.get(listing).content.decode()
    assert 'aria-label="Resolve Detractor for Ana Ruiz"' in page
    assert f'<div id="resolve-flag-{flag.pk}"></div>' in page

    response = alice_client.post(
        reverse("risk:resolve", args=[flag.pk]), {f"flag{flag.pk}-resolution": "Sorted", "next": listing}
    )

    assert response.status_code == 302 and response["Location"] == listing
    names = [customer.name for customer in alice_client.get(listing).context["customers"]]
    assert names == ["Still Flagged"]
    assert RiskFlag.objects.get(pk=other.pk).is_open


def test_an_offsite_next_goes_to_the_at_risk_list(alice_client, customer):
    flag = _flag(customer)

    response = alice_client.post(
        reverse("risk:resolve", args=[flag.pk]),
        {f"flag{flag.pk}-resolution": "Sorted", "next": "https://evil.example/"},
    )

    assert response["Location"] == reverse("risk:list")


def test_another_reps_flag_is_a_404_and_stays_open(alice_client, bob):
    flag = _flag(CustomerFactory(owner=bob))
    url = reverse("risk:resolve", args=[flag.pk])
    before = _rows()

    assert alice_client.get(url).status_code == 404
    assert alice_client.post(url, {f"flag{flag.pk}-resolution": "Mine now"}).status_code == 404
    assert alice_client.post(url, {f"flag{flag.pk}-resolution": "Mine now"}, **HTMX).status_code == 404
    assert _rows() == before


def test_a_post_without_the_csrf_token_is_refused(alice, customer):
    flag = _flag(customer)
    client = Client(enforce_csrf_checks=True)
    assert client.login(username="alice", password=PASSWORD)

    response = client.post(reverse("risk:resolve", args=[flag.pk]), {f"flag{flag.pk}-resolution": "Sorted"})

    assert response.status_code == 403
    assert RiskFlag.objects.get(pk=flag.pk).is_open


def test_a_second_tab_finds_the_flag_resolved_and_says_by_whom(alice_client, mary, customer):
    flag = _flag(customer)
    riskflag_resolve(flag=flag, by=mary, resolution="Mary called first")

    page = alice_client.get(reverse("risk:resolve", args=[flag.pk]))
    again = alice_client.post(reverse("risk:resolve", args=[flag.pk]), {f"flag{flag.pk}-resolution": "Me too"})

    assert "“Detractor” was resolved on 10 Jun 2026. Mary called first" in _text(page)
    assert again.status_code == 200
    assert "“Detractor” was already resolved by Mary Manning; nothing was changed." in _text(again)
    assert RiskFlag.objects.get(pk=flag.pk).resolution == "Mary called first"
