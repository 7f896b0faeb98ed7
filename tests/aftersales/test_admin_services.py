"""The admin goes through the services: state fields are read-only, changes are actions that call the
services (and so write the audit), and a refused webhook URL is a form error, not a 500.

A change form is posted back the way the page shows it (``_form_data``), with a state field forced to
another value: the save must go through and leave that field as it was.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.forms import MultiWidget
from django.urls import reverse

from aftersales.audit.models import AuditAction, AuditEvent
from aftersales.webhooks.models import Webhook, WebhookDelivery, WebhookEvent
from customers.models import Customer, RiskFlag
from tests.factories import CustomerFactory, OutboxEmailFactory, RiskFlagFactory, TouchPointFactory
from touchpoints.models import Status, TouchPoint

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # a Monday


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def _url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _fields(form, data: dict) -> None:
    for bound in form:
        widget, value = bound.field.widget, bound.value()
        if isinstance(widget, MultiWidget):
            parts = value if isinstance(value, list) else widget.decompress(value)
            for index, (sub, part) in enumerate(zip(widget.widgets, parts, strict=True)):
                data[f"{bound.html_name}_{index}"] = sub.format_value(part) or ""
        elif isinstance(value, bool):
            if value:
                data[bound.html_name] = "on"
        elif isinstance(value, list | tuple):
            data[bound.html_name] = [str(item) for item in value]
        elif value is not None:
            data[bound.html_name] = widget.format_value(value) or ""


def _form_data(response) -> dict:
    """The POST the change page would send as it is shown: its form, inline forms and management forms."""
    data: dict = {}
    _fields(response.context["adminform"].form, data)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        _fields(formset.management_form, data)
        for form in formset.forms:
            _fields(form, data)
    return data


def _post_change(client, obj, **forced):
    url = _url(type(obj), "change", obj.pk)
    page = client.get(url)
    assert page.status_code == 200
    return client.post(url, {**_form_data(page), **forced})


def _assert_saved(response) -> None:
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response


# --- State fields are read-only ---------------------------------------------------------------


def test_a_touch_point_status_outcome_and_due_date_cannot_be_changed_in_the_form(admin_client):
    checkup = TouchPointFactory(due_at=NOW + dt.timedelta(days=2), objective="Check the boiler")

    response = _post_change(
        admin_client,
        checkup,
        status=Status.DONE,
        completed_at_0="2026-03-02",
        completed_at_1="10:00:00",
        outcome="reached",
        temperature="5",
        notes="Logged by hand",
        cancel_reason="x",
        due_at_0="2026-04-01",
        due_at_1="10:00:00",
        objective="Check the boiler pressure",
    )

    _assert_saved(response)
    checkup.refresh_from_db()
    assert (checkup.status, checkup.completed_at, checkup.outcome, checkup.temperature) == (
        Status.SCHEDULED,
        None,
        "",
        None,
    )
    assert (checkup.notes, checkup.cancel_reason, checkup.due_at) == ("", "", NOW + dt.timedelta(days=2))
    assert checkup.objective == "Check the boiler pressure", "what is not a state field stays editable"
    assert not AuditEvent.objects.exists()


def test_a_customer_owner_and_consent_cannot_be_changed_in_the_form(admin_client, alice, bob):
    customer = CustomerFactory(owner=alice, name="Nadia Ortega")
    flag = RiskFlagFactory(customer=customer, detail="Quiet since January")

    response = _post_change(
        admin_client,
        customer,
        owner=bob.pk,
        email_opt_out="on",
        name="Nadia Ortega Ruiz",
        **{"flags-0-resolved_at": "2026-03-01 10:00:00", "flags-0-resolution": "by hand", "flags-0-id": flag.pk},
    )

    _assert_saved(response)
    customer.refresh_from_db()
    assert (customer.owner, customer.email_opt_out, customer.name) == (alice, False, "Nadia Ortega Ruiz")
    flag.refresh_from_db()
    assert flag.is_open and flag.resolution == ""


def test_the_flags_shown_on_a_customer_cannot_be_added_there(admin_client, alice):
    customer = CustomerFactory(owner=alice)
    page = admin_client.get(_url(Customer, "change", customer.pk))
    data = {**_form_data(page), "flags-TOTAL_FORMS": "1", "flags-0-reason": "detractor", "flags-0-detail": "x"}

    admin_client.post(_url(Customer, "change", customer.pk), data)

    assert not RiskFlag.objects.exists()


def test_a_risk_flag_resolution_cannot_be_written_in_the_form(admin_client, alice):
    flag = RiskFlagFactory(customer=CustomerFactory(owner=alice), detail="Quiet", raised_at=NOW - dt.timedelta(days=1))

    response = _post_change(
        admin_client,
        flag,
        resolved_at_0="2026-03-02",
        resolved_at_1="08:00:00",
        resolved_by=alice.pk,
        resolution="Resolved by hand",
        snoozed_until_0="2026-03-20",
        snoozed_until_1="08:00:00",
        reason="detractor",
        detail="Quiet since January",
    )

    _assert_saved(response)
    flag.refresh_from_db()
    assert (flag.resolved_at, flag.resolved_by, flag.resolution, flag.snoozed_until) == (None, None, "", None)
    assert (flag.reason, flag.detail) == ("gone_quiet", "Quiet since January")


@pytest.mark.parametrize("state", ["sent", "failed"])
def test_a_sent_or_failed_email_is_a_record_nothing_in_it_changes(admin_client, state):
    done = {"sent": {"sent_at": NOW}, "failed": {"failed_at": NOW, "last_error": "550 no such user"}}[state]
    email = OutboxEmailFactory(to="ana@example.com", subject="Your care plan", attempts=1, **done)

    response = _post_change(
        admin_client, email, to="someone@example.com", subject="Changed", sent_at_0="", failed_at_0="", attempts="0"
    )

    _assert_saved(response)
    email.refresh_from_db()
    assert (email.to, email.subject, email.attempts, email.status) == ("ana@example.com", "Your care plan", 1, state)


def test_a_pending_email_address_can_be_fixed_but_not_its_delivery(admin_client):
    email = OutboxEmailFactory(to="ana@exmaple.com", attempts=2, last_error="Host not found")

    response = _post_change(
        admin_client, email, to="ana@example.com", sent_at_0="2026-03-02", sent_at_1="08:00:00", attempts="0"
    )

    _assert_saved(response)
    email.refresh_from_db()
    assert (email.to, email.sent_at, email.attempts, email.last_error) == ("ana@example.com", None, 2, "Host not found")


def test_a_webhook_delivery_state_cannot_be_changed(admin_client):
    hook = Webhook.objects.create(url="https://erp.example.com/h", events=[WebhookEvent.CUSTOMER_FLAGGED])
    delivery = WebhookDelivery.objects.create(webhook=hook, event=WebhookEvent.CUSTOMER_FLAGGED, payload={}, attempts=3)

    response = _post_change(
        admin_client, delivery, delivered_at_0="2026-03-02", delivered_at_1="08:00:00", attempts="0", last_status="200"
    )

    _assert_saved(response)
    delivery.refresh_from_db()
    assert (delivery.delivered_at, delivery.attempts, delivery.last_status, delivery.status) == (
        None,
        3,
        None,
        "pending",
    )


# --- Actions call the services ----------------------------------------------------------------


def _action(client, model, action: str, objects, **fields):
    data = {"action": action, ACTION_CHECKBOX_NAME: [obj.pk for obj in objects], **fields}
    return client.post(_url(model, "changelist"), data, follow=bool(fields.get("apply")))


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_cancel_asks_for_a_reason_then_cancels_through_the_service(admin_client, admin_user, alice):
    checkups = [TouchPointFactory(customer=CustomerFactory(owner=alice)) for _ in range(2)]

    asked = _action(admin_client, TouchPoint, "cancel", checkups)
    assert asked.status_code == 200 and "reason" in asked.context["form"].fields
    assert TouchPoint.objects.filter(status=Status.SCHEDULED).count() == 2

    missing = _action(admin_client, TouchPoint, "cancel", checkups, apply="1", reason="")
    assert "reason" in missing.context["form"].errors
    assert TouchPoint.objects.filter(status=Status.SCHEDULED).count() == 2

    done = _action(admin_client, TouchPoint, "cancel", checkups, apply="1", reason="Customer sold the boiler")
    assert _messages(done) == ["2 check-ups cancelled."]
    assert set(TouchPoint.objects.values_list("status", "cancel_reason")) == {
        (Status.CANCELLED, "Customer sold the boiler")
    }
    assert sorted(
        AuditEvent.objects.filter(action=AuditAction.CANCELLED).values_list("object_id", "actor", "customer")
    ) == sorted((c.pk, admin_user.pk, c.customer_id) for c in checkups)


def test_cancel_reports_what_the_service_refused(admin_client):
    done = TouchPointFactory(status=Status.DONE, completed_at=NOW, outcome="reached")
    open_one = TouchPointFactory()

    response = _action(admin_client, TouchPoint, "cancel", [done, open_one], apply="1", reason="Duplicate")

    first, refused = _messages(response)
    assert first == "1 check-up cancelled."
    assert "1 not changed:" in refused and "already logged" in refused
    assert TouchPoint.objects.get(pk=done.pk).status == Status.DONE
    assert AuditEvent.objects.filter(action=AuditAction.CANCELLED).count() == 1


def test_reschedule_moves_the_check_up_and_audits_it(admin_client, admin_user):
    checkup = TouchPointFactory(customer=CustomerFactory(timezone="Europe/Madrid"), due_at=NOW)

    response = _action(
        admin_client, TouchPoint, "reschedule", [checkup], apply="1", due_date="2026-03-09", reason="On holiday"
    )

    assert _messages(response) == ["1 check-up moved."]
    checkup.refresh_from_db()
    assert checkup.due_at == dt.datetime(2026, 3, 9, 9, 0, tzinfo=dt.UTC)  # 10:00 in Madrid
    assert "On holiday" in checkup.notes
    event = AuditEvent.objects.get(action=AuditAction.RESCHEDULED)
    assert (event.object_id, event.actor) == (checkup.pk, admin_user)


def test_reassign_picks_a_rep_then_hands_over_customers_and_their_check_ups(admin_client, admin_user, alice, bob):
    customers = [CustomerFactory(owner=alice) for _ in range(2)]
    scheduled = TouchPointFactory(customer=customers[0])
    history = TouchPointFactory(customer=customers[0], status=Status.DONE, completed_at=NOW, outcome="reached")

    asked = _action(admin_client, Customer, "reassign", customers)
    assert asked.status_code == 200
    assert {alice.pk, bob.pk} <= {user.pk for user in asked.context["form"].fields["to_rep"].queryset}

    response = _action(admin_client, Customer, "reassign", customers, apply="1", to_rep=bob.pk)

    assert _messages(response) == ["2 customers reassigned to Bob Baker."]
    assert set(Customer.objects.values_list("owner", flat=True)) == {bob.pk}
    assert TouchPoint.objects.get(pk=scheduled.pk).assignee == bob
    assert TouchPoint.objects.get(pk=history.pk).assignee == alice
    events = AuditEvent.objects.filter(object_type="customers.customer", action=AuditAction.CHANGED)
    assert sorted(events.values_list("object_id", "actor", "changes")) == sorted(
        (c.pk, admin_user.pk, {"owner_id": [alice.pk, bob.pk]}) for c in customers
    )


def test_reassign_across_a_filtered_selection_keeps_the_filter(admin_client, alice, bob, mary):
    """ "Select all" on a filtered list hands over that list, not every customer."""
    alices = [CustomerFactory(owner=alice) for _ in range(3)]
    marys = CustomerFactory(owner=mary)
    url = _url(Customer, "changelist") + f"?owner__id__exact={alice.pk}"
    data = {"action": "reassign", ACTION_CHECKBOX_NAME: [alices[0].pk], "select_across": "1"}

    asked = admin_client.post(url, data)
    assert asked.context["select_across"] == "1"
    admin_client.post(url, {**data, "apply": "1", "to_rep": bob.pk})

    assert set(Customer.objects.filter(pk__in=[c.pk for c in alices]).values_list("owner", flat=True)) == {bob.pk}
    assert Customer.objects.get(pk=marys.pk).owner == mary


def test_resolve_asks_for_a_resolution_then_resolves_through_the_service(admin_client, admin_user, alice):
    customer = CustomerFactory(owner=alice, health_due_at=None)
    flags = [RiskFlagFactory(customer=customer, reason=reason) for reason in ("gone_quiet", "detractor")]
    resolved = RiskFlagFactory(customer=customer, reason="low_csat", resolved_at=NOW, resolution="Earlier")

    asked = _action(admin_client, RiskFlag, "resolve", flags)
    assert asked.status_code == 200 and "resolution" in asked.context["form"].fields

    response = _action(admin_client, RiskFlag, "resolve", [*flags, resolved], apply="1", resolution="Called back")

    done, refused = _messages(response)
    assert done == "2 flags resolved."
    assert "already resolved" in refused
    assert set(RiskFlag.objects.filter(pk__in=[f.pk for f in flags]).values_list("resolution", "resolved_by")) == {
        ("Called back", admin_user.pk)
    }
    assert RiskFlag.objects.get(pk=resolved.pk).resolution == "Earlier"
    assert sorted(AuditEvent.objects.filter(action=AuditAction.RESOLVED).values_list("object_id", flat=True)) == sorted(
        f.pk for f in flags
    )
    assert Customer.objects.get(pk=customer.pk).health_due_at == NOW


def test_staff_who_are_not_managers_cannot_reassign(client, alice, bob):
    """The service decides: a staff account without the manager role is refused, with a message."""
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    staff = UserFactory(username="support", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename__in=["view_customer", "change_customer"]))
    client.force_login(staff)
    customer = CustomerFactory(owner=alice)

    response = _action(client, Customer, "reassign", [customer], apply="1", to_rep=bob.pk)

    assert _messages(response) == ["Only managers reassign customers."]
    assert Customer.objects.get(pk=customer.pk).owner == alice
    assert not AuditEvent.objects.exists()


# --- Webhook URLs are checked in the form -----------------------------------------------------


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/hook", "http://10.0.0.5/hook", "http://localhost/hook"])
def test_a_private_webhook_url_is_a_form_error_not_a_500(admin_client, settings, url):
    settings.AFTERSALES = {**settings.AFTERSALES, "WEBHOOKS_ALLOW_PRIVATE": False}

    response = admin_client.post(_url(Webhook, "add"), {"url": url, "events": ["customer.flagged"], "active": "on"})

    assert response.status_code == 200
    assert "private or loopback" in response.context["adminform"].form.errors["url"][0]
    assert not Webhook.objects.exists()


def test_changing_a_webhook_to_a_private_url_is_refused_too(admin_client, settings):
    hook = Webhook.objects.create(url="https://erp.example.com/hooks", events=["customer.flagged"])
    settings.AFTERSALES = {**settings.AFTERSALES, "WEBHOOKS_ALLOW_PRIVATE": False}

    response = _post_change(admin_client, hook, url="http://169.254.169.254/latest/meta-data/")

    assert response.status_code == 200
    assert "private or loopback" in response.context["adminform"].form.errors["url"][0]
    hook.refresh_from_db()
    assert hook.url == "https://erp.example.com/hooks"


def test_a_webhook_with_an_unknown_event_is_a_form_error(admin_client, settings):
    settings.AFTERSALES = {**settings.AFTERSALES, "WEBHOOKS_ALLOW_PRIVATE": True}

    response = admin_client.post(_url(Webhook, "add"), {"url": "http://127.0.0.1:9/h", "events": ["customer.gone"]})

    assert response.status_code == 200
    assert "events" in response.context["adminform"].form.errors
    assert not Webhook.objects.exists()


def test_an_allowed_webhook_is_registered_with_who_added_it(admin_client, admin_user, settings):
    settings.AFTERSALES = {**settings.AFTERSALES, "WEBHOOKS_ALLOW_PRIVATE": True}

    response = admin_client.post(
        _url(Webhook, "add"),
        {"url": "http://127.0.0.1:9/h", "events": ["purchase.recorded", "customer.flagged"], "active": "on"},
    )

    assert response.status_code == 302
    hook = Webhook.objects.get()
    assert (hook.url, hook.events, hook.created_by) == (
        "http://127.0.0.1:9/h",
        ["customer.flagged", "purchase.recorded"],
        admin_user,
    )
    assert hook.secret.startswith("whsec_")
