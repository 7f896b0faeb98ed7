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
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from aftersales.audit.models import AuditAction
from aftersales.audit.services import audit_erase_customer, audit_record
from aftersales.core.csv import csv_safe
from aftersales.core.roles import Actor
from aftersales.mail.models import OutboxEmail
from aftersales.mail.outbox import outbox_erase_customer
from aftersales.mail.suppression import email_suppress
from aftersales.webhooks.services import webhook_payloads_erase_customer
from customers.models import Customer, RiskFlag
from customers.services import customer_anonymise
from feedback.models import EmailConsentEvent, SurveyInvitation, SurveyResponse
from feedback.services.answers import answers_erase_customer
from feedback.services.invitations import invitations_erase_customer
from touchpoints.models import TouchPoint
from touchpoints.services import touchpoints_erase_customer

EXPORT_FORMATS = ("json", "csv")


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

    # Each app scrubs what it owns (its own service), in this one transaction.
    outbox_erase_customer(customer_id=customer.pk, address=address)
    invitations_erase_customer(customer=customer, now=now)
    answers_erase_customer(customer=customer)
    touchpoints_erase_customer(customer=customer, now=now)
    audit_erase_customer(customer_id=customer.pk)
    webhook_payloads_erase_customer(customer_id=customer.pk, name=erased_name(customer))
    customer_anonymise(customer=customer, by=by, name=erased_name(customer), now=now)
    customer.refresh_from_db()
    audit_record(
        actor=by,
        action=AuditAction.ERASED,
        obj=customer,
        changes={"erased": ["name", "company", "email", "phone", "notes", "external_ref", "free text"]},
    )
    return customer
