"""One definition per metric: every screen shows the same figure for the same rep and period,
and every card's number is the row count of the page it opens."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from aftersales.dashboard.rollups import dashboard_refresh
from aftersales.risk.scorecards import rep_scorecard
from customers.models import FlagReason
from feedback.selectors import response_rates_by
from tests.factories import (
    CustomerFactory,
    RiskFlagFactory,
    SurveyInvitationFactory,
    SurveyResponseFactory,
    TouchPointFactory,
)
from touchpoints.models import Status

# A Wednesday, 15:00 UTC: a check-up due at 10:00 today is overdue, one at 17:00 is due later today.
NOW = dt.datetime(2026, 6, 10, 15, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def book(alice, bob):
    """Alice's book: overdue check-ups (two on one customer, one from this morning), one due later today,
    done, missed and cancelled ones in the window, a visible and a snoozed flag, answers and invitations."""
    ana, ben, cleo, dora, emil = (CustomerFactory(owner=alice) for _ in range(5))
    TouchPointFactory(customer=ana, due_at=NOW - 3 * DAY)
    TouchPointFactory(customer=ana, due_at=NOW - dt.timedelta(hours=5))  # this morning, 10:00
    TouchPointFactory(customer=ben, due_at=NOW - DAY)
    TouchPointFactory(customer=cleo, due_at=NOW + dt.timedelta(hours=2))  # later today
    TouchPointFactory(customer=cleo, due_at=NOW + 3 * DAY)  # upcoming
    for days, status in ((10, Status.DONE), (20, Status.DONE), (30, Status.MISSED), (12, Status.CANCELLED)):
        TouchPointFactory(
            customer=dora, due_at=NOW - days * DAY, status=status,
            completed_at=NOW - days * DAY if status == Status.DONE else None,
        )  # fmt: skip
    RiskFlagFactory(customer=dora, reason=FlagReason.DETRACTOR)
    RiskFlagFactory(customer=emil, reason=FlagReason.GONE_QUIET, snoozed_until=NOW + 5 * DAY)
    answered = SurveyInvitationFactory(customer=dora, sent_at=NOW - 5 * DAY, responded_at=NOW - 4 * DAY)
    SurveyResponseFactory(invitation=answered, nps=3, csat=2, submitted_at=NOW - 4 * DAY)
    SurveyInvitationFactory(customer=ana, sent_at=NOW - 6 * DAY)
    # Bob's book must not leak into Alice's figures.
    other = CustomerFactory(owner=bob)
    TouchPointFactory(customer=other, due_at=NOW - 2 * DAY)
    RiskFlagFactory(customer=other, reason=FlagReason.DETRACTOR)
    dashboard_refresh(now=NOW)
    return {"overdue": 3, "due_today": 1, "at_risk": 1, "completion": 33}  # 2 done of 6 due (3 overdue, 1 missed)


def _rep_row(page, name: str):
    [row] = [row for row in page.context["rep_chart"].rows if row.name == name]
    return row


def test_a_reps_overdue_due_today_completion_and_at_risk_are_the_same_on_every_screen(client, alice, mary, book):
    client.force_login(alice)
    my_day = client.get(reverse("my_day"))
    badge = my_day.context["nav_counts"]
    scorecard = rep_scorecard(alice, now=NOW)
    client.force_login(mary)
    dashboard = client.get(reverse("dashboard"))
    row = _rep_row(dashboard, "Alice Archer")
    risk_for_alice = client.get(reverse("risk:list"), {"rep": alice.pk})

    assert len(my_day.context["overdue"]) == badge.overdue == row.overdue == scorecard.overdue == book["overdue"]
    assert len(my_day.context["due_today"]) == badge.today == book["due_today"]
    assert row.rate == scorecard.completion_rate == book["completion"]
    assert (len(my_day.context["at_risk"]) == scorecard.at_risk == risk_for_alice.context["page_obj"].count) == book[
        "at_risk"
    ]


def test_the_response_rate_is_the_same_on_the_scorecard_and_the_response_rates_page(alice, book):
    scorecard = rep_scorecard(alice, now=NOW)
    [row] = [r for r in response_rates_by("rep", since=NOW - 90 * DAY, now=NOW) if r.label == "Alice Archer"]

    assert scorecard.response_rate == round(100 * row.answered / row.sent) == 50


def test_every_card_opens_a_page_with_as_many_rows_as_it_says(mary_client, book):
    dashboard = mary_client.get(reverse("dashboard")).context

    def rows(url: str) -> int:
        return mary_client.get(url).context["page_obj"].count

    assert dashboard["customer_count"] == rows(reverse("customers:list")) == 6
    assert dashboard["at_risk_count"] == rows(dashboard["risk_url"]) == 2  # the snoozed flag waits
    assert dashboard["overdue_count"] == rows(dashboard["overdue_url"]) == 3  # customers, not check-ups
    for label, count, href in dashboard["flag_rows"]:
        assert count == rows(href), label
    for chart_row in dashboard["rep_chart"].rows:
        assert chart_row.overdue >= rows(chart_row.overdue_href) > 0, "each overdue customer of the rep is listed"
