"""User text comes out escaped, in pages and in mail; CR/LF cannot add mail headers.

One payload goes into every text field a user or a customer controls; each page and
each email that shows the field must show it as text (escaped), never as markup.
"""

from __future__ import annotations

import datetime as dt
import email
from email import policy

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from aftersales.mail.models import OutboxEmail
from aftersales.mail.outbox import outbox_deliver
from aftersales.myday.digests import digests_send
from customers.models import FlagReason
from feedback.models import hash_token, new_token
from feedback.services.answers import Answer, survey_response_record
from feedback.services.loops import survey_loops_open
from feedback.survey_email import survey_email_enqueue
from tests.factories import (
    CustomerFactory,
    RiskFlagFactory,
    SurveyInvitationFactory,
    TouchPointFactory,
)
from touchpoints.careplan import careplan_send
from touchpoints.models import Status
from touchpoints.reminders import _enqueue_reminder, work_hours

PAYLOAD = "<script>alert(1)</script><img src=x onerror=alert(2)>"
RAW_MARKERS = ("<script>alert(1)", "<img src=x")
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)  # a Monday morning


def tagged(field: str) -> str:
    return f"{field}:{PAYLOAD}"


def assert_escaped(html: str, *fields: str, where: str) -> None:
    for marker in RAW_MARKERS:
        assert marker not in html, f"{where}: raw markup {marker!r}"
    for field in fields:
        assert f"{field}:{ESCAPED}" in html, f"{where}: {field} not shown (escaped)"


@pytest.fixture
def hostile(alice):
    """Alice's customer with the payload in every free-text field, at risk, with a bad answer."""
    with time_machine.travel(NOW, tick=False):
        customer = CustomerFactory(
            owner=alice,
            name=tagged("name"),
            company=tagged("company"),
            notes=tagged("notes"),
            email="hostile@example.com",
        )
        due = TouchPointFactory(
            customer=customer,
            assignee=alice,
            objective=tagged("objective"),
            due_at=timezone.now() - dt.timedelta(hours=1),
        )
        TouchPointFactory(
            customer=customer,
            assignee=alice,
            status=Status.DONE,
            completed_at=timezone.now() - dt.timedelta(days=1),
            outcome="reached",
            notes=tagged("tpnotes"),
            next_step=tagged("nextstep"),
        )
        RiskFlagFactory(customer=customer, reason=FlagReason.DETRACTOR, detail=tagged("flag"))
        invitation = SurveyInvitationFactory(customer=customer, token_hash=hash_token(new_token()))
        survey_response_record(invitation=invitation, answer=Answer(nps=2, comment=tagged("comment")))
        survey_loops_open()  # the worker's half: the call-back, the flag and the owner's mail quote the comment
    return {"customer": customer, "due": due}


@pytest.mark.django_db
def test_pages_show_user_text_escaped(client, alice, mary, hostile):
    customer = hostile["customer"]
    with time_machine.travel(NOW, tick=False):
        client.force_login(alice)
        detail = client.get(customer.get_absolute_url()).content.decode()
        my_day = client.get(reverse("my_day")).content.decode()
        listing = client.get(reverse("customers:list")).content.decode()
        client.force_login(mary)
        dashboard = client.get(reverse("dashboard")).content.decode()
        at_risk = [client.get(url).content.decode() for url in _at_risk_urls()]

    assert_escaped(detail, "name", "company", "notes", "objective", "tpnotes", "nextstep", "comment", where="customer")
    assert_escaped(my_day, "name", "objective", where="My day")
    assert_escaped(listing, "name", "company", where="customer list")
    assert_escaped(dashboard, where="dashboard")  # aggregates only: no customer text to show
    for html in at_risk:
        assert_escaped(html, "name", where="at-risk list")


def _at_risk_urls() -> list[str]:
    """The at-risk list, wherever it is routed (issue 6 is adding it)."""
    from django.urls import NoReverseMatch

    urls = []
    for name in ("customers:at_risk", "at_risk", "customers:risk_list", "risk_list"):
        try:
            urls.append(reverse(name))
        except NoReverseMatch:
            continue
    return urls


@pytest.mark.django_db
def test_mail_shows_user_text_escaped(alice, hostile):
    customer, due = hostile["customer"], hostile["due"]
    with time_machine.travel(NOW, tick=False):
        careplan_send(customer=customer)
        _enqueue_reminder(due, work_hours([alice.pk])[alice.pk])
        digests_send(now=NOW)
        token = new_token()
        survey_email_enqueue(
            invitation=SurveyInvitationFactory(customer=customer, token_hash=hash_token(token)), token=token
        )
    mails = {mail.kind: mail for mail in OutboxEmail.objects.all()}

    assert_escaped(mails[OutboxEmail.Kind.CARE_PLAN].body_html, "name", "objective", where="care plan")
    assert_escaped(mails[OutboxEmail.Kind.REMINDER].body_html, "name", "objective", where="reminder")
    assert_escaped(mails[OutboxEmail.Kind.DIGEST].body_html, "name", where="digest")
    assert_escaped(mails[OutboxEmail.Kind.SURVEY].body_html, "name", where="survey email")
    detractor = [m for m in OutboxEmail.objects.all() if "comment:" in m.body_html]
    assert detractor, "the detractor alert carries the comment"
    assert_escaped(detractor[0].body_html, "name", "comment", where="detractor alert")


@pytest.mark.django_db
def test_cr_lf_in_names_cannot_inject_mail_headers(alice, mailoutbox):
    alice.first_name = "Alice\r\nBcc: victim@evil.example"
    alice.email = "alice@example.com"
    alice.save()
    customer = CustomerFactory(
        owner=alice, name="Ana\r\nBcc: victim@evil.example\r\nX-Injected: yes", email="ana@example.com"
    )
    due = TouchPointFactory(customer=customer, assignee=alice, objective="Check\r\nX-Injected: yes")
    token = new_token()
    with time_machine.travel(NOW, tick=False):
        survey_email_enqueue(
            invitation=SurveyInvitationFactory(customer=customer, token_hash=hash_token(token)), token=token
        )
        _enqueue_reminder(due, work_hours([alice.pk])[alice.pk])
        careplan_send(customer=customer)

    for mail in OutboxEmail.objects.all():
        outbox_deliver(email_id=mail.pk)

    assert len(mailoutbox) == OutboxEmail.objects.count() >= 3
    for sent in mailoutbox:
        raw = sent.message().as_string()
        message = email.message_from_string(raw, policy=policy.compat32)
        names = {name.lower() for name in message}
        assert "bcc" not in names and "x-injected" not in names, raw[:800]
        for name in ("Subject", "From", "Reply-To", "To"):
            assert "\n" not in (message.get(name) or "").replace("\n ", "").replace("\n\t", "")
