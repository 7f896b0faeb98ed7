"""A rep's scorecard: the dashboard's figures for one rep over a chosen period; a rep opens only their own,
a manager picks anyone; every number opens the rows behind it."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
import time_machine
from django.urls import reverse

from aftersales.risk.scorecards import rep_scorecard
from customers.models import FlagReason
from tests.factories import (
    CustomerFactory,
    ManagerFactory,
    RepFactory,
    RiskFlagFactory,
    SurveyInvitationFactory,
    SurveyResponseFactory,
    TouchPointFactory,
)
from touchpoints.models import Status

NOW = dt.datetime(2026, 6, 10, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_the_figures_count_only_the_reps_own_book(alice, bob):
    mine = CustomerFactory(owner=alice, health_score=30)
    CustomerFactory(owner=alice, health_score=80)
    RiskFlagFactory(customer=mine)
    RiskFlagFactory(customer=CustomerFactory(owner=bob))
    TouchPointFactory(customer=mine, due_at=NOW - dt.timedelta(days=2))  # overdue
    TouchPointFactory(customer=mine, due_at=NOW - dt.timedelta(days=9), status=Status.DONE, completed_at=NOW)
    TouchPointFactory(customer=mine, due_at=NOW - dt.timedelta(days=8), status=Status.DONE, completed_at=NOW)
    TouchPointFactory(customer=mine, due_at=NOW - dt.timedelta(days=7), status=Status.MISSED)
    SurveyResponseFactory(invitation__customer=mine, nps=10, csat=5)
    SurveyResponseFactory(invitation__customer=mine, nps=3, csat=2, loop_opened_at=NOW - dt.timedelta(hours=10),
                          loop_closed_at=NOW - dt.timedelta(hours=4))  # fmt: skip
    SurveyResponseFactory(invitation__customer=CustomerFactory(owner=bob), nps=0)

    card = rep_scorecard(alice)

    assert (card.customers, card.at_risk, card.overdue) == (2, 1, 1)
    assert card.bands == {"red": 1, "yellow": 0, "green": 1}
    assert card.completion_rate == 50  # 2 done of 4 due: the overdue one counts against it, as on the dashboard
    assert card.nps == 0  # one promoter, one detractor
    assert card.csat_average == 3.5
    assert card.loop_median_hours == 6.0


def test_a_rep_opens_their_own_scorecard_but_not_another_reps(alice_client, alice, bob):
    assert alice_client.get(reverse("rep_scorecard", args=[alice.pk])).status_code == 200
    assert alice_client.get(reverse("rep_scorecard", args=[bob.pk])).status_code == 404


def test_a_manager_opens_any_scorecard_and_the_numbers_link_to_the_customers(mary_client, bob):
    RiskFlagFactory(customer=CustomerFactory(owner=bob))

    response = mary_client.get(reverse("rep_scorecard", args=[bob.pk]))

    assert response.status_code == 200
    assert f'href="{reverse("risk:list")}?rep={bob.pk}" id="at-risk-count">1<' in response.content.decode()


def test_the_scorecard_costs_the_same_queries_whatever_the_book(mary_client, bob, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first = CustomerFactory(owner=bob)
    RiskFlagFactory(customer=first)
    SurveyResponseFactory(invitation__customer=first, nps=2, loop_opened_at=NOW - DAY, loop_closed_at=NOW)
    with CaptureQueriesContext(connection) as small:
        mary_client.get(reverse("rep_scorecard", args=[bob.pk]))
    for _ in range(10):
        customer = CustomerFactory(owner=bob)
        RiskFlagFactory(customer=customer)
        TouchPointFactory(customer=customer, due_at=NOW - dt.timedelta(days=1))
        SurveyResponseFactory(invitation__customer=customer, nps=2, loop_opened_at=NOW - DAY, loop_closed_at=NOW)
        SurveyInvitationFactory(customer=customer, sent_at=NOW - DAY)
    with django_assert_num_queries(len(small.captured_queries)):
        mary_client.get(reverse("rep_scorecard", args=[bob.pk]))
    with django_assert_num_queries(len(small.captured_queries)):
        mary_client.get(reverse("rep_scorecard", args=[bob.pk]), {"period": "quarter"})


def test_the_period_sets_the_window_of_check_ups_and_answers(alice):
    """30, 90 and 365 days back from now; the quarter from 1 April (NOW is 10 June)."""
    customer = CustomerFactory(owner=alice)
    for days in (20, 50, 80, 200):
        TouchPointFactory(customer=customer, due_at=NOW - days * DAY, status=Status.DONE, completed_at=NOW)
        SurveyResponseFactory(invitation__customer=customer, nps=10, submitted_at=NOW - days * DAY)

    due = {period: rep_scorecard(alice, period=period).due for period in ("30", "quarter", "90", "365")}
    answers = {period: rep_scorecard(alice, period=period).nps_responses for period in ("30", "quarter", "90", "365")}

    assert due == answers == {"30": 1, "quarter": 2, "90": 3, "365": 4}
    assert rep_scorecard(alice, period="quarter").since == dt.datetime(2026, 4, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize("period", ["7", "quarterly", "", "<b>90</b>", "1e3"])
def test_an_unknown_period_shows_the_default_one(alice_client, alice, period):
    response = alice_client.get(reverse("rep_scorecard", args=[alice.pk]), {"period": period})

    assert response.status_code == 200
    assert response.context["card"].period == "90"
    assert "Scorecard: Alice Archer, the last 90 days" in response.content.decode()


def test_the_period_is_named_in_the_title_and_kept_in_the_form(alice_client, alice):
    response = alice_client.get(reverse("rep_scorecard", args=[alice.pk]), {"period": "quarter"})
    page = response.content.decode()

    assert "<title>Scorecard · Alice Archer · this quarter · Aftersales</title>" in page
    assert '<option value="quarter" selected>this quarter</option>' in page


def test_a_manager_picks_any_active_rep_or_manager(mary_client, mary, alice, bob):
    gone = RepFactory(username="gone", first_name="Gail", last_name="Gone", is_active=False)
    other_manager = ManagerFactory(username="max", first_name="Max", last_name="Moss")

    page = mary_client.get(reverse("rep_scorecard", args=[alice.pk]))
    picker = page.context["form"].fields["rep"]
    moved = mary_client.get(reverse("rep_scorecard", args=[alice.pk]), {"rep": bob.pk, "period": "365"})

    assert [pk for pk, _ in picker.choices] == [alice.pk, bob.pk, mary.pk, other_manager.pk]  # by name
    assert gone.pk not in dict(picker.choices)
    assert f'<option value="{alice.pk}" selected>Alice Archer</option>' in page.content.decode()
    assert moved.status_code == 302
    assert moved["Location"] == reverse("rep_scorecard", args=[bob.pk]) + "?period=365"


def test_a_rep_has_no_picker_and_cannot_use_one(alice_client, alice, bob):
    response = alice_client.get(reverse("rep_scorecard", args=[alice.pk]), {"rep": bob.pk})

    assert response.status_code == 200
    assert response.context["card"].rep == alice
    assert 'name="rep"' not in response.content.decode()


LINK = re.compile(r'<a [^>]*href="([^"]+)"[^>]*>(?:<span[^>]*>)?(\d+)')


@pytest.mark.parametrize("as_manager", [True, False], ids=["manager", "rep"])
def test_every_number_opens_a_list_with_as_many_rows(client, mary, alice, bob, as_manager):
    """Customers, at risk, each health band, the customers with overdue check-ups, who answered and who was invited
    in the period: each link's rows = its number."""
    red, yellow, green, _unscored = (CustomerFactory(owner=alice, health_score=s) for s in (20, 60, 90, None))
    RiskFlagFactory(customer=red, reason=FlagReason.DETRACTOR)
    RiskFlagFactory(customer=red, reason=FlagReason.GONE_QUIET)  # two flags, one customer
    RiskFlagFactory(customer=yellow, reason=FlagReason.GONE_QUIET, snoozed_until=NOW + 3 * DAY)  # waits: not at risk
    RiskFlagFactory(customer=green)
    TouchPointFactory(customer=red, due_at=NOW - 3 * DAY)
    TouchPointFactory(customer=red, due_at=NOW - DAY)  # two overdue check-ups, one customer
    TouchPointFactory(customer=green, due_at=NOW - 2 * DAY)
    TouchPointFactory(customer=yellow, due_at=NOW + DAY)  # not due yet
    for customer, days in ((red, 5), (red, 40), (green, 60), (yellow, 100)):  # yellow's answer is before the period
        SurveyResponseFactory(
            invitation__customer=customer,
            invitation__sent_at=NOW - (days + 1) * DAY,
            submitted_at=NOW - days * DAY,
            nps=9,
        )
    SurveyInvitationFactory(customer=red, sent_at=NOW - 2 * DAY)  # not answered yet
    other = CustomerFactory(owner=bob, health_score=20)  # Bob's book stays out of every count
    RiskFlagFactory(customer=other)
    TouchPointFactory(customer=other, due_at=NOW - DAY)
    SurveyResponseFactory(invitation__customer=other, invitation__sent_at=NOW - 3 * DAY, submitted_at=NOW - DAY)
    client.force_login(mary if as_manager else alice)

    response = client.get(reverse("rep_scorecard", args=[alice.pk]))
    card = response.context["card"]
    links = LINK.findall(response.content.decode())

    assert (card.customers, card.at_risk, card.overdue, card.overdue_customers) == (4, 2, 3, 2)
    assert (card.nps_responses, card.answered_customers) == (3, 2)  # two of the answers are red's
    assert (card.invitations_sent, card.invited_customers) == (4, 2)
    assert sorted(int(number) for _, number in links) == sorted([4, 2, 2, 2, 2, 1, 1, 1])
    for href, number in links:
        listed = client.get(html.unescape(href)).context["page_obj"].count
        assert listed == int(number), href


def test_a_zero_is_not_a_link(alice_client, alice):
    response = alice_client.get(reverse("rep_scorecard", args=[alice.pk]))

    assert LINK.findall(response.content.decode()) == []
    page = response.content.decode()
    assert "No customer with overdue check-ups" in page
    assert "No customer answered" in page
    assert "No customer invited" in page


def test_the_scorecard_speaks_the_staff_members_language(alice_client, alice):
    customer = CustomerFactory(owner=alice)
    TouchPointFactory(customer=customer, due_at=NOW - DAY)
    TouchPointFactory(customer=customer, due_at=NOW - 2 * DAY)

    spanish = alice_client.get(reverse("rep_scorecard", args=[alice.pk]), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    russian = alice_client.get(
        reverse("rep_scorecard", args=[alice.pk]), {"period": "quarter"}, HTTP_ACCEPT_LANGUAGE="ru"
    ).content.decode()

    assert "Resultados: Alice Archer, los últimos 90 días" in spanish
    assert "1 cliente con seguimientos vencidos" in spanish
    assert "Показатели: Alice Archer, этот квартал" in russian
    assert "1 клиент с просроченными звонками" in russian
