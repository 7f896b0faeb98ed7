"""CSRF on every POST, no writes on any GET, and no off-site redirects through ``next=``.

The URL patterns are walked from the root URLconf (tests/aftersales/test_access.py's walker and
its map of kwargs to objects), so a new page is covered as soon as it is routed.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from feedback.models import hash_token, new_token
from feedback.services.unsubscribe import unsubscribe_token
from tests.aftersales.test_access import PUBLIC, ROUTES, Route, _url, world  # noqa: F401 — world is a fixture
from tests.conftest import PASSWORD
from tests.factories import CustomerFactory, SurveyInvitationFactory, TouchPointFactory
from touchpoints.careplan import careplan_token

# The one POST that must work without a CSRF token: RFC 8058 one-click unsubscribe, posted by
# the mail client itself with no cookie. The signed token is the authorisation (feedback/views.py).
CSRF_EXEMPT = {"feedback:unsubscribe"}


def _public_tokens() -> dict[str, dict[str, str]]:
    """Real tokens for the public pages, so a GET reaches the view's own code, not only its 404."""
    customer = CustomerFactory()
    token = new_token()
    SurveyInvitationFactory(customer=customer, token_hash=hash_token(token))
    return {
        "careplan": {"token": careplan_token(customer)},
        "feedback:survey": {"token": token},
        "feedback:thanks": {"token": token},
        "feedback:unsubscribe": {"token": unsubscribe_token(customer)},
        "password_reset_confirm": {"uidb64": "MQ", "token": "set-password"},
    }


def _route_url(route: Route, world, tokens) -> str:  # noqa: F811 — world is the fixture's value
    if route.name in PUBLIC:
        return reverse(route.name, kwargs=tokens[route.name])
    return _url(route, world)


# The documented exception: opening the survey page records when the invitation was first
# opened (response-rate reporting). Nothing else a GET does may change a row.
ALLOWED_GET_WRITES = {"feedback.SurveyInvitation": {"opened_at"}}


def _tables() -> dict[str, list[dict]]:
    """Every row of every table the app and its security add-ons own (minus the allowed columns)."""
    labels = ("customers", "touchpoints", "feedback", "aftersales", "axes", "authtoken", "sessions")
    models = [model for label in labels for model in apps.get_app_config(label).get_models()]
    tables = {}
    for model in [*models, get_user_model()]:
        skip = ALLOWED_GET_WRITES.get(model._meta.label, set())
        rows = model.objects.order_by("pk").values()
        tables[model._meta.label] = [{k: v for k, v in row.items() if k not in skip} for row in rows]
    return tables


@pytest.mark.django_db
def test_every_post_view_refuses_a_request_without_csrf_token(world, mary):  # noqa: F811
    client = Client(enforce_csrf_checks=True)
    client.force_login(mary)
    tokens = _public_tokens()
    accepted = {}

    for route in ROUTES:
        response = client.post(_route_url(route, world, tokens), {"notes": "forged"})
        if response.status_code != 403:
            accepted[route.name] = response.status_code

    assert set(accepted) == CSRF_EXEMPT, f"POST without CSRF token was not refused: {accepted}"


@pytest.mark.django_db
def test_the_admin_and_a_session_authenticated_api_post_need_the_csrf_token_too(mary):
    client = Client(enforce_csrf_checks=True)
    client.force_login(mary)

    admin = client.post(reverse("admin:customers_customer_add"), {"name": "forged"})
    api = client.post(reverse("api:customer-list"), {"name": "forged"}, content_type="application/json")

    assert admin.status_code == 403
    assert api.status_code == 403 and "CSRF" in api.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["owner rep", "manager"])
def test_no_get_view_writes_to_the_database(world, bob, mary, who):  # noqa: F811
    client = Client()
    client.force_login(bob if who == "owner rep" else mary)
    tokens = _public_tokens()
    urls = [_route_url(route, world, tokens) for route in ROUTES]
    before = _tables()

    for url in urls:
        response = client.get(url)
        assert response.status_code < 500, url
        changed = [label for label, rows in _tables().items() if rows != before[label]]
        assert changed == [], f"GET {url} wrote to {changed}"


OFF_SITE = ["https://evil.example/", "//evil.example/", "https:evil.example", "\\\\evil.example", "/\\evil.example"]


@pytest.mark.django_db
@pytest.mark.parametrize("target", OFF_SITE)
def test_login_next_cannot_redirect_off_site(client, alice, target):
    alice.set_password(PASSWORD)
    alice.save()

    response = client.post(
        reverse("login") + f"?next={target}", {"username": "alice", "password": PASSWORD, "next": target}
    )

    assert response.status_code == 302
    assert "evil.example" not in response["Location"]


@pytest.mark.django_db
@pytest.mark.parametrize("target", OFF_SITE)
def test_touchpoint_forms_next_cannot_redirect_off_site(alice_client, alice, target):
    touchpoint = TouchPointFactory(customer__owner=alice, assignee=alice)
    prefix = f"tp{touchpoint.pk}-"
    data = {f"{prefix}outcome": "reached", f"{prefix}temperature": "4", f"{prefix}notes": "fine", "next": target}

    logged = alice_client.post(reverse("touchpoint_log", args=[touchpoint.pk]) + f"?next={target}", data)
    touchpoint.refresh_from_db()

    assert touchpoint.status == "done", "the form was valid: the test exercises the redirect"
    assert logged.status_code == 302
    assert "evil.example" not in logged["Location"]
