"""Production settings, the CSP header and the rate limits (issue 8, items 1, 3 and 4)."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys

import pytest
from django.urls import reverse
from rest_framework.throttling import AnonRateThrottle

from tests.conftest import ROOT
from tests.factories import CustomerFactory
from touchpoints.careplan import careplan_token


def _manage(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """manage.py in a fresh process with a production-like environment (no DEBUG, own VAR_DIR)."""
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "BEHIND_HTTPS_PROXY", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    base.update({"VAR_DIR": str(tmp_path), "DEBUG": "false", **env})
    return subprocess.run(  # noqa: S603 — our own interpreter and manage.py, fixed arguments
        [sys.executable, "manage.py", *args], cwd=ROOT, env=base, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = _manage(
        tmp_path,
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY=secrets.token_urlsafe(50),
        BEHIND_HTTPS_PROXY="true",
        ALLOWED_HOSTS="crm.example.com",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_without_the_https_settings(tmp_path):
    """The check is not vacuous: without BEHIND_HTTPS_PROXY it names what is missing."""
    result = _manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", SECRET_KEY=secrets.token_urlsafe(50))

    assert result.returncode != 0
    assert "security.W004" in result.stderr  # HSTS
    assert "security.W008" in result.stderr  # SSL redirect


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "Set SECRET_KEY"),
        ("django-insecure-0123456789abcdefghijklmnopqrstuvwxyz", "default value"),
        ("short", "too short"),
    ],
    ids=["missing", "django-default", "short"],
)
def test_production_refuses_to_start_with_a_missing_or_default_secret_key(tmp_path, key, message):
    result = _manage(tmp_path, "check", SECRET_KEY=key)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr


def test_commands_that_only_read_the_code_run_without_a_secret_key(tmp_path):
    """makemigrations --check (CI, hooks) needs no key; serving and checking still do (above)."""
    result = _manage(tmp_path, "makemigrations", "--check", "--dry-run", SECRET_KEY="")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout


@pytest.mark.django_db
def test_pages_carry_a_csp_without_unsafe_inline_scripts(alice_client):
    response = alice_client.get(reverse("my_day"))

    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if " " in part.strip())
    assert response.status_code == 200
    assert "'unsafe-inline'" not in directives["script-src"] and "'unsafe-eval'" not in directives["script-src"]
    assert directives["default-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert "'unsafe-inline'" not in directives["style-src-elem"]
    # The nonce of the header is the one the htmx <script> tag carries.
    nonce = directives["script-src"].split("'nonce-")[1].split("'")[0]
    assert f'nonce="{nonce}"' in response.content.decode()


@pytest.mark.django_db
def test_no_page_has_inline_scripts_or_event_handler_attributes(alice_client, mary_client):
    for client, name in ((alice_client, "my_day"), (alice_client, "customers:list"), (mary_client, "dashboard")):
        html = client.get(reverse(name)).content.decode()
        inline = [tag for tag in re.findall(r"<script\b[^>]*>", html) if "src=" not in tag]
        assert inline == [], f"{name}: inline script {inline}"
        assert not re.search(r"\son[a-z]+\s*=", html), f"{name}: an on* handler attribute"


def _directives(response) -> dict[str, str]:
    policy = response["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in policy.split(";") if " " in part.strip())


@pytest.mark.django_db
def test_redocs_allowances_stay_on_its_page(mary_client):
    """/api/redoc/ may run a blob: worker and nonce'd <style> elements; scripts stay as strict, and
    the API's other docs page and the app's pages get none of it."""
    redoc = mary_client.get(reverse("api:redoc"))
    directives = _directives(redoc)
    nonce = directives["script-src"].split("'nonce-")[1].split("'")[0]

    assert redoc.status_code == 200
    assert directives["worker-src"] == "blob:"
    assert f"'nonce-{nonce}'" in directives["style-src-elem"]
    assert "'unsafe-inline'" not in directives["style-src-elem"] + directives["script-src"]
    assert f'nonce="{nonce}"' in redoc.content.decode(), "the nonce reaches Redoc through its start-up script"
    assert "fonts.googleapis.com" not in redoc.content.decode()
    for other in (mary_client.get(reverse("api:docs")), mary_client.get(reverse("dashboard"))):
        assert "worker-src" not in _directives(other)
        assert "blob:" not in other["Content-Security-Policy"]


@pytest.mark.django_db
def test_the_dev_mailbox_html_view_keeps_its_own_stricter_policy(mary_client, mary):
    from aftersales.mail.models import MailboxMessage

    mary.is_staff = True
    mary.save()
    mail = MailboxMessage.objects.create(
        from_email="a@example.com", to="b@example.com", subject="Hi", body_html="<p>Hi</p>"
    )

    response = mary_client.get(reverse("mailbox:html", args=[mail.pk]))

    assert response.status_code == 200
    assert (
        "script-src 'none'" in response["Content-Security-Policy"]
        or "default-src 'none'" in response["Content-Security-Policy"]
    )


@pytest.mark.django_db
def test_a_care_plan_link_hammered_from_one_ip_gets_429s(client, settings):
    settings.AFTERSALES = {**settings.AFTERSALES, "PUBLIC_RATE_LIMIT_PER_MINUTE": 3}
    url = reverse("careplan", args=[careplan_token(CustomerFactory())])

    codes = [client.get(url).status_code for _ in range(5)]

    assert codes == [200, 200, 200, 429, 429]
    assert "Too many requests" in client.get(url).content.decode()


@pytest.mark.django_db
def test_the_api_token_endpoint_is_throttled_per_client(client, monkeypatch):
    """DRF throttling (counted in the shared cache): repeated anonymous token requests get 429."""
    monkeypatch.setattr(AnonRateThrottle, "rate", "3/minute", raising=False)
    url = reverse("api:token")

    codes = [client.post(url, {"username": "x", "password": "y"}).status_code for _ in range(5)]

    assert codes == [400, 400, 400, 429, 429]


@pytest.mark.django_db
def test_the_api_is_throttled_per_user(alice_client, monkeypatch):
    from rest_framework.throttling import UserRateThrottle

    monkeypatch.setattr(UserRateThrottle, "rate", "2/minute", raising=False)
    url = reverse("api:customer-list")

    codes = [alice_client.get(url).status_code for _ in range(3)]

    assert codes == [200, 200, 429]


@pytest.mark.django_db
def test_a_forged_x_forwarded_for_does_not_escape_the_api_throttle(client, monkeypatch):
    """Without trusted proxies the socket address counts, whatever X-Forwarded-For claims."""
    monkeypatch.setattr(AnonRateThrottle, "rate", "2/minute", raising=False)
    url = reverse("api:token")

    codes = [
        client.post(url, {"username": "x", "password": "y"}, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code
        for n in range(3)
    ]

    assert codes == [400, 400, 429]
