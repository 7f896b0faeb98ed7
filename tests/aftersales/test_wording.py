"""What customers read is worded once and punctuated right: Russian dates (which end in «г.») get
no second period, and Spanish calls the care plan by one name everywhere."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from aftersales.mail.models import MailboxMessage, OutboxEmail
from aftersales.mail.outbox import outbox_deliver
from feedback.services.invitations import invitations_send
from feedback.services.unsubscribe import unsubscribe_token
from tests.factories import CustomerFactory, SurveyInvitationFactory
from touchpoints.careplan import careplan_token

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("compiled_messages")]

LOCALE = Path(django_settings.LOCALE_PATHS[0])
SURVEY_PATH = re.compile(r"/feedback/s/([A-Za-z0-9_\-]+)/")
CARE_PLAN_ES = "plan de seguimiento"


def catalogue(language: str) -> dict[str, str]:
    """msgid → msgstr of a .po file (plural forms and the header left out)."""
    entries: dict[str, str] = {}
    text = (LOCALE / language / "LC_MESSAGES" / "django.po").read_text()
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            if line.startswith(("msgid ", "msgstr ")):
                key, _, line = line.partition(" ")
            elif not line.startswith('"'):
                key = None
                continue
            if key in ("msgid", "msgstr"):
                fields[key] = fields.get(key, "") + ast.literal_eval(line)
        if fields.get("msgid"):
            entries[fields["msgid"]] = fields.get("msgstr", "")
    return entries


def test_russian_translations_put_no_period_after_a_date():
    """DATE_FORMAT ends with «г.» in Russian: a sentence ending on a date ends there."""
    catalog = catalogue("ru")
    dated = {msgid: msgstr for msgid, msgstr in catalog.items() if re.search(r"%\((date|day)\)s\.", msgid)}

    assert dated, "the English sentences that end on a date"
    assert {msgid: msgstr for msgid, msgstr in dated.items() if re.search(r"%\((date|day)\)s\.", msgstr)} == {}


def test_the_russian_survey_mail_and_pages_show_dates_with_one_period(client, settings, alice):
    """The mail, the survey page once answered and the thank-you page each name the link's last day."""
    settings.EMAIL_BACKEND = "aftersales.mail.mailbox.DevMailboxBackend"
    customer = CustomerFactory(owner=alice, name="Ольга", language="ru")
    SurveyInvitationFactory(customer=customer)
    assert invitations_send() == 1
    assert outbox_deliver(email_id=OutboxEmail.objects.get(kind=OutboxEmail.Kind.SURVEY).pk)
    mail = MailboxMessage.objects.get()
    token = SURVEY_PATH.search(mail.body_text).group(1)

    answered = client.post(reverse("feedback:survey", args=[token]), {"nps": 9, "csat": 5}, follow=True)
    survey = client.get(reverse("feedback:survey", args=[token]))

    pages = {
        "mail text": mail.body_text,
        "mail html": mail.body_html,
        "thank-you page": answered.content.decode(),
        "survey page": survey.content.decode(),
    }
    assert "Передумали? Вы можете изменить ответ до" in pages["thank-you page"]
    assert "Вы уже ответили" in pages["survey page"]
    for where, text in pages.items():
        assert re.search(r"\d{4} г\.", text), f"{where} shows a date"
        assert "г.." not in text, where


def test_spanish_calls_the_care_plan_plan_de_seguimiento_everywhere():
    catalog = catalogue("es")
    about_the_plan = {
        msgid: msgstr for msgid, msgstr in catalog.items() if re.search(r"care[ -]plan", msgid, re.I) and msgstr
    }

    assert about_the_plan, "the Spanish strings that name the care plan"
    assert {msgid: msgstr for msgid, msgstr in about_the_plan.items() if CARE_PLAN_ES not in msgstr.lower()} == {}
    assert [msgstr for msgstr in catalog.values() if "plan de atención" in msgstr.lower()] == []


def test_the_spanish_care_plan_and_unsubscribe_pages_use_the_same_name(client, alice):
    customer = CustomerFactory(owner=alice, language="es")

    care_plan = client.get(reverse("careplan", args=[careplan_token(customer)])).content.decode()
    unsubscribe = client.get(reverse("feedback:unsubscribe", args=[unsubscribe_token(customer)])).content.decode()

    assert "Su plan de seguimiento" in care_plan
    assert "correos del plan de seguimiento" in unsubscribe
    assert "atención" not in care_plan + unsubscribe
