"""Login lockout (django-axes): ten wrong passwords lock the account with a clear message;
a manager unlocks it in the admin, or an operator with a command."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.urls import reverse

from tests.conftest import PASSWORD

LOGIN = reverse("login")


def _attempt(client, password: str, username: str = "alice"):
    return client.post(LOGIN, {"username": username, "password": password})


@pytest.fixture
def alice_with_password(alice):
    alice.set_password(PASSWORD)
    alice.save()
    return alice


@pytest.mark.django_db
def test_nine_wrong_passwords_still_let_the_right_one_in(client, alice_with_password):
    for _ in range(9):
        assert _attempt(client, "wrong").status_code == 200

    response = _attempt(client, PASSWORD)

    assert response.status_code == 302
    assert not AccessAttempt.objects.exists(), "a successful login resets the count"


@pytest.mark.django_db
def test_ten_wrong_passwords_lock_the_account_with_a_clear_message(client, alice_with_password):
    for _ in range(9):
        _attempt(client, "wrong")

    tenth = _attempt(client, "wrong")
    then_right = _attempt(client, PASSWORD)

    for response in (tenth, then_right):
        assert response.status_code == 429
        assert "This account is locked" in response.content.decode()
        assert "ask your manager" in response.content.decode() or "manager unlocks it" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_the_lock_is_per_account_not_per_office(client, alice_with_password, bob):
    bob.set_password(PASSWORD)
    bob.save()
    for _ in range(10):
        _attempt(client, "wrong")

    response = _attempt(client, PASSWORD, username="bob")

    assert response.status_code == 302


@pytest.mark.django_db
def test_a_manager_unlocks_the_account_in_the_admin(client, alice_with_password, mary):
    mary.is_staff = True
    mary.save()
    for _ in range(10):
        _attempt(client, "wrong")
    attempt = AccessAttempt.objects.get(username="alice")
    client.force_login(mary)

    listing = client.get(reverse("admin:axes_accessattempt_changelist"))
    deleted = client.post(reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"})
    client.logout()

    assert listing.status_code == 200 and "alice" in listing.content.decode()
    assert deleted.status_code == 302
    assert _attempt(client, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_the_reset_command_unlocks_the_account(client, alice_with_password):
    for _ in range(10):
        _attempt(client, "wrong")

    call_command("axes_reset_username", "alice", verbosity=0)

    assert _attempt(client, PASSWORD).status_code == 302
