"""Real-browser journey: a customer answers a survey email in Spanish with a 3; the owner finds the call-back."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from aftersales.mail.models import MailboxMessage, OutboxEmail
from aftersales.mail.outbox import outbox_deliver
from customers.models import FlagReason, RiskFlag
from feedback.models import SurveyResponse
from feedback.services.invitations import invitation_send
from feedback.services.loops import survey_loops_open
from tests.browser.conftest import ARTIFACTS
from tests.conftest import PASSWORD
from tests.factories import CustomerFactory, SurveyInvitationFactory
from touchpoints.models import Kind, TouchPoint

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_customer_answers_in_spanish_and_the_owner_finds_the_follow_up_on_my_day(
    page, live_server, alice, mary, settings
):
    """The mail is in the dev mailbox; the score link opens the survey with 3 chosen, in Spanish; one
    submit. Then alice (the owner) logs in: the "close the loop" call is on My day and a flag is raised."""
    settings.SITE_URL = live_server.url
    settings.EMAIL_BACKEND = "aftersales.mail.mailbox.DevMailboxBackend"
    customer = CustomerFactory(owner=alice, name="Lucía Gómez", language="es", timezone="Europe/Madrid")
    now = timezone.now()
    invitation = SurveyInvitationFactory(customer=customer, send_at=now - dt.timedelta(minutes=1))
    assert invitation_send(invitation_id=invitation.pk)
    assert outbox_deliver(email_id=OutboxEmail.objects.get(kind=OutboxEmail.Kind.SURVEY).pk)
    mail = MailboxMessage.objects.get()

    # A manager reads the dev mailbox (as the demo does) and opens the customer's mail.
    _log_in(page, live_server.url, "mary")
    page.goto(f"{live_server.url}/dev/mailbox/")
    page.get_by_role("link", name=mail.subject).click()
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: the page is mobile-first
    page.locator("pre.mail-text a[href$='?score=3']").click()

    page.get_by_role("heading", name="¿Cómo lo estamos haciendo?").wait_for()
    assert page.locator("html").get_attribute("lang") == "es"
    nps = page.get_by_role("group", name="¿Qué probabilidad hay de que nos recomiende a un amigo o colega?")
    assert nps.get_by_label("3", exact=True).is_checked()
    page.get_by_label("2 — Insatisfecho").check()
    page.get_by_label("No estoy seguro").check()
    page.get_by_label("¿Qué podríamos hacer mejor?").fill("La entrega llegó tarde.")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "survey_page_es_phone.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    page.get_by_role("button", name="Enviar mi respuesta").click()

    page.get_by_role("heading", name="Gracias por su respuesta").wait_for()
    assert "se pondrá en contacto con usted en un día hábil" in page.locator("main").inner_text()
    answer = SurveyResponse.objects.get()
    assert (answer.nps, answer.csat, answer.would_buy_again, answer.comment) == (
        3,
        2,
        "unsure",
        "La entrega llegó tarde.",
    )

    # The worker opens the loop a moment later (tests/proofs/test_celery_worker.py runs a real one).
    assert survey_loops_open() == 1

    page.context.clear_cookies()
    page.set_viewport_size({"width": 1280, "height": 900})
    _log_in(page, live_server.url, "alice")
    page.wait_for_url(f"{live_server.url}/my-day/")
    followup = TouchPoint.objects.get(kind=Kind.CLOSE_LOOP)
    row = page.locator(f"#touchpoint-{followup.pk}")
    row.wait_for()
    assert "Close the loop: Call back about the survey answer (NPS 3, CSAT 2)" in row.inner_text()
    assert "Lucía Gómez" in page.locator("main").inner_text()
    assert set(RiskFlag.objects.open().values_list("reason", flat=True)) == {FlagReason.DETRACTOR, FlagReason.LOW_CSAT}
    assert OutboxEmail.objects.filter(kind=OutboxEmail.Kind.NOTIFICATION, to=alice.email).exists()
