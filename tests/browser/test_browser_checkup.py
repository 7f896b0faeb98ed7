"""Real-browser journey: a rep logs a check-up from My day and finds it on the customer's timeline."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.conftest import PASSWORD
from tests.factories import CustomerFactory, TouchPointFactory
from touchpoints.models import Kind, Status, TouchPoint

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _text(locator) -> str:
    """The element's text as a screen reader gets it, whitespace collapsed."""
    return " ".join(locator.text_content().split())


def test_rep_logs_a_checkup_from_my_day_and_sees_it_on_the_timeline(page, live_server, alice):
    """Log in, open the row's form in place, get a clear error, fix it, save; the row says done and the
    customer's page shows the temperature and the next step with its date. A screenshot is kept."""
    customer = CustomerFactory(owner=alice, name="Nadia Ortega", timezone="UTC")
    checkup = TouchPointFactory(customer=customer, objective="Check the installation works")
    next_day = timezone.localdate() + dt.timedelta(days=7)
    next_day_text = f"{next_day.day} {next_day:%b} {next_day.year}"  # "20 Mar 2025", as the pages write dates

    page.goto(f"{live_server.url}/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/my-day/")
    # Due at the moment it was created, so past its due time by now: overdue (touchpoints.models.overdue_q).
    assert _text(page.locator("#nav-due-count")) == "1 check-up due: 1 overdue, 0 today"

    row = page.locator(f"#touchpoint-{checkup.pk}")
    row.get_by_role("link", name="Log the check-up with Nadia Ortega").click()
    # The form opens inside the row, without leaving My day.
    row.get_by_label("4 · warm").check()
    row.get_by_role("button", name="Save").click()
    error = row.get_by_text("Choose what happened: reached, no answer, left a message.")
    error.wait_for()
    assert error.is_visible()
    assert page.url == f"{live_server.url}/my-day/"

    row.get_by_label("Reached").check()
    row.get_by_label("4 · warm").check()
    row.get_by_label("Notes").fill("Works well; asked about descaling.")
    row.get_by_label("Next step", exact=True).fill("Show the milk frother")
    row.get_by_label("On", exact=True).fill(next_day.isoformat())
    row.get_by_role("button", name="Save").click()

    row.get_by_text("Done: call, reached · temperature 4/5.").wait_for()
    assert "Next: Show the milk frother" in row.inner_text()
    assert _text(page.locator("#nav-due-count")) == ""  # refreshed out of band
    assert page.url == f"{live_server.url}/my-day/"

    row.get_by_role("link", name="Nadia Ortega").click()
    page.wait_for_url(f"{live_server.url}{customer.get_absolute_url()}")
    main = page.locator("main")
    main.get_by_text("Temperature 4/5").first.wait_for()
    text = main.inner_text()
    assert "Show the milk frother" in text
    assert next_day_text in text

    follow_up = TouchPoint.objects.get(follows=checkup)
    assert (follow_up.kind, follow_up.status, follow_up.objective) == (
        Kind.FOLLOW_UP,
        Status.SCHEDULED,
        "Show the milk frother",
    )
    assert follow_up.due_at == dt.datetime.combine(next_day, dt.time(10), tzinfo=dt.UTC)
