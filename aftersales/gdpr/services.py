"""GDPR for one customer: export everything held about them, or erase them.

Erasure anonymises rather than deletes. The sale, its check-ups and the
survey scores stay (they are the company's records and feed the dashboards),
but nothing left can identify the person:

* the profile: name becomes "Erased customer #<id>"; company, email, phone,
  notes and ``external_ref`` are emptied (``external_ref`` is the shop's id of
  the person, so it is personal data in the shop's hands; clearing it also
  means a later import of that id creates a new customer instead of reviving
  this one). Purchases keep their order reference: it is an accounting record,
  which the law lets us keep (GDPR art. 17(3)(b)).
* free text written by or about them: survey comments, touch-point notes,
  next steps, cancel reasons and non-plan objectives, flag details;
* mail: pending outbox rows are deleted; sent ones lose subject, bodies and
  headers, and the address if it was theirs;
* links: invitations not answered yet expire now and every invitation token
  is replaced by a random one; care-plan and unsubscribe links are signed, not
  stored, and stop working because ``signed_customer`` refuses erased customers;
* the audit trail keeps who changed which field when, but not the values;
  webhook payloads keep the customer's id only; the dev mailbox's copies go;
* the address goes on the suppression list as a sha256 hash, so the outbox
  and the survey planner never mail it again, whoever it is attached to next.

Scheduled check-ups are cancelled and open flags resolved: nobody should call
a person who asked to be forgotten.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from aftersales.audit.models import AuditAction, AuditEvent
from aftersales.audit.services import audit_record
from aftersales.core.csv import csv_safe
from aftersales.core.roles import Actor
from aftersales.mail.models import MailboxMessage, OutboxEmail
from aftersales.mail.suppression import email_suppress
from aftersales.webhooks.models import WebhookDelivery
from customers.models import Customer, RiskFlag
from feedback.models import EmailConsentEvent, SurveyInvitation, SurveyResponse, hash_token, new_token
from touchpoints.models import Status, TouchPoint

EXPORT_FORMATS = ("json", "csv")
ERASED_TEXT = "(erased)"


def erased_name(customer: Customer) -> str:
    return f"Erased customer #{customer.pk}"


def customer_is_erased(customer: Customer) -> bool:
    return Customer.objects.erased().filter(pk=customer.pk).exists()


# --- Export -----------------------------------------------------------------------------------

PROFILE_FIELDS = [
    "id", "name", "company", "email", "phone", "owner__username", "language", "timezone", "email_opt_out",
    "email_opt_out_at", "last_contact_at", "health_score", "external_ref", "notes", "created_at", "updated_at",
]  # fmt: skip
# Each section: its rows of the customer, and the fields the export shows.
SECTIONS: dict[str, tuple[Callable[[Customer], QuerySet[Any]], list[str]]] = {
    "purchases": (
        lambda c: c.purchases.order_by("ordered_at", "pk"),
        ["id", "product__name", "product__sku", "ordered_at", "delivered_at", "amount", "currency", "renewal_date",
         "external_ref", "created_at"],
    ),
    "touchpoints": (
        lambda c: TouchPoint.objects.filter(customer=c).order_by("due_at", "pk"),
        ["id", "kind", "channel", "objective", "due_at", "status", "completed_at", "outcome", "temperature", "notes",
         "next_step", "problem_reported", "cancel_reason", "assignee__username", "created_at"],
    ),
    "survey_answers": (
        lambda c: SurveyResponse.objects.filter(customer=c).order_by("submitted_at", "pk"),
        ["id", "invitation__survey__name", "nps", "csat", "would_buy_again", "comment", "problem_reported",
         "submitted_at", "updated_at"],
    ),
    "survey_invitations": (
        lambda c: SurveyInvitation.objects.filter(customer=c).order_by("send_at", "pk"),
        ["id", "survey__name", "language", "send_at", "sent_at", "reminded_at", "expires_at", "opened_at",
         "responded_at"],
    ),
    "emails": (
        lambda c: OutboxEmail.objects.filter(customer=c).order_by("created_at", "pk"),
        ["id", "kind", "to", "subject", "body_text", "created_at", "sent_at", "failed_at"],
    ),
    "flags": (
        lambda c: RiskFlag.objects.filter(customer=c).order_by("raised_at", "pk"),
        ["id", "reason", "detail", "raised_at", "resolved_at", "resolution", "snoozed_until"],
    ),
    "consent_events": (
        lambda c: EmailConsentEvent.objects.filter(customer=c).order_by("at", "pk"),
        ["id", "action", "at", "by__username", "reason"],
    ),
}  # fmt: skip


def customer_export(*, customer: Customer) -> dict[str, Any]:
    """Everything held about the customer, as plain data: ``{"profile": {...}, "<section>": [{...}, ...]}``.

    One query per section, whatever the customer's history. Field names are
    the model's (``product__name`` follows a relation), so the JSON and the
    CSV files say the same thing.
    """
    data: dict[str, Any] = {"profile": Customer.objects.filter(pk=customer.pk).values(*PROFILE_FIELDS).get()}
    for section, (queryset, fields) in SECTIONS.items():
        data[section] = list(queryset(customer).values(*fields))
    return data


def export_json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False).encode()


def export_csv_zip(data: dict[str, Any]) -> bytes:
    """A zip with one CSV per section (``profile.csv``, ``purchases.csv`` …), each with its own header.

    Cells that a spreadsheet would run as a formula are quoted (aftersales/customer_pages/exports.py).
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        sections = {"profile": ([*data["profile"]], [data["profile"]])}
        sections |= {name: (SECTIONS[name][1], data[name]) for name in SECTIONS}
        for name, (header, rows) in sections.items():
            text = io.StringIO()
            writer = csv.writer(text)
            writer.writerow(header)
            for row in rows:
                writer.writerow([csv_safe(_cell(row[field])) for field in header])
            archive.writestr(f"{name}.csv", text.getvalue())
    return buffer.getvalue()


def _cell(value: object) -> object:
    """As in the JSON: dates ISO, decimals exact, None empty."""
    if value is None:
        return ""
    if isinstance(value, str | int | float | bool):
        return value
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def customer_export_file(*, customer: Customer, fmt: str, by: Actor | None) -> tuple[str, str, bytes]:
    """The export as a download, ``(filename, content type, bytes)``; records who exported it."""
    if fmt not in EXPORT_FORMATS:
        raise ValidationError({"format": "Choose JSON or CSV."})
    data = customer_export(customer=customer)
    audit_record(actor=by, action=AuditAction.EXPORTED, obj=customer, changes={"format": fmt})
    if fmt == "json":
        return f"customer-{customer.pk}.json", "application/json", export_json(data)
    return f"customer-{customer.pk}-csv.zip", "application/zip", export_csv_zip(data)


# --- Erasure ----------------------------------------------------------------------------------


@transaction.atomic
def customer_erase(*, customer: Customer, by: Actor | None) -> Customer:
    """Anonymise the customer and everything written about them; see the module docstring for what stays.

    The customer row is locked first, so two erasures (two managers, a
    double-submitted form) run one after the other and the second finds the
    customer erased and raises.
    """
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer_is_erased(customer):
        raise ValidationError("This customer was already erased.", code="erased")
    now = timezone.now()
    address = customer.email.strip().lower()
    email_suppress(address=address, reason=f"Customer #{customer.pk} erased")

    _erase_mail(customer, address)
    _erase_links(customer, now)
    # A low answer whose loop the worker has not opened yet opens nothing now: no flag, call or alert.
    SurveyResponse.objects.filter(customer=customer).update(comment="", loop_pending="", loop_pending_at=None)
    TouchPoint.objects.filter(customer=customer, status=Status.SCHEDULED).update(
        status=Status.CANCELLED, cancel_reason="", updated_at=now
    )
    TouchPoint.objects.filter(customer=customer).update(notes="", next_step="", cancel_reason="", updated_at=now)
    TouchPoint.objects.filter(customer=customer, plan_step__isnull=True).update(objective="")
    RiskFlag.objects.filter(customer=customer, resolved_at__isnull=True).update(
        resolved_at=now, resolved_by=by, resolution="Customer erased."
    )
    RiskFlag.objects.filter(customer=customer).update(detail="", data={})
    _erase_audit_values(customer)
    _erase_webhook_payloads(customer)

    Customer.objects.filter(pk=customer.pk).update(
        name=erased_name(customer), company="", email="", phone="", notes="", external_ref=None,
        email_opt_out=True, email_opt_out_at=customer.email_opt_out_at or now, health_explanation=[],
        erased_at=now, updated_at=now,
    )  # fmt: skip
    customer.refresh_from_db()
    audit_record(
        actor=by,
        action=AuditAction.ERASED,
        obj=customer,
        changes={"erased": ["name", "company", "email", "phone", "notes", "external_ref", "free text"]},
    )
    return customer


def _erase_mail(customer: Customer, address: str) -> None:
    """Pending mail is withdrawn; sent mail keeps only its kind and dates."""
    # A row a worker holds right now (live lease) may already be on its way; it is scrubbed below instead.
    OutboxEmail.objects.pending().filter(customer=customer).exclude(leased_until__gte=timezone.now()).delete()
    mail = OutboxEmail.objects.filter(customer=customer)
    if address:
        mail.annotate(to_lower=Lower("to")).filter(to_lower=address).update(to="")
    mail.update(subject=ERASED_TEXT, body_text="", body_html="", headers={}, reply_to="")
    if address:
        # The dev mailbox's copies (only filled when no SMTP server is configured).
        MailboxMessage.objects.filter(to__icontains=address).delete()


def _erase_webhook_payloads(customer: Customer) -> None:
    """Webhook events name the customer (``{"customer": {"id", "external_ref", "name"}}``): keep the id only."""
    for delivery in WebhookDelivery.objects.filter(payload__customer__id=customer.pk).only("pk", "payload"):
        payload = {
            **delivery.payload,
            "customer": {"id": customer.pk, "external_ref": None, "name": erased_name(customer)},
        }
        WebhookDelivery.objects.filter(pk=delivery.pk).update(payload=payload)


def _erase_links(customer: Customer, now: datetime) -> None:
    """No invitation link of theirs opens anything: planned ones go, the rest expire with a random token."""
    SurveyInvitation.objects.filter(customer=customer, sent_at__isnull=True).delete()
    SurveyInvitation.objects.filter(
        customer=customer, responded_at__isnull=True, expires_at__gt=now, send_at__lt=now
    ).update(expires_at=now)
    for pk in SurveyInvitation.objects.filter(customer=customer).values_list("pk", flat=True):
        # One UPDATE each (a customer has a handful): the column is unique, so each needs its own random hash.
        SurveyInvitation.objects.filter(pk=pk).update(token_hash=hash_token(new_token()))


def _erase_audit_values(customer: Customer) -> None:
    """The trail keeps which fields changed and when, not the old or new values."""
    events = AuditEvent.objects.filter(
        Q(customer=customer) | Q(object_type="customers.customer", object_id=customer.pk)
    )
    for event in events.only("pk", "changes"):
        scrubbed = dict.fromkeys(event.changes or {}, ERASED_TEXT)
        AuditEvent.objects.filter(pk=event.pk).update(changes=scrubbed)
