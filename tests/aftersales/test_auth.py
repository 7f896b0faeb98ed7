"""Login, role routing, logout, password change and password reset by email."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from aftersales.mail.models import MailboxMessage
from tests.conftest import PASSWORD

NEW_PASSWORD = "a fresh passphrase for spring 42"


@pytest.mark.smoke
def test_login_page_renders_a_form_with_a_reset_link(client, db):
    """The login page shows the username/password form and links to password reset."""
    response = client.get(reverse("login"))

    assert response.status_code == 200
    content = response.content.decode()
    assert 'name="username"' in content
    assert 'name="password"' in content
    assert reverse("password_reset") in content
    assert "csrfmiddlewaretoken" in content


@pytest.mark.smoke
def test_rep_logs_in_and_lands_on_my_day(client, alice):
    """A rep's login goes through `/` and ends on My day."""
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD}, follow=True)

    assert [url for url, _ in response.redirect_chain] == [reverse("home"), reverse("my_day")]
    assert response.status_code == 200
    assert b"<h1" in response.content and b"My day" in response.content


@pytest.mark.smoke
def test_manager_logs_in_and_lands_on_the_dashboard(client, mary):
    """A manager's login goes through `/` and ends on the dashboard."""
    response = client.post(reverse("login"), {"username": "mary", "password": PASSWORD}, follow=True)

    assert [url for url, _ in response.redirect_chain] == [reverse("home"), reverse("dashboard")]
    assert response.status_code == 200
    assert "Dashboard" in response.content.decode()


def test_wrong_password_shows_an_error_and_does_not_log_in(client, alice):
    """A wrong password re-renders the form with Django's error and no session."""
    response = client.post(reverse("login"), {"username": "alice", "password": "not my password"})

    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_anonymous_visitor_of_home_is_sent_to_login(client, db):
    response = client.get(reverse("home"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_logout_is_a_post_form_and_ends_the_session(alice_client):
    """The user menu logs out with a POST (with CSRF token); GET is refused."""
    page = alice_client.get(reverse("my_day")).content.decode()
    logout_form = (
        rf'<form method="post" action="{re.escape(reverse("logout"))}">\s*<input type="hidden" name="'
        r'csrfmiddlewaretoken"'
    )
    assert re.search(logout_form, page)

    assert alice_client.get(reverse("logout")).status_code == 405
    response = alice_client.post(reverse("logout"))

    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert alice_client.get(reverse("my_day")).status_code == 302


def test_password_change_from_the_user_menu(alice_client):
    """A signed-in user changes their password and can log in with the new one."""
    response = alice_client.get(reverse("password_change"))
    assert response.status_code == 200
    assert 'name="old_password"' in response.content.decode()

    response = alice_client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )

    assert response.redirect_chain[-1][0] == reverse("password_change_done")
    assert "Your password was changed" in response.content.decode()
    assert Client().login(username="alice", password=NEW_PASSWORD)


def test_password_reset_mail_lands_in_the_dev_mailbox_and_its_link_sets_a_new_password(alice, settings):
    """Asking for a reset stores a mail (no SMTP) whose link uses the request's host;
    following it lets the user choose a password and log in with it."""
    settings.EMAIL_BACKEND = "aftersales.mail.mailbox.DevMailboxBackend"
    settings.ALLOWED_HOSTS = ["crm.example.com", "testserver"]
    browser = Client(HTTP_HOST="crm.example.com")

    assert browser.get(reverse("password_reset")).status_code == 200
    response = browser.post(reverse("password_reset"), {"email": alice.email}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("password_reset_done")
    assert "Check your email" in response.content.decode()

    mail = MailboxMessage.objects.get()
    assert mail.to == alice.email
    assert mail.subject == "Reset your Aftersales password"
    match = re.search(r"http://crm\.example\.com(/accounts/reset/[\w-]+/[\w-]+/)", mail.body_text)
    assert match, mail.body_text
    assert f'href="{match.group(0)}"' in mail.body_html  # the HTML part links the same URL

    response = browser.get(match.group(1), follow=True)
    assert response.status_code == 200
    assert 'name="new_password1"' in response.content.decode()
    set_password_url = response.redirect_chain[-1][0]

    response = browser.post(
        set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("password_reset_complete")
    assert "Your password is set" in response.content.decode()

    response = Client().post(reverse("login"), {"username": "alice", "password": NEW_PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("my_day")
    assert not Client().login(username="alice", password=PASSWORD)


def test_a_used_reset_link_says_so(alice, settings):
    """A reset link that does not validate shows a clear message and no form."""
    response = Client().get(reverse("password_reset_confirm", args=["MQ", "not-a-valid-token"]))

    assert response.status_code == 200
    content = response.content.decode()
    assert "This link no longer works" in content
    assert 'name="new_password1"' not in content


def test_password_reset_for_an_unknown_address_sends_nothing(db, settings, client):
    """The done page does not reveal whether the address exists, and no mail is stored."""
    settings.EMAIL_BACKEND = "aftersales.mail.mailbox.DevMailboxBackend"

    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})

    assert response.status_code == 302
    assert not MailboxMessage.objects.exists()
