"""The dev mailbox: staff read the mail the app would have sent."""

from __future__ import annotations

import pytest
from django.core.mail import EmailMultiAlternatives, send_mail
from django.test import Client
from django.urls import reverse

from aftersales.mail.models import MailboxMessage
from aftersales.mail.views import HTML_CSP, with_links_in_new_tab
from tests.factories import UserFactory


@pytest.fixture
def dev_mailbox(db, settings):
    """The test runner swaps in the locmem backend; put the dev mailbox back."""
    settings.EMAIL_BACKEND = "aftersales.mail.mailbox.DevMailboxBackend"


@pytest.fixture
def staff_client(db):
    client = Client()
    client.force_login(UserFactory(username="sam", is_staff=True))
    return client


@pytest.fixture
def html_mail(dev_mailbox) -> MailboxMessage:
    message = EmailMultiAlternatives(
        subject="Your care plan",
        body="Your plan: https://example.com/plan",
        to=["nadia@example.com"],
    )
    message.attach_alternative(
        '<p>Hello <a href="https://example.com/plan">see the plan</a></p><script>alert("x")</script>', "text/html"
    )
    message.send()
    return MailboxMessage.objects.get(subject="Your care plan")


def test_staff_lists_mail_newest_first(staff_client, dev_mailbox):
    send_mail("First mail", "one", None, ["a@example.com"])
    send_mail("Second mail", "two", None, ["b@example.com"])

    response = staff_client.get(reverse("mailbox:list"))

    assert response.status_code == 200
    content = response.content.decode()
    assert content.index("Second mail") < content.index("First mail")
    assert "b@example.com" in content
    assert reverse("mailbox:detail", args=[MailboxMessage.objects.get(subject="First mail").pk]) in content


def test_empty_mailbox_says_so(staff_client):
    response = staff_client.get(reverse("mailbox:list"))

    assert "The mailbox is empty." in response.content.decode()


def test_mailbox_list_is_paginated(staff_client):
    MailboxMessage.objects.bulk_create(
        MailboxMessage(from_email="a@example.com", to="b@example.com", subject=f"Mail {n:03d}", raw="")
        for n in range(60)
    )

    first = staff_client.get(reverse("mailbox:list")).content.decode()
    second = staff_client.get(reverse("mailbox:list"), {"page": 2}).content.decode()

    assert first.count("<tr>") - 1 == 50  # header row + 50 messages
    assert "Page 1 of 2" in first
    assert second.count("<tr>") - 1 == 10


def test_detail_shows_headers_text_and_a_sandboxed_iframe_for_html(staff_client, html_mail):
    response = staff_client.get(reverse("mailbox:detail", args=[html_mail.pk]))

    assert response.status_code == 200
    content = response.content.decode()
    assert "Your care plan" in content
    assert "nadia@example.com" in content
    assert "Message-ID" in content
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation"' in content
    assert f'src="{reverse("mailbox:html", args=[html_mail.pk])}"' in content
    # The HTML body is never inlined into our own page.
    assert '<script>alert("x")</script>' not in content
    # The plain text part has its URL turned into a link.
    assert '<a href="https://example.com/plan" rel="nofollow">https://example.com/plan</a>' in content


def test_html_view_serves_the_body_with_a_script_free_csp(staff_client, html_mail):
    response = staff_client.get(reverse("mailbox:html", args=[html_mail.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response["Content-Security-Policy"] == HTML_CSP
    assert "script-src" not in HTML_CSP and "default-src 'none'" in HTML_CSP
    # Framable by our own detail page despite the site-wide DENY.
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    content = response.content.decode()
    assert '<a href="https://example.com/plan">see the plan</a>' in content
    # Links open in a new tab: our own pages refuse to load inside the frame.
    assert content.startswith('<base target="_blank">')


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<html><HEAD lang=x><title>t</title></head>", '<html><HEAD lang=x><base target="_blank"><title>t</title>'),
        ("<!DOCTYPE html>\n<p>hi</p>", '<!DOCTYPE html><base target="_blank">\n<p>hi</p>'),
        ("<header>no head</header>", '<base target="_blank"><header>no head</header>'),
    ],
)
def test_links_of_framed_mail_open_in_a_new_tab(html, expected):
    assert with_links_in_new_tab(html).startswith(expected)


def test_html_view_of_a_text_only_mail_is_404(staff_client, dev_mailbox):
    send_mail("Plain", "Just text", None, ["a@example.com"])
    mail = MailboxMessage.objects.get()

    assert staff_client.get(reverse("mailbox:html", args=[mail.pk])).status_code == 404


def test_plain_text_mail_is_escaped_and_linkified(staff_client, dev_mailbox):
    send_mail("Plain", 'Hi <b>"Nadia"</b>\nhttp://127.0.0.1:8000/survey/abc/', None, ["a@example.com"])
    mail = MailboxMessage.objects.get()

    content = staff_client.get(reverse("mailbox:detail", args=[mail.pk])).content.decode()

    assert "Hi &lt;b&gt;&quot;Nadia&quot;&lt;/b&gt;" in content
    assert '<a href="http://127.0.0.1:8000/survey/abc/" rel="nofollow">' in content
    assert "<iframe" not in content


def test_manager_can_read_the_mailbox(mary_client, html_mail):
    assert mary_client.get(reverse("mailbox:list")).status_code == 200
    assert mary_client.get(reverse("mailbox:html", args=[html_mail.pk])).status_code == 200


def test_rep_without_staff_gets_403_everywhere(alice_client, html_mail):
    for url in (
        reverse("mailbox:list"),
        reverse("mailbox:detail", args=[html_mail.pk]),
        reverse("mailbox:html", args=[html_mail.pk]),
    ):
        response = alice_client.get(url)
        assert response.status_code == 403, url
        assert "Your care plan" not in response.content.decode()
    assert alice_client.post(reverse("mailbox:clear")).status_code == 403
    assert MailboxMessage.objects.exists()


def test_anonymous_visitor_is_sent_to_login(client, html_mail):
    response = client.get(reverse("mailbox:detail", args=[html_mail.pk]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_navbar_links_the_mailbox_for_staff_only(staff_client, alice_client):
    assert reverse("mailbox:list") in staff_client.get(reverse("customers:list")).content.decode()
    assert reverse("mailbox:list") not in alice_client.get(reverse("customers:list")).content.decode()


def test_staff_clears_the_mailbox_with_a_post(staff_client, html_mail):
    assert staff_client.get(reverse("mailbox:clear")).status_code == 405

    response = staff_client.post(reverse("mailbox:clear"), follow=True)

    assert not MailboxMessage.objects.exists()
    assert "Deleted 1 message(s)" in response.content.decode()
