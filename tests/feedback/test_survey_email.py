"""The survey email as the customer receives it: both parts, the headers, the language, escaping, the token."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from email.message import Message

import pytest
import time_machine
from django.core import signing

from aftersales.mail.models import MailboxMessage, OutboxEmail
from aftersales.mail.outbox import outbox_deliver
from feedback.models import SurveyInvitation, hash_token
from feedback.services.invitations import invitations_remind, invitations_send, survey_url
from feedback.services.unsubscribe import TOKEN_SALT, unsubscribe_url
from tests.factories import CustomerFactory, RepFactory, SurveyInvitationFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("compiled_messages")]

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
SURVEY_LINK = re.compile(r"https?://[^\s\"<>]+/feedback/s/([A-Za-z0-9_\-]+)/\?score=(\d+)")


@pytest.fixture(autouse=True)
def clock(settings):
    settings.EMAIL_BACKEND = "aftersales.mail.mailbox.DevMailboxBackend"
    settings.SITE_URL = "https://crm.example.com"
    settings.DEFAULT_FROM_EMAIL = "Aftersales <aftersales@example.com>"
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def send(customer) -> tuple[SurveyInvitation, MailboxMessage]:
    """Send one due invitation through the outbox and return what the dev mailbox received."""
    invitation = SurveyInvitationFactory(customer=customer, send_at=NOW)
    assert invitations_send() == 1
    outbox = OutboxEmail.objects.get(kind=OutboxEmail.Kind.SURVEY)
    assert outbox_deliver(email_id=outbox.pk)
    invitation.refresh_from_db()
    return invitation, MailboxMessage.objects.get(message_id=outbox.message_id)


def parsed(message: MailboxMessage) -> Message:
    # The default policy unfolds long headers and decodes =?utf-8?…?= words, as a mail client does.
    return email.message_from_string(message.raw, policy=email.policy.default)


def header(mime: Message, name: str) -> str:
    return str(mime[name]).strip()


def parts(mime: Message) -> dict[str, str]:
    return {
        part.get_content_type(): part.get_payload(decode=True).decode(part.get_content_charset())
        for part in mime.walk()
        if not part.is_multipart()
    }


def score_links(body: str) -> list[tuple[str, int]]:
    return [(token, int(score)) for token, score in SURVEY_LINK.findall(body)]


@pytest.fixture
def customer(alice):
    return CustomerFactory(owner=alice, name="Carla Cruz", email="carla@example.com")


def test_the_invitation_has_both_parts_with_eleven_score_links_and_an_unsubscribe_link(customer, alice):
    invitation, message = send(customer)
    mime = parsed(message)
    bodies = parts(mime)
    assert set(bodies) == {"text/plain", "text/html"}

    for body in bodies.values():
        links = score_links(body)
        assert [score for _token, score in links] == list(range(11))
        assert len({token for token, _score in links}) == 1
        assert "How likely are you to recommend us to a friend or colleague?" in body
        assert "Why we ask: Alice Archer reads every answer." in body
        assert unsubscribe_url(customer) in body
        assert "Unsubscribe from these emails" in body
        assert "Hello Carla Cruz," in body
        assert "The link works until March 30, 2026." in body
    token = score_links(bodies["text/plain"])[0][0]
    assert survey_url(token, 3) in bodies["text/plain"]
    assert f'href="{survey_url(token, 3)}"' in bodies["text/html"]


def test_the_headers_show_the_rep_and_offer_one_click_unsubscribe(customer, alice):
    _invitation, message = send(customer)
    mime = parsed(message)

    assert header(mime, "From") == "Alice Archer via Aftersales <aftersales@example.com>"
    assert mime["Reply-To"] == alice.email
    assert mime["To"] == "carla@example.com"
    assert header(mime, "Subject") == "Alice Archer asks: how are we doing?"
    target = re.fullmatch(r"<(https://crm\.example\.com/feedback/u/([^/]+)/)>", header(mime, "List-Unsubscribe"))
    assert target is not None
    assert target.group(1) == unsubscribe_url(customer)
    assert signing.loads(target.group(2), salt=TOKEN_SALT) == {"customer": customer.pk}
    assert mime["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_only_the_hash_of_the_mailed_token_is_stored(customer):
    invitation, message = send(customer)
    token = score_links(message.body_text)[0][0]

    assert len(token) >= 22  # at least 128 random bits, URL-safe base64
    assert hash_token(token) == invitation.token_hash
    stored = SurveyInvitation.objects.filter(pk=invitation.pk).values().get()
    assert token not in {str(value) for value in stored.values()}


@pytest.mark.parametrize(
    ("language", "greeting", "question", "subject", "unsubscribe"),
    [
        (
            "es",
            "Hola, Carla Cruz:",
            "¿Qué probabilidad hay de que nos recomiende a un amigo o colega?",
            "Alice Archer pregunta: ¿cómo lo estamos haciendo?",
            "Darse de baja de estos correos",
        ),
        (
            "ru",
            "Здравствуйте, Carla Cruz!",
            "Насколько вероятно, что вы порекомендуете нас другу или коллеге?",
            "Alice Archer спрашивает: как у нас дела?",
            "Отписаться от этих писем",
        ),
    ],
)
def test_the_email_is_in_the_customers_language(alice, language, greeting, question, subject, unsubscribe):
    customer = CustomerFactory(owner=alice, name="Carla Cruz", language=language)
    invitation, message = send(customer)

    assert invitation.language == language
    assert header(parsed(message), "Subject") == subject
    assert header(parsed(message), "From").startswith("Alice Archer ")
    for body in (message.body_text, message.body_html):
        assert greeting in body
        assert question in body
        assert unsubscribe in body
        assert "How likely" not in body
        assert len(score_links(body)) == 11
    assert f'<html lang="{language}">' in message.body_html


def test_customer_and_rep_text_is_escaped_in_html_and_kept_off_the_headers():
    rep = RepFactory(first_name="Eve\r\nBcc: victim@example.com", last_name="<b>Evil</b>")
    customer = CustomerFactory(owner=rep, name="<script>alert(1)</script>\r\nBcc: x@example.com")
    _invitation, message = send(customer)
    mime = parsed(message)

    assert "<script>" not in message.body_html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in message.body_html
    assert "<b>Evil</b>" not in message.body_html
    assert "&lt;b&gt;Evil&lt;/b&gt;" in message.body_html
    assert "<script>alert(1)</script>" in message.body_text  # plain text is shown as text
    assert mime["Bcc"] is None
    assert "\n" not in header(mime, "From") and "\n" not in header(mime, "Subject")
    (sender,) = mime["From"].addresses  # one address: the name could not smuggle in another
    assert sender.display_name == "Eve Bcc: victim@example.com <b>Evil</b> via Aftersales"
    assert sender.addr_spec == "aftersales@example.com"
    assert message.to == customer.email


def test_the_reminder_carries_the_same_links_and_the_same_headers(customer, clock):
    invitation, first = send(customer)
    clock.move_to(NOW + dt.timedelta(days=3))
    assert invitations_remind() == 1
    reminder = OutboxEmail.objects.get(kind=OutboxEmail.Kind.SURVEY_REMINDER)
    assert outbox_deliver(email_id=reminder.pk)
    message = MailboxMessage.objects.get(message_id=reminder.message_id)
    mime = parsed(message)

    assert header(mime, "Subject") == "Reminder: Alice Archer would still like your opinion"
    assert "A few days ago we asked how we are doing." in message.body_text
    assert score_links(message.body_text) == score_links(first.body_text)
    assert score_links(message.body_html) == score_links(first.body_html)
    assert mime["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert header(mime, "List-Unsubscribe") == f"<{unsubscribe_url(customer)}>"
    assert hash_token(score_links(message.body_text)[0][0]) == invitation.token_hash
