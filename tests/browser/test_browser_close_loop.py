"""Real-browser journeys: the loop a low answer opens is closed by the call that answers it.

A detractor answers 3 and ticks "I have a problem"; the loop job raises both flags and opens the
call; the owner logs the call as reached from My day, the flags' boxes ticked, and both flags are
resolved with the call's notes: the customer leaves the at-risk list and their health, recomputed,
is no longer red. And a flag resolved in place from the at-risk list.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from customers.models import FlagReason, RiskFlag
from feedback.models import hash_token, new_token
from feedback.services.loops import survey_loops_open
from tests.conftest import PASSWORD
from tests.factories import CustomerFactory, RiskFlagFactory, SurveyInvitationFactory
from touchpoints.models import Kind, TouchPoint

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOTES = "Replaced the seal on site; she is happy again."


def _log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def _text(locator) -> str:
    return " ".join(locator.inner_text().split())


def test_a_reached_call_resolves_the_answers_flags_and_the_customer_is_no_longer_at_risk(page, live_server, alice):
    base = live_server.url
    customer = CustomerFactory(owner=alice, name="Olivia Grant", timezone="UTC", health_due_at=None)
    token = new_token()
    SurveyInvitationFactory(customer=customer, token_hash=hash_token(token))

    # The customer answers 3 (clicked in the mail) and reports a problem.
    page.goto(f"{base}{reverse('feedback:survey', args=[token])}?score=3")
    page.get_by_label("I have a problem and would like someone to contact me").check()
    page.get_by_label("What could we do better?").fill("The pump leaks again.")
    page.get_by_role("button", name="Send my answer").click()
    page.get_by_role("heading", name="Thank you for your answer").wait_for()

    # The worker opens the loop a moment later (tests/test_celery_worker.py runs a real one).
    assert survey_loops_open() == 1
    call = TouchPoint.objects.get(kind=Kind.CLOSE_LOOP, customer=customer)
    assert set(RiskFlag.objects.open().values_list("reason", flat=True)) == {
        FlagReason.DETRACTOR,
        FlagReason.PROBLEM_REPORTED,
    }

    _log_in(page, base, "alice")
    page.wait_for_url(f"{base}/my-day/")
    page.goto(f"{base}{customer.get_absolute_url()}")
    health = page.locator("section[aria-labelledby='health-heading']")
    assert health.locator(".badge.health-red").inner_text() == "40"  # 80 − 25 (NPS 3) − 15 (an open problem)

    page.goto(f"{base}/my-day/")
    row = page.locator(f"#touchpoint-{call.pk}")
    row.get_by_role("link", name="Log the check-up with Olivia Grant").click()
    boxes = row.locator(f'input[name="tp{call.pk}-resolve_flags"]')
    boxes.first.wait_for()
    assert boxes.count() == 2
    assert all(boxes.nth(n).is_checked() for n in range(2))  # ticked by default
    row.get_by_label("Reached").check()
    row.get_by_label("3 · neutral").check()
    row.get_by_label("Notes").fill(NOTES)
    row.get_by_role("button", name="Save").click()

    row.get_by_text("Flags resolved: Detractor, Problem reported.").wait_for()
    assert page.url == f"{base}/my-day/"
    assert [(flag.resolution, flag.resolved_by) for flag in RiskFlag.objects.filter(customer=customer)] == [
        (NOTES, alice),
        (NOTES, alice),
    ]

    page.goto(f"{base}/risk/")
    assert "No customer is at risk right now." in _text(page.locator("main"))

    page.goto(f"{base}{customer.get_absolute_url()}")
    health = page.locator("section[aria-labelledby='health-heading']")
    assert health.locator(".badge.health-yellow").inner_text() == "55"  # recomputed: only the NPS 3 counts now
    assert page.locator(".health-red").count() == 0
    assert "open problem" not in health.inner_text()
    assert page.get_by_role("heading", name="Open risk flags").count() == 0
    timeline = _text(page.locator("ol.timeline"))
    assert timeline.count("Flag resolved") == 2
    assert "· by Alice Archer" in timeline and NOTES in timeline and "Open for" in timeline


def test_a_rep_resolves_a_flag_in_place_from_the_at_risk_list(page, live_server, alice):
    base = live_server.url
    quiet = CustomerFactory(owner=alice, name="Quentin Quiet", health_due_at=None)
    flag = RiskFlagFactory(customer=quiet, reason=FlagReason.GONE_QUIET, detail="No contact for 60 days")
    RiskFlagFactory(customer=CustomerFactory(owner=alice, name="Still Flagged"), reason=FlagReason.DETRACTOR)

    _log_in(page, base, "alice")
    page.wait_for_url(f"{base}/my-day/")
    page.goto(f"{base}/risk/")
    page.get_by_role("link", name="Resolve Gone quiet for Quentin Quiet").click()
    slot = page.locator(f"#resolve-flag-{flag.pk}")
    slot.get_by_label("How was it settled?").wait_for()
    assert page.url == f"{base}/risk/"  # opened in place

    slot.get_by_role("button", name="Resolve").click()
    slot.get_by_text("Say how it was settled, in a few words.").wait_for()
    assert RiskFlag.objects.get(pk=flag.pk).is_open

    slot.get_by_label("How was it settled?").fill("Met at the fair; renewing in May.")
    slot.get_by_role("button", name="Resolve").click()
    page.get_by_text("“Gone quiet” resolved for Quentin Quiet.").wait_for()  # the page reloaded

    names = _text(page.locator("#risk-table tbody"))
    assert "Quentin Quiet" not in names and "Still Flagged" in names
    flag.refresh_from_db()
    assert (flag.resolution, flag.resolved_by) == ("Met at the fair; renewing in May.", alice)
