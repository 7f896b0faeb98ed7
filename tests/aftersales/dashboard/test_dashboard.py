"""The managers' dashboard: trend charts from SQL rollups, every number a link to the customers behind it."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from aftersales.celery import app as celery_app
from aftersales.dashboard import selectors
from aftersales.dashboard.models import DailyRollup
from aftersales.dashboard.rollups import MAX_AGE, dashboard_refresh
from tests.factories import (
    CustomerFactory,
    RiskFlagFactory,
    SurveyInvitationFactory,
    SurveyResponseFactory,
    TouchPointFactory,
)
from touchpoints.models import Status

NOW = dt.datetime(2026, 6, 15, 10, 5, tzinfo=dt.UTC)
MARCH = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
MAY = dt.datetime(2026, 5, 20, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def _answer(customer, *, nps, csat=None, at=MARCH, **extra):
    return SurveyResponseFactory(
        invitation__customer=customer,
        invitation__sent_at=at,
        invitation__responded_at=at,
        nps=nps,
        csat=csat,
        submitted_at=at,
        **extra,
    )


def _names(client, url: str) -> set[str]:
    """Names listed by the customer list at ``url`` (a link of the dashboard)."""
    response = client.get(url)
    assert response.status_code == 200
    return {customer.name for customer in response.context["customers"]}


def _href(content: str, label: str) -> str:
    """The href of the link whose aria-label is ``label``."""
    match = re.search(r'<a href="([^"]+)" aria-label="' + re.escape(label) + '"', content)
    assert match, f"no link labelled {label!r}"
    return match.group(1).replace("&amp;", "&")


def test_a_rep_gets_403(alice_client):
    assert alice_client.get(reverse("dashboard")).status_code == 403


def test_nps_by_month_splits_answers_and_links_each_bar_to_its_customers(mary_client, alice):
    promoter, passive, detractor, late = (
        CustomerFactory(owner=alice, name=name) for name in ("Pia Promoter", "Pat Passive", "Dan Detractor", "Lou Late")
    )
    _answer(promoter, nps=10)
    _answer(promoter, nps=9)
    _answer(passive, nps=7)
    _answer(detractor, nps=3)
    _answer(late, nps=0, at=MAY)

    response = mary_client.get(reverse("dashboard"))

    assert response.status_code == 200
    march = next(row for row in response.context["nps_rows"] if row["key"] == "2026-03")
    summary = march["summary"]
    assert (summary.promoters, summary.passives, summary.detractors, summary.score) == (2, 1, 1, 25)
    assert [row["key"] for row in response.context["nps_rows"]] == [f"2025-{m:02d}" for m in range(7, 13)] + [
        f"2026-{m:02d}" for m in range(1, 7)
    ]
    content = response.content.decode()
    assert ">+25<" in content, "the month's NPS is written above its bar"
    url = _href(content, "March 2026: 1 detractors")
    assert url == reverse("customers:list") + "?answered=2026-03&nps=detractor"
    assert _names(mary_client, url) == {"Dan Detractor"}
    assert _names(mary_client, _href(content, "March 2026: 2 promoters")) == {"Pia Promoter"}
    assert _names(mary_client, _href(content, "March 2026: NPS +25 from 4 answers")) == {
        "Pia Promoter",
        "Pat Passive",
        "Dan Detractor",
    }


def test_csat_average_and_response_rate_by_month(mary_client, alice):
    customer = CustomerFactory(owner=alice, name="Carla Csat")
    _answer(customer, nps=None, csat=4)
    _answer(customer, nps=None, csat=2)
    for _ in range(2):  # sent in March, never answered: 2 of 4 answered = 50 %
        SurveyInvitationFactory(customer=CustomerFactory(owner=alice, name="Silent"), sent_at=MARCH)

    content = mary_client.get(reverse("dashboard")).content.decode()

    assert "March 2026: CSAT average 3.0 from 2 answers" in content
    assert ">3.0<" in content
    rate_link = _href(content, "March 2026: 50 % — 2 of 4 invitations answered")
    assert _names(mary_client, rate_link) == {"Carla Csat", "Silent"}
    assert "June 2026: no invitations sent" in content


def test_median_time_to_call_a_detractor_back(mary_client, alice):
    customer = CustomerFactory(owner=alice)
    for hours in (2, 4, 30):  # odd count: the middle one
        _answer(customer, nps=2, loop_opened_at=MARCH, loop_closed_at=MARCH + dt.timedelta(hours=hours))
    for hours in (2, 6):  # even count: the mean of the two middle ones
        _answer(customer, nps=1, at=MAY, loop_opened_at=MAY, loop_closed_at=MAY + dt.timedelta(hours=hours))
    _answer(customer, nps=0, at=MAY, loop_opened_at=MAY)  # still open
    _answer(customer, nps=9, loop_opened_at=MARCH, loop_closed_at=MARCH + dt.timedelta(hours=500))  # not a detractor

    loops = selectors.detractor_loops_by_month(selectors.month_starts(NOW)[0])

    assert loops == {"2026-03": {"closed": 3, "median_hours": 4.0}, "2026-05": {"closed": 2, "median_hours": 4.0}}
    content = mary_client.get(reverse("dashboard")).content.decode()
    assert "May 2026: median 4.0 h over 2 closed loops, 1 still open" in content


def test_checkups_per_rep_rate_and_overdue_link_to_scorecard_and_customers(mary_client, alice, bob):
    late = CustomerFactory(owner=alice, name="Ana Late")
    fine = CustomerFactory(owner=alice, name="Ana Fine")
    for days in (10, 20, 30):
        TouchPointFactory(customer=fine, due_at=NOW - dt.timedelta(days=days), status=Status.DONE, completed_at=NOW)
    TouchPointFactory(customer=late, due_at=NOW - dt.timedelta(days=3))  # overdue
    TouchPointFactory(customer=fine, due_at=NOW - dt.timedelta(days=5), status=Status.CANCELLED)  # not counted
    TouchPointFactory(customer=fine, due_at=NOW + dt.timedelta(days=5))  # not due yet
    TouchPointFactory(customer=CustomerFactory(owner=bob, name="Bo Old"), due_at=NOW - dt.timedelta(days=200))

    response = mary_client.get(reverse("dashboard"))

    rows = {row.name: row for row in response.context["rep_chart"].rows}
    assert (rows["Alice Archer"].rate, rows["Alice Archer"].overdue) == (75, 1)
    assert (rows["Bob Baker"].rate, rows["Bob Baker"].overdue) == (None, 1)
    content = response.content.decode()
    assert _href(content, "Alice Archer: 3 of 4 check-ups due done (75 %)") == f"/reps/{alice.pk}/scorecard/"
    assert _names(mary_client, _href(content, "Alice Archer: 1 overdue check-ups")) == {"Ana Late"}
    assert _names(mary_client, response.context["overdue_url"]) == {"Ana Late", "Bo Old"}, "the overdue card"


def test_at_risk_trend_is_backfilled_from_flag_history_and_links_to_the_customers(mary_client, alice):
    CustomerFactory(owner=alice, name="Never Flagged")
    RiskFlagFactory(customer__owner=alice, customer__name="Still Open", raised_at=NOW - dt.timedelta(days=10))
    RiskFlagFactory(
        customer__owner=alice,
        customer__name="Came Back",
        raised_at=NOW - dt.timedelta(days=5),
        resolved_at=NOW - dt.timedelta(days=2),
    )

    response = mary_client.get(reverse("dashboard"))

    counts = {rollup.day: rollup.at_risk for rollup in DailyRollup.objects.all()}
    today = NOW.date()
    assert counts[today] == 1
    assert counts[today - dt.timedelta(days=3)] == 2
    assert counts[today - dt.timedelta(days=7)] == 1
    assert counts[today - dt.timedelta(days=12)] == 0
    assert len(counts) == 30
    content = response.content.decode()
    three_days_ago = today - dt.timedelta(days=3)
    label = f"{three_days_ago.day} Jun: 2 customers at risk (reconstructed from flag history)"
    assert _names(mary_client, _href(content, label)) == {"Still Open", "Came Back"}
    assert _href(content, "15 Jun: 1 customers at risk") == "/risk/"


def test_the_page_shows_the_rollup_as_of_its_time_and_recomputes_when_stale(mary_client, alice):
    with time_machine.travel(NOW - dt.timedelta(minutes=5), tick=False):
        dashboard_refresh()
    RiskFlagFactory(customer__owner=alice)  # after the rollup: not shown until the next refresh

    response = mary_client.get(reverse("dashboard"))
    assert response.context["at_risk_count"] == 0
    assert "as of <time" in response.content.decode() and ">10:00</time>" in response.content.decode()

    with time_machine.travel(NOW + MAX_AGE, tick=False):
        response = mary_client.get(reverse("dashboard"))
    assert response.context["at_risk_count"] == 1


def test_refresh_runs_from_beat_and_as_a_command(db, capsys):
    schedule = {entry["task"] for entry in celery_app.conf.beat_schedule.values()}
    assert "aftersales.dashboard.tasks.dashboard_refresh_task" in schedule

    call_command("dashboard_refresh")

    assert "Dashboard refreshed: 0 customer(s) at risk on 2026-06-15." in capsys.readouterr().out
    assert DailyRollup.objects.get(day=NOW.date()).data["months"][-1] == "2026-06"


def _world(size: int, alice, bob) -> None:
    for index in range(size):
        customer = CustomerFactory(owner=alice if index % 2 else bob)
        _answer(customer, nps=index % 11, csat=1 + index % 5, at=MARCH + dt.timedelta(days=index % 60))
        TouchPointFactory(customer=customer, due_at=NOW - dt.timedelta(days=index % 40))
        if index % 3 == 0:
            RiskFlagFactory(customer=customer, raised_at=NOW - dt.timedelta(days=index % 20))
        _answer(customer, nps=2, loop_opened_at=MAY, loop_closed_at=MAY + dt.timedelta(hours=index + 1), at=MAY)


def _count_queries(function) -> int:
    with CaptureQueriesContext(connection) as queries:
        function()
    return sum(not query["sql"].startswith(("SAVEPOINT", "RELEASE")) for query in queries.captured_queries)


def test_query_counts_do_not_grow_with_the_data(mary_client, alice, bob):
    """Computing the rollup and showing the page each cost the same number of queries at 3 and 30 customers."""
    counts = []
    for size in (3, 27):
        _world(size, alice, bob)
        DailyRollup.objects.all().delete()
        refresh = _count_queries(dashboard_refresh)
        page = _count_queries(lambda: mary_client.get(reverse("dashboard")))
        counts.append((refresh, page))
    assert counts[0] == counts[1]
    refresh, page = counts[0]
    assert refresh == 13, (
        "headline 3 (the overdue customers join the customer counts), charts 5, the rollup upsert 2 and the backfill 3"
    )
    assert page <= 6, "session, user, groups, today's rollup and the trend"


def test_charts_are_accessible_and_scale_to_the_screen(mary_client):
    content = mary_client.get(reverse("dashboard")).content.decode()

    for chart in ("nps-chart", "csat-chart", "rate-chart", "loop-chart", "risk-chart", "rep-chart"):
        assert f'<title id="{chart}-title">' in content
        assert f'<desc id="{chart}-desc">' in content
        assert f'aria-labelledby="{chart}-title {chart}-desc"' in content
    assert content.count('width="100%"') == 6 and 'viewBox="0 0 480 250"' in content
    assert "cdn" not in content.lower()


def test_drill_down_filters_of_the_customer_list_ignore_bad_values(mary_client, alice):
    CustomerFactory(owner=alice, name="Anyone")

    response = mary_client.get(reverse("customers:list") + "?answered=2026-13&nps=angry&flagged_on=yesterday")

    assert response.status_code == 200
    assert {customer.name for customer in response.context["customers"]} == {"Anyone"}
    assert response.context["drilldown"] == ""


@pytest.mark.parametrize(
    "query",
    ["answered=9999-12", "invited=9999-12", "flagged_on=9999-12-31", "answered=1999-12", "invited=0000-01"],
)
def test_drill_downs_outside_the_date_window_are_dropped_not_a_500(mary_client, alice, query):
    """The month after December 9999, and the day after 31 December 9999, overflowed: a 500 for anyone."""
    CustomerFactory(owner=alice, name="Anyone")

    response = mary_client.get(reverse("customers:list") + "?" + query)

    assert response.status_code == 200
    assert {customer.name for customer in response.context["customers"]} == {"Anyone"}
    assert response.context["drilldown"] == ""
