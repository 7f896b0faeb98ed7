"""Real-browser journeys: signing in lands each role on its home page."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.factories import CustomerFactory, TouchPointFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_rep_signs_in_and_lands_on_my_day_with_their_checkup(page, live_server, alice):
    """A rep who signs in from the front page lands on My day and sees the check-up due today;
    every file the pages ask for (styles, scripts, the icon) is there."""
    customer = CustomerFactory(owner=alice, name="Nadia Ortega")
    TouchPointFactory(customer=customer, objective="Check the installation works")
    broken: list[str] = []
    page.on("response", lambda response: broken.append(response.url) if response.status >= 400 else None)

    _log_in(page, live_server, "alice")

    page.wait_for_url(f"{live_server.url}/my-day/")
    page.wait_for_load_state("networkidle")
    assert "Nadia Ortega" in page.content()
    assert page.get_by_text("Check the installation works").is_visible()
    assert broken == []
    # Browsers fetch the icon lazily (headless Chromium often not at all): ask for it directly.
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert page.request.get(f"{live_server.url}{icon}").ok


def test_manager_signs_in_and_lands_on_the_dashboard(page, live_server, mary):
    """A manager lands on the dashboard; a wrong password first gets a clear error."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("mary")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_text("Please enter a correct username and password").is_visible()

    _log_in(page, live_server, "mary")

    page.wait_for_url(f"{live_server.url}/dashboard/")
    assert page.get_by_role("heading", name="Dashboard").is_visible()
