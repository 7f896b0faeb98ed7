"""Real-browser journey of a manager: the at-risk list by rep, a chart drilled into, the CSV downloaded."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.utils import dateformat, timezone

from tests.conftest import PASSWORD
from tests.factories import CustomerFactory, RiskFlagFactory, SurveyResponseFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _last_month_noon() -> dt.datetime:
    first = timezone.localtime().replace(day=1, hour=12, minute=0, second=0, microsecond=0)
    return (first - dt.timedelta(days=20)).replace(day=10)


def test_manager_filters_at_risk_by_rep_drills_into_detractors_and_downloads_the_csv(
    page, live_server, mary, alice, bob
):
    """Dashboard → at-risk list filtered to Bob → CSV of Bob's; dashboard → last month's detractors."""
    RiskFlagFactory(customer__owner=alice, customer__name="Alma Quiet", reason="gone_quiet")
    RiskFlagFactory(customer__owner=bob, customer__name="Boris Quiet", reason="gone_quiet")
    answered = _last_month_noon()
    for name, score in (("Dora Detractor", 2), ("Pedro Promoter", 10)):
        SurveyResponseFactory(
            invitation__customer=CustomerFactory(owner=alice, name=name),
            invitation__sent_at=answered,
            invitation__responded_at=answered,
            submitted_at=answered,
            nps=score,
        )

    page.goto(f"{live_server.url}/")
    page.get_by_label("Username").fill("mary")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/dashboard/")

    # The at-risk card opens the list; the manager narrows it to Bob's customers.
    page.get_by_role("link", name="2", exact=True).click()
    page.wait_for_url(f"{live_server.url}/risk/")
    page.get_by_label("Rep").select_option(label="Bob Baker")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(f"**/risk/?*rep={bob.pk}*")
    table = page.locator("#risk-table")
    assert table.get_by_text("Boris Quiet").is_visible()
    assert table.get_by_text("Alma Quiet").count() == 0

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    csv_text = Path(download_info.value.path()).read_text(encoding="utf-8-sig")
    assert "Boris Quiet" in csv_text and "Alma Quiet" not in csv_text

    # Back on the dashboard, last month's red (detractor) bar lists that month's detractors only.
    page.goto(f"{live_server.url}/dashboard/")
    month = dateformat.format(answered, "F Y")
    page.get_by_role("link", name=f"{month}: 1 detractors").click()
    page.wait_for_url(f"**/customers/?answered={answered:%Y-%m}&nps=detractor")
    assert page.get_by_role("link", name="Dora Detractor").is_visible()
    assert page.get_by_text("Pedro Promoter").count() == 0
    assert page.locator("#drilldown").get_by_text(f"answered a survey in {answered:%Y-%m} as a detractor").is_visible()
