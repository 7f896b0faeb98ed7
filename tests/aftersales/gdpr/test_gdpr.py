"""GDPR: a manager exports everything held about a customer, or erases them, and the address is never mailed again."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from aftersales.audit.models import AuditAction, AuditEvent
from aftersales.audit.services import audit_record
from aftersales.gdpr.services import customer_erase, customer_export, customer_is_erased, export_csv_zip
from aftersales.mail.models import EmailSuppression, MailboxMessage, OutboxEmail
from aftersales.mail.outbox import SUPPRESSED_ERROR, outbox_enqueue, outbox_sweep
from aftersales.mail.suppression import email_hash, email_suppressed
from aftersales.webhooks.models import Webhook, WebhookDelivery
from customers.models import Customer
from feedback.models import SurveyInvitation, SurveyResponse
from feedback.services.invitations import invitation_send
from feedback.services.unsubscribe import unsubscribe_token
from tests.factories import (
    CheckupPlanFactory,
    CustomerFactory,
    OutboxEmailFactory,
    PlanStepFactory,
    ProductFactory,
    RiskFlagFactory,
    SurveyInvitationFactory,
    SurveyResponseFactory,
    TouchPointFactory,
)
from touchpoints.careplan import careplan_token
from touchpoints.models import Status, TouchPoint
from touchpoints.services import purchase_record

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # a Monday


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture(autouse=True)
def mailbox(settings):
    settings.EMAIL_BACKEND = "aftersales.mail.mailbox.DevMailboxBackend"


@pytest.fixture
def product():
    plan = CheckupPlanFactory(name="Machine plan")
    PlanStepFactory(plan=plan, position=1, offset_days=3, objective="Check the machine works")
    return ProductFactory(name="Espresso machine", default_plan=plan)


@pytest.fixture
def nadia(alice, product):
    """A customer with some of everything: a purchase (care-plan mail queued), notes, an answer, a flag."""
    customer = CustomerFactory(
        owner=alice, name="Nadia Ortega", company="Ortega SL", email="Nadia@Example.com", phone="+34 600 000 000",
        notes="Prefers calls after 5pm", external_ref="shop-77",
    )  # fmt: skip
    purchase_record(customer=customer, product=product, ordered_at=NOW.date(), amount=1200, external_ref="order-1")
    TouchPointFactory(
        customer=customer, status=Status.DONE, completed_at=NOW, notes="Her knee surgery went well", next_step="Call"
    )
    answered = SurveyInvitationFactory(customer=customer, sent_at=NOW - dt.timedelta(days=2), responded_at=NOW)
    SurveyResponseFactory(invitation=answered, nps=3, comment="My husband hates the noise")
    SurveyInvitationFactory(customer=customer, send_at=NOW - dt.timedelta(days=1), sent_at=NOW - dt.timedelta(days=1))
    RiskFlagFactory(customer=customer, reason="detractor", detail="NPS 3: My husband hates the noise")
    return customer


# --- Export -----------------------------------------------------------------------------------


def test_the_export_holds_profile_purchases_touch_points_answers_emails_flags_and_consent(nadia):
    data = customer_export(customer=nadia)

    assert data["profile"]["name"] == "Nadia Ortega" and data["profile"]["email"] == "Nadia@Example.com"
    assert [p["external_ref"] for p in data["purchases"]] == ["order-1"]
    assert "Her knee surgery went well" in [t["notes"] for t in data["touchpoints"]]
    assert [a["comment"] for a in data["survey_answers"]] == ["My husband hates the noise"]
    assert [e["kind"] for e in data["emails"]] == [OutboxEmail.Kind.CARE_PLAN]
    assert [f["reason"] for f in data["flags"]] == ["detractor"]
    assert data["consent_events"] == []
    json.dumps(data, default=str)  # plain data all the way down


def test_the_csv_export_is_a_zip_of_one_file_per_section_with_formulas_defused(nadia):
    Customer.objects.filter(pk=nadia.pk).update(company='=HYPERLINK("http://evil.example","x")')

    archive = zipfile.ZipFile(io.BytesIO(export_csv_zip(customer_export(customer=nadia))))

    names = set(archive.namelist())
    assert {"profile.csv", "purchases.csv", "touchpoints.csv", "survey_answers.csv", "emails.csv"} <= names
    profile = archive.read("profile.csv").decode()
    assert "'=HYPERLINK" in profile and ",=HYPERLINK" not in profile
    assert "My husband hates the noise" in archive.read("survey_answers.csv").decode()


def test_a_manager_confirms_then_downloads_the_export_and_it_is_audited(mary_client, mary, nadia):
    url = reverse("customers:gdpr_export", kwargs={"pk": nadia.pk})

    page = mary_client.get(url)
    assert page.status_code == 200 and "Download the export" in page.content.decode()
    assert not AuditEvent.objects.filter(action=AuditAction.EXPORTED).exists(), "the GET only explains"

    response = mary_client.post(url, {"format": "json"})
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="customer-{nadia.pk}.json"'
    assert json.loads(response.content)["profile"]["name"] == "Nadia Ortega"

    zipped = mary_client.post(url, {"format": "csv"})
    assert zipped["Content-Type"] == "application/zip"
    events = AuditEvent.objects.filter(action=AuditAction.EXPORTED, customer=nadia)
    assert [(e.actor, e.changes) for e in events] == [(mary, {"format": "csv"}), (mary, {"format": "json"})]


def test_reps_cannot_export_or_erase_even_their_own_customer(alice_client, nadia):
    for name in ("customers:gdpr_export", "customers:gdpr_erase"):
        url = reverse(name, kwargs={"pk": nadia.pk})
        assert alice_client.get(url).status_code == 403  # a manager page (aftersales/core/access.py)
        assert (
            alice_client.post(url, {"format": "json", "confirm": "ERASE"}).status_code == 403
        )  # a manager page (aftersales/core/access.py)
    nadia.refresh_from_db()
    assert nadia.name == "Nadia Ortega"


def test_the_export_command_writes_the_file_and_records_who(tmp_path, mary, nadia):
    target = tmp_path / "nadia.json"

    call_command("customer_export", nadia.pk, "--output", str(target), "--by", "mary", stdout=io.StringIO())

    assert json.loads(target.read_text())["profile"]["phone"] == "+34 600 000 000"
    assert AuditEvent.objects.get(action=AuditAction.EXPORTED).actor == mary


# --- Erasure ----------------------------------------------------------------------------------


def test_erasure_anonymises_the_profile_and_removes_free_text(mary, nadia):
    customer_erase(customer=nadia, by=mary)

    nadia.refresh_from_db()
    assert nadia.name == f"Erased customer #{nadia.pk}"
    assert (nadia.company, nadia.email, nadia.phone, nadia.notes, nadia.external_ref) == ("", "", "", "", None)
    assert nadia.email_opt_out
    assert SurveyResponse.objects.get(customer=nadia).comment == ""
    assert SurveyResponse.objects.get(customer=nadia).nps == 3, "scores stay for the statistics"
    assert not TouchPoint.objects.filter(customer=nadia).exclude(notes="", next_step="").exists()
    assert not TouchPoint.objects.filter(customer=nadia, status=Status.SCHEDULED).exists(), "nobody calls them"
    flag = nadia.flags.get()
    assert flag.detail == "" and flag.resolved_at == NOW
    assert nadia.purchases.get().external_ref == "order-1", "the order number is an accounting record"


def test_a_low_answer_whose_loop_is_still_pending_opens_nothing_after_erasure(mary, alice):
    """The worker opens a loop a few seconds after the answer; an erasure in between cancels it."""
    from feedback.services.answers import Answer, survey_response_record
    from feedback.services.loops import survey_loops_open

    customer = CustomerFactory(owner=alice, email="zoe@example.com")
    invitation = SurveyInvitationFactory(customer=customer, sent_at=NOW - dt.timedelta(hours=1))
    survey_response_record(invitation=invitation, answer=Answer(nps=1, comment="Bad"))
    assert SurveyResponse.objects.get(customer=customer).loop_pending == "detractor"
    customer_erase(customer=customer, by=mary)

    assert SurveyResponse.objects.get(customer=customer).nps == 1  # the score stays, the loop does not

    assert survey_loops_open() == 0
    assert not customer.flags.exists()
    assert not TouchPoint.objects.filter(customer=customer).exists()
    assert not OutboxEmail.objects.filter(to=alice.email).exists()


def test_erasure_purges_pending_mail_and_blanks_sent_mail(mary, nadia):
    pending = OutboxEmail.objects.get(customer=nadia)  # the care plan, not sent yet
    sent = OutboxEmailFactory(customer=nadia, to="nadia@example.com", subject="Hello Nadia", sent_at=NOW)

    customer_erase(customer=nadia, by=mary)

    assert not OutboxEmail.objects.filter(pk=pending.pk).exists()
    sent.refresh_from_db()
    assert (sent.to, sent.subject, sent.body_text) == ("", "(erased)", "")


def test_erasure_kills_every_link_of_the_customer(client, mary, nadia):
    careplan = careplan_token(nadia)
    unsubscribe = unsubscribe_token(nadia)
    hashes_before = set(SurveyInvitation.objects.filter(customer=nadia).values_list("token_hash", flat=True))
    assert client.get(f"/care-plan/{careplan}/").status_code == 200

    customer_erase(customer=nadia, by=mary)

    assert client.get(f"/care-plan/{careplan}/").status_code == 404
    assert client.get(reverse("feedback:unsubscribe", args=[unsubscribe])).status_code == 404
    invitations = SurveyInvitation.objects.filter(customer=nadia)
    assert not hashes_before & set(invitations.values_list("token_hash", flat=True))
    assert not invitations.filter(responded_at__isnull=True, expires_at__gt=NOW).exists()


def test_the_erased_address_is_never_mailed_again(mary, alice, product, nadia):
    """Done-when of issue 8: a new customer with the same address (any case) gets nothing."""
    customer_erase(customer=nadia, by=mary)
    assert EmailSuppression.objects.get().email_hash == email_hash("nadia@example.com")
    assert email_suppressed("  NADIA@example.COM ")

    again = CustomerFactory(owner=alice, email="nadia@EXAMPLE.com")
    purchase_record(customer=again, product=product, ordered_at=NOW.date(), amount=10)
    care_plan = OutboxEmail.objects.get(customer=again)
    assert care_plan.failed_at is not None and care_plan.last_error == SUPPRESSED_ERROR
    outbox_sweep()
    assert not MailboxMessage.objects.filter(to__icontains="nadia@").exists()

    other = outbox_enqueue(to="someone@example.com", subject="Hi", body_text="Hi", kind=OutboxEmail.Kind.NOTIFICATION)
    assert other.failed_at is None, "only the suppressed address is refused"


def test_erasure_scrubs_values_from_the_audit_trail_and_records_itself(mary, nadia):
    audit_record(actor=mary, action=AuditAction.CHANGED, obj=nadia, changes={"name": ["Nadia O.", "Nadia Ortega"]})

    customer_erase(customer=nadia, by=mary)

    events = AuditEvent.objects.filter(customer=nadia)
    assert "Nadia" not in json.dumps(list(events.values_list("changes", flat=True)))
    assert events.get(action=AuditAction.CHANGED).changes == {"name": "(erased)"}, "which field changed stays"
    erased = events.get(action=AuditAction.ERASED)
    assert erased.actor == mary and erased.object_id == nadia.pk


def test_a_manager_must_type_erase_and_the_get_changes_nothing(mary_client, nadia):
    url = reverse("customers:gdpr_erase", kwargs={"pk": nadia.pk})

    page = mary_client.get(url)
    assert page.status_code == 200 and "This cannot be undone" in page.content.decode()
    refused = mary_client.post(url, {"confirm": "yes"})
    assert refused.status_code == 400 and "Type ERASE" in refused.content.decode()
    nadia.refresh_from_db()
    assert nadia.name == "Nadia Ortega"

    done = mary_client.post(url, {"confirm": "ERASE"})
    assert done.status_code == 302 and done["Location"] == nadia.get_absolute_url()
    nadia.refresh_from_db()
    assert nadia.name.startswith("Erased customer")
    again = mary_client.post(url, {"confirm": "ERASE"})
    assert again.status_code == 400 and "already erased" in again.content.decode()
    assert AuditEvent.objects.filter(action=AuditAction.ERASED).count() == 1


def test_the_erase_command_asks_unless_told_yes(monkeypatch, nadia):
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    with pytest.raises(CommandError, match="Not erased"):
        call_command("customer_erase", nadia.pk, stdout=io.StringIO())
    nadia.refresh_from_db()
    assert nadia.email

    call_command("customer_erase", nadia.pk, "--yes", stdout=io.StringIO())
    nadia.refresh_from_db()
    assert nadia.email == "" and email_suppressed("nadia@example.com")
    with pytest.raises(CommandError, match="already erased"):
        call_command("customer_erase", nadia.pk, "--yes", stdout=io.StringIO())


def test_erasure_leaves_no_name_in_webhook_payloads_or_the_dev_mailbox(mary, nadia):
    hook = Webhook.objects.create(url="https://erp.example.com/hooks", events=["purchase.recorded"])
    delivery = WebhookDelivery.objects.create(
        webhook=hook,
        event="purchase.recorded",
        payload={
            "purchase": {"id": 1},
            "customer": {"id": nadia.pk, "external_ref": "shop-77", "name": "Nadia Ortega"},
        },
    )
    other = WebhookDelivery.objects.create(
        webhook=hook, event="purchase.recorded", payload={"customer": {"id": nadia.pk + 1000, "name": "Someone Else"}}
    )
    outbox_sweep()  # the care plan reaches the dev mailbox
    assert MailboxMessage.objects.filter(to__icontains="nadia@example.com").exists()

    customer_erase(customer=nadia, by=mary)

    delivery.refresh_from_db()
    other.refresh_from_db()
    assert delivery.payload == {
        "purchase": {"id": 1},
        "customer": {"id": nadia.pk, "external_ref": None, "name": f"Erased customer #{nadia.pk}"},
    }
    assert other.payload["customer"]["name"] == "Someone Else"
    assert not MailboxMessage.objects.filter(to__icontains="nadia@").exists()


def test_a_due_survey_to_a_suppressed_address_is_dropped_not_sent(mary, alice, nadia):
    customer_erase(customer=nadia, by=mary)
    again = CustomerFactory(owner=alice, email="NADIA@example.com")
    due = SurveyInvitationFactory(customer=again, send_at=NOW - dt.timedelta(hours=1))

    assert invitation_send(invitation_id=due.pk) is False

    assert not SurveyInvitation.objects.filter(pk=due.pk).exists()
    assert not OutboxEmail.objects.filter(customer=again).exists()


def test_erasing_a_customer_without_an_address_suppresses_nothing(mary, alice):
    customer = CustomerFactory(owner=alice, email="")
    customer_erase(customer=customer, by=mary)
    assert not EmailSuppression.objects.exists()
    assert customer_is_erased(customer)
