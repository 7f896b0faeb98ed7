"""Real-browser journey: a rep adds a customer, is told they already have them, opens that one instead,
fixes its phone number and finds the change on the customer's timeline."""

from __future__ import annotations

import pytest

from customers.models import Customer
from tests.conftest import PASSWORD
from tests.factories import CustomerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _text(locator) -> str:
    return " ".join(locator.text_content().split())


def test_rep_is_warned_of_a_duplicate_opens_it_and_fixes_its_phone(page, live_server, alice, bob):
    """Another rep's customer with the same phone is named with their rep, without a link; the rep's own
    customer with the same e-mail is linked. Nothing is added; the phone edit shows on the timeline."""
    ana = CustomerFactory(owner=alice, name="Ana López", email="ana.lopez@example.com", phone="+34611111111")
    CustomerFactory(owner=bob, name="Ana María López", email="", phone="+34633333333")

    page.goto(f"{live_server.url}/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/my-day/")

    page.goto(f"{live_server.url}/customers/")
    page.get_by_role("link", name="New customer").click()
    page.wait_for_url(f"{live_server.url}/customers/new/")
    page.get_by_label("Name*").fill("Ana Lopez")
    page.get_by_label("E-mail").fill("ANA.LOPEZ@example.com")
    page.get_by_label("Phone", exact=True).fill("+34 633 33 33 33")
    page.get_by_label("Language").select_option("es")
    page.get_by_label("Time zone").select_option("Europe/Madrid")
    page.get_by_role("button", name="Add the customer").click()

    warning = page.locator("#duplicates")
    warning.wait_for()
    text = _text(warning)
    assert "This looks like Ana López (yours) — open it? · same e-mail" in text
    assert "This looks like Ana María López (Bob Baker’s customer): ask them before adding another." in text
    assert warning.get_by_role("link").count() == 1
    assert page.get_by_label("Create anyway: this is a different customer").is_visible()

    warning.get_by_role("link", name="Ana López").click()
    page.wait_for_url(f"{live_server.url}{ana.get_absolute_url()}")
    page.get_by_role("link", name="Edit", exact=True).click()
    phone = page.get_by_label("Phone", exact=True)
    assert phone.input_value() == "+34 611 11 11 11"
    phone.fill("+34 622 22 22 22")
    page.get_by_role("button", name="Save").click()

    page.wait_for_url(f"{live_server.url}{ana.get_absolute_url()}")
    page.get_by_text("The details of Ana López were saved.").wait_for()
    main = page.locator("main")
    assert "+34 622 22 22 22" in _text(main.locator("#profile-heading + dl"))
    change = main.locator(".timeline-profile").first
    assert "Details changed by Alice Archer" in _text(change)
    assert "phone: +34 611 11 11 11 → +34 622 22 22 22" in _text(change)

    ana.refresh_from_db()
    assert ana.phone == "+34622222222"
    assert Customer.objects.count() == 2, "the duplicate was never added"
