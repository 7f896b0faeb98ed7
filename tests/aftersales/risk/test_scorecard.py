"""A rep's scorecard: the dashboard's figures for one rep; a rep opens only their own."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from aftersales.risk.scorecards import rep_scorecard
from tests.factories import CustomerFactory, RiskFlagFactory, SurveyResponseFactory, TouchPointFactory
from touchpoints.models import Status

NOW = dt.datetime(2026, 6, 10, 9, 0, tzinfo=dt.UTC)
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

    RiskFlagFactory(customer=CustomerFactory(owner=bob))
    with CaptureQueriesContext(connection) as small:
        mary_client.get(reverse("rep_scorecard", args=[bob.pk]))
    for _ in range(10):
        customer = CustomerFactory(owner=bob)
        RiskFlagFactory(customer=customer)
        TouchPointFactory(customer=customer, due_at=NOW - dt.timedelta(days=1))
    with django_assert_num_queries(len(small.captured_queries)):
        mary_client.get(reverse("rep_scorecard", args=[bob.pk]))
