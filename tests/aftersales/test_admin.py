"""The Django admin: every registered model's pages open for a superuser,
search narrows the list, and changelists do not grow queries with rows.

The cases iterate over ``admin.site._registry`` so a model registered later
without an object builder here fails loudly instead of going untested.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import TokenProxy

from aftersales.api.models import IdempotentRequest
from aftersales.audit.models import AuditEvent
from aftersales.dashboard.models import DailyRollup
from aftersales.imports.models import ImportJob
from aftersales.mail.models import EmailSuppression, MailboxMessage, OutboxEmail
from aftersales.webhooks.models import Webhook, WebhookDelivery
from customers.models import Customer, HealthSnapshot, HealthWeights, Product, Purchase
from feedback.models import EmailConsentEvent
from tests.factories import (
    CheckupPlanFactory,
    CustomerFactory,
    OutboxEmailFactory,
    PlanStepFactory,
    ProductFactory,
    PurchaseFactory,
    RepFactory,
    RiskFlagFactory,
    SurveyFactory,
    SurveyInvitationFactory,
    SurveyResponseFactory,
    TouchPointFactory,
)

pytestmark = pytest.mark.django_db


PROJECT_APPS = ["aftersales", "customers", "touchpoints", "feedback", "dashboard"]

# Rows that services write (and, for invitations, that need a token mailed
# once): the admin shows them but offers no "Add" button.
NOT_ADDABLE = {
    "dashboard.DailyRollup",
    "customers.HealthWeights",
    "customers.HealthSnapshot",
    "aftersales.OutboxEmail",
    "aftersales.WebhookDelivery",
    "aftersales.ImportJob",
    "aftersales.IdempotentRequest",
    "aftersales.AuditEvent",
    "aftersales.EmailSuppression",
    "aftersales.MailboxMessage",
    "feedback.SurveyInvitation",
    "feedback.SurveyResponse",
    "feedback.EmailConsentEvent",
    "axes.AccessAttempt",
    "axes.AccessLog",
    "axes.AccessFailureLog",
}


def _axes_row(model_name: str, **fields):
    """A django-axes row for a login of 'locked-user' from 10.0.0.7."""
    model = apps.get_model("axes", model_name)
    return model.objects.create(
        username="locked-user", ip_address="10.0.0.7", user_agent="Firefox", path_info="/accounts/login/", **fields
    )


def _touchpoint():
    purchase = PurchaseFactory(external_ref=None)
    return TouchPointFactory(
        customer=purchase.customer,
        purchase=purchase,
        plan_step=PlanStepFactory(),
        objective="Check the boiler pressure",
        temperature=4,
    )


def _mailbox_message():
    return MailboxMessage.objects.create(
        from_email="aftersales@localhost",
        to="ana@example.com",
        subject="Your care plan",
        body_text="Hello",
        raw="Subject: Your care plan\n\nHello",
    )


# One object per registered model, with searchable text in its first search field.
BUILDERS: dict[str, Callable[[object], object]] = {
    "auth.User": lambda admin_user: admin_user,
    "auth.Group": lambda admin_user: Group.objects.get(name="Managers"),
    "customers.Product": lambda _: ProductFactory(default_plan=CheckupPlanFactory()),
    "customers.Customer": lambda _: CustomerFactory(health_score=42),
    "customers.Purchase": lambda _: PurchaseFactory(delivered_at=timezone.localdate()),
    "customers.RiskFlag": lambda _: RiskFlagFactory(detail="No answer to three calls"),
    "customers.HealthWeights": lambda admin_user: HealthWeights.objects.create(updated_by=admin_user),
    "customers.HealthSnapshot": lambda _: HealthSnapshot.objects.create(
        customer=CustomerFactory(), score=42, taken_on=timezone.localdate()
    ),
    "touchpoints.CheckupPlan": lambda _: PlanStepFactory().plan,
    "touchpoints.TouchPoint": lambda _: _touchpoint(),
    "feedback.Survey": lambda _: SurveyFactory(product=ProductFactory()),
    "feedback.SurveyInvitation": lambda _: SurveyInvitationFactory(sent_at=timezone.now()),
    "feedback.SurveyResponse": lambda _: SurveyResponseFactory(nps=3, comment="Too noisy"),
    "feedback.EmailConsentEvent": lambda _: EmailConsentEvent.objects.create(
        customer=CustomerFactory(), action="opted_out"
    ),
    "aftersales.OutboxEmail": lambda _: OutboxEmailFactory(
        customer=CustomerFactory(), failed_at=timezone.now(), attempts=8, last_error="550 mailbox unavailable"
    ),
    "aftersales.MailboxMessage": lambda _: _mailbox_message(),
    "aftersales.Webhook": lambda _: Webhook.objects.create(url="https://erp.example.com/hooks", events=["x"]),
    "aftersales.WebhookDelivery": lambda _: WebhookDelivery.objects.create(
        webhook=Webhook.objects.create(url="https://erp.example.com/h", events=["customer.flagged"]),
        event="customer.flagged",
        payload={"customer": {"id": 1}},
    ),
    "aftersales.ImportJob": lambda admin_user: ImportJob.objects.create(
        created_by=admin_user, filename="sales-2026.csv", path="/tmp/x.csv"
    ),
    "aftersales.IdempotentRequest": lambda admin_user: IdempotentRequest.objects.create(
        user=admin_user, key=f"key-{IdempotentRequest.objects.count()}", fingerprint="f", status_code=201, body={}
    ),
    "aftersales.AuditEvent": lambda admin_user: AuditEvent.objects.create(
        actor=admin_user, action="changed", object_type="customers.customer", object_id=1, customer=CustomerFactory()
    ),
    "aftersales.EmailSuppression": lambda _: EmailSuppression.objects.create(
        email_hash=f"{EmailSuppression.objects.count():064x}", reason="Customer #1 erased"
    ),
    # django-axes' admin: locked-out logins (a manager unlocks by deleting the attempt) and login logs.
    "axes.AccessAttempt": lambda _: _axes_row("AccessAttempt", failures_since_start=10, get_data="", post_data=""),
    "axes.AccessLog": lambda _: _axes_row("AccessLog"),
    "axes.AccessFailureLog": lambda _: _axes_row("AccessFailureLog", locked_out=True),
    # DRF's own admin for API tokens (rest_framework.authtoken).
    "authtoken.TokenProxy": lambda _: TokenProxy.objects.create(user=RepFactory()),
    # Written by the dashboard_refresh job (aftersales/dashboard/rollups.py).
    "dashboard.DailyRollup": lambda _: DailyRollup.objects.create(
        day=dt.date(2026, 3, 1) + dt.timedelta(days=DailyRollup.objects.count()), at_risk=7, computed_at=timezone.now()
    ),
}

REGISTERED = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
CASES = [pytest.param(model, model_admin, id=model._meta.label) for model, model_admin in REGISTERED]


def _url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _build(model, admin_user):
    label = model._meta.label
    assert label in BUILDERS, (
        f"{label} is registered in the admin: add an object builder to tests/aftersales/test_admin.py"
    )
    return BUILDERS[label](admin_user)


def _value_at(obj, path: str) -> str:
    for part in path.split("__"):
        obj = getattr(obj, part)
    return str(obj)


def test_every_project_model_has_an_admin_page_or_inline():
    covered = set(admin.site._registry)
    for model_admin in admin.site._registry.values():
        covered.update(inline.model for inline in model_admin.inlines)
    missing = [
        model._meta.label
        for app_label in PROJECT_APPS
        for model in apps.get_app_config(app_label).get_models()
        if model not in covered
    ]
    assert missing == []


@pytest.mark.parametrize(("model", "model_admin"), CASES)
def test_changelist_lists_the_object(admin_client, admin_user, model, model_admin):
    obj = _build(model, admin_user)
    response = admin_client.get(_url(model, "changelist"))
    assert response.status_code == 200
    assert obj.pk in [row.pk for row in response.context["cl"].result_list]


@pytest.mark.parametrize(("model", "model_admin"), CASES)
def test_add_page(admin_client, model, model_admin):
    response = admin_client.get(_url(model, "add"))
    assert response.status_code == (403 if model._meta.label in NOT_ADDABLE else 200)


@pytest.mark.parametrize(("model", "model_admin"), CASES)
def test_change_page(admin_client, admin_user, model, model_admin):
    obj = _build(model, admin_user)
    response = admin_client.get(_url(model, "change", obj.pk))
    assert response.status_code == 200
    assert response.context["original"].pk == obj.pk


@pytest.mark.parametrize(("model", "model_admin"), CASES)
def test_search_finds_the_object_and_nothing_for_nonsense(admin_client, admin_user, model, model_admin):
    assert model_admin.search_fields, f"{model._meta.label} admin has no search"
    obj = _build(model, admin_user)
    term = _value_at(obj, model_admin.search_fields[0].lstrip("=^@"))
    found = admin_client.get(_url(model, "changelist"), {"q": term})
    assert obj.pk in [row.pk for row in found.context["cl"].result_list]
    nothing = admin_client.get(_url(model, "changelist"), {"q": "zz-no-such-thing-zz"})
    assert nothing.status_code == 200
    assert list(nothing.context["cl"].result_list) == []


def test_customer_search_by_email_finds_only_that_customer(admin_client):
    ana = CustomerFactory(name="Ana Ruiz", email="ana@ruiz.example")
    CustomerFactory(name="Boris Petrov", email="boris@petrov.example")
    response = admin_client.get(_url(ana, "changelist"), {"q": "ana@ruiz.example"})
    assert [c.pk for c in response.context["cl"].result_list] == [ana.pk]


def test_touchpoint_search_by_customer_company(admin_client):
    wanted = TouchPointFactory(customer=CustomerFactory(company="Calderas Norte SL"))
    TouchPointFactory(customer=CustomerFactory(company="Other Heating Ltd"))
    response = admin_client.get(_url(wanted, "changelist"), {"q": "Calderas"})
    assert [t.pk for t in response.context["cl"].result_list] == [wanted.pk]


def test_customer_filters_by_health_band_and_quiet(admin_client):
    red = CustomerFactory(health_score=50, quiet_after=timezone.now() - dt.timedelta(days=1))
    yellow = CustomerFactory(health_score=51, quiet_after=timezone.now() + dt.timedelta(days=10))
    CustomerFactory(health_score=None)
    url = _url(red, "changelist")
    assert [c.pk for c in admin_client.get(url, {"band": "red"}).context["cl"].result_list] == [red.pk]
    assert [c.pk for c in admin_client.get(url, {"band": "yellow"}).context["cl"].result_list] == [yellow.pk]
    assert [c.pk for c in admin_client.get(url, {"quiet": "yes"}).context["cl"].result_list] == [red.pk]


def test_outbox_failed_filter_shows_only_failed_mail(admin_client):
    failed = OutboxEmailFactory(failed_at=timezone.now(), last_error="550 no such user")
    OutboxEmailFactory(sent_at=timezone.now())
    OutboxEmailFactory()
    response = admin_client.get(_url(OutboxEmail, "changelist"), {"delivery": "failed"})
    assert [e.pk for e in response.context["cl"].result_list] == [failed.pk]
    assert "550 no such user" in response.content.decode()


def test_invitation_page_shows_the_token_hash_only_read_only(admin_client):
    invitation = SurveyInvitationFactory()
    response = admin_client.get(_url(invitation, "change", invitation.pk))
    assert invitation.token_hash in response.content.decode()
    assert "token_hash" not in response.context["adminform"].form.fields


def _changelist_queries(client, model) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(_url(model, "changelist"))
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    ("model", "model_admin"), [case for case in CASES if case.values[0]._meta.app_label in PROJECT_APPS]
)
def test_changelist_queries_do_not_grow_with_rows(admin_client, admin_user, model, model_admin):
    for _ in range(3):
        _build(model, admin_user)
    with_3 = _changelist_queries(admin_client, model)
    for _ in range(27):
        _build(model, admin_user)
    assert model.objects.count() == 30
    assert _changelist_queries(admin_client, model) == with_3


def test_support_can_add_a_customer_with_a_purchase(admin_client, alice):
    product = ProductFactory()
    inline = {
        "purchases-TOTAL_FORMS": "1",
        "purchases-INITIAL_FORMS": "0",
        "purchases-0-product": product.pk,
        "purchases-0-ordered_at": "2025-01-15",
        "purchases-0-amount": "1200.00",
        "purchases-0-currency": "EUR",
        "flags-TOTAL_FORMS": "0",
        "flags-INITIAL_FORMS": "0",
    }
    response = admin_client.post(
        _url(Customer, "add"),
        {"name": "Ana Ruiz", "owner": alice.pk, "language": "es", "timezone": "Europe/Madrid", **inline},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    customer = Customer.objects.get(name="Ana Ruiz")
    assert customer.owner == alice
    assert [p.product for p in customer.purchases.all()] == [product]


def test_customer_picker_is_an_autocomplete_that_searches(admin_client):
    """Forms pointing at a customer ask the server for matches instead of listing every customer."""
    ana = CustomerFactory(name="Ana Ruiz")
    CustomerFactory(name="Boris Petrov")
    response = admin_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "customers", "model_name": "purchase", "field_name": "customer", "term": "ruiz"},
    )
    assert [row["id"] for row in response.json()["results"]] == [str(ana.pk)]


def test_survey_answers_cannot_be_edited(admin_client):
    answer = SurveyResponseFactory(nps=2)
    response = admin_client.post(_url(answer, "change", answer.pk), {"nps": "10"})
    assert response.status_code == 403
    answer.refresh_from_db()
    assert answer.nps == 2


# --- Hand-made requests: a message, never a 500 (issue 14) --------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "ordered_at__year=9999",  # Django computes the next year: 10000
        "ordered_at__year=9999&ordered_at__month=12",
        "ordered_at__year=9999&ordered_at__month=12&ordered_at__day=31",
        "ordered_at__year=1",  # before 2000: outside the input window too
        "ordered_at__year=2026&ordered_at__month=2&ordered_at__day=30",
    ],
)
def test_a_date_drill_down_outside_the_calendar_is_a_bad_lookup(admin_client, query):
    """Django's admin redirects a bad lookup to ``?e=1`` ("the filter is wrong"); these were 500s."""
    response = admin_client.get(f"{_url(Purchase, 'changelist')}?{query}")

    assert response.status_code == 302
    assert response.url.endswith("?e=1")


def test_a_date_drill_down_inside_the_window_still_narrows_the_list(admin_client):
    purchase = PurchaseFactory(ordered_at=dt.date(2025, 5, 6))
    PurchaseFactory(ordered_at=dt.date(2024, 5, 6))

    response = admin_client.get(_url(Purchase, "changelist"), {"ordered_at__year": "2025", "ordered_at__month": "5"})

    assert [row.pk for row in response.context["cl"].result_list] == [purchase.pk]


@pytest.mark.parametrize("selected", ["x", "", "9999-12-31"])
def test_a_bulk_action_on_rows_that_are_no_ids_selects_nothing(admin_client, selected):
    """``filter(pk__in=["x"])`` raised ValueError: a 500 instead of "Items must be selected"."""
    product = ProductFactory()

    response = admin_client.post(
        _url(Product, "changelist"), {"action": "delete_selected", "_selected_action": [selected]}, follow=True
    )

    assert response.status_code == 200
    assert "Items must be selected" in response.content.decode()
    assert Product.objects.filter(pk=product.pk).exists()


@pytest.mark.parametrize(("field", "value"), [("customer", "x"), ("product", "9999-12-31"), ("plan", "")])
def test_an_autocomplete_with_a_value_that_is_no_id_shows_the_form_again(admin_client, field, value):
    """Shown again with its errors, the form looked the bad value up in the database: a ValueError."""
    body = {"customer": "", "product": "", "plan": "", "ordered_at": "2026-03-01", "amount": "0", "currency": "EUR"}

    response = admin_client.post(_url(Purchase, "add"), {**body, field: value})

    assert response.status_code == 200
    assert "customer" in response.context["adminform"].form.errors
    assert not Purchase.objects.exists()


def test_a_date_outside_the_window_is_refused_by_the_admin_too(admin_client):
    """The admin writes purchases without scheduling, but a year 9999 date would break every page showing it."""
    customer, product = CustomerFactory(), ProductFactory()
    body = {
        "customer": customer.pk,
        "product": product.pk,
        "ordered_at": "9999-06-01",
        "amount": "0",
        "currency": "EUR",
    }

    response = admin_client.post(_url(Purchase, "add"), body)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["ordered_at"][0].startswith("Ordered at: use a date from 2000")
    assert not Purchase.objects.exists()


def test_an_inline_date_outside_the_window_is_refused(admin_client, alice):
    product = ProductFactory()
    inline = {
        "purchases-TOTAL_FORMS": "1",
        "purchases-INITIAL_FORMS": "0",
        "purchases-0-product": product.pk,
        "purchases-0-ordered_at": "9999-01-15",
        "purchases-0-amount": "1",
        "purchases-0-currency": "EUR",
        "flags-TOTAL_FORMS": "0",
        "flags-INITIAL_FORMS": "0",
    }

    response = admin_client.post(
        _url(Customer, "add"), {"name": "Ana", "owner": alice.pk, "language": "es", "timezone": "UTC", **inline}
    )

    assert response.status_code == 200
    assert not Customer.objects.exists()
