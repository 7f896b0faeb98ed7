"""Merging a duplicate customer into the one that stays: a workflow across every app, so it lives here (layer 3).

Each app moves the rows it owns with its own ``<rows>_move_customer`` service
(customers, touchpoints, feedback, the outbox, the audit trail); this module
checks who may merge, locks both customers and calls them all in one
transaction, so a merge happens entirely or not at all. The duplicate stays as
a row pointing at the survivor (``Customer.merged_into``): out of every list and
search, its page redirecting to the survivor, its id still in the trail.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from aftersales.audit.models import AuditAction, AuditEvent
from aftersales.audit.services import audit_move_customer, audit_record
from aftersales.core.roles import is_manager
from aftersales.mail.models import OutboxEmail
from aftersales.mail.outbox import outbox_move_customer
from customers.models import Customer, HealthSnapshot, Purchase, RiskFlag
from customers.services import (
    customer_mark_merged,
    healthsnapshots_move_customer,
    purchases_move_customer,
    riskflags_move_customer,
)
from feedback.models import EmailConsentEvent, SurveyInvitation, SurveyResponse
from feedback.services.merge import answers_move_customer, consent_move_customer, invitations_move_customer
from touchpoints.models import TouchPoint
from touchpoints.services import touchpoints_move_customer

# What moves, in the order the confirmation page lists it.
MOVED_LABELS = {
    "purchases": gettext_lazy("purchases"),
    "touchpoints": gettext_lazy("check-ups and contacts"),
    "invitations": gettext_lazy("survey invitations"),
    "answers": gettext_lazy("survey answers"),
    "flags": gettext_lazy("risk flags"),
    "consent_events": gettext_lazy("consent changes"),
    "emails": gettext_lazy("e-mails"),
    "audit_events": gettext_lazy("audit events"),
    "health_snapshots": gettext_lazy("daily health scores"),
}


@dataclass(frozen=True)
class Moved:
    """How many rows of each kind move (or moved) from the duplicate to the survivor."""

    purchases: int
    touchpoints: int
    invitations: int
    answers: int
    flags: int
    consent_events: int
    emails: int
    audit_events: int
    health_snapshots: int

    def lines(self) -> list[tuple[str, int]]:
        return [(str(MOVED_LABELS[key]), count) for key, count in asdict(self).items()]


def merge_preview(*, survivor: Customer, merged: Customer) -> Moved:
    """What merging ``merged`` into ``survivor`` would move: one COUNT per kind of row (the confirmation page).

    A daily health score of a day the survivor has one too is dropped, not moved.
    """
    same_day = HealthSnapshot.objects.filter(customer=survivor, taken_on=OuterRef("taken_on"))
    return Moved(
        purchases=Purchase.objects.filter(customer=merged).count(),
        touchpoints=TouchPoint.objects.filter(customer=merged).count(),
        invitations=SurveyInvitation.objects.filter(customer=merged).count(),
        answers=SurveyResponse.objects.filter(customer=merged).count(),
        flags=RiskFlag.objects.filter(customer=merged).count(),
        consent_events=EmailConsentEvent.objects.filter(customer=merged).count(),
        emails=OutboxEmail.objects.filter(customer=merged).count(),
        audit_events=AuditEvent.objects.filter(customer=merged).count(),
        health_snapshots=HealthSnapshot.objects.filter(customer=merged).exclude(Exists(same_day)).count(),
    )


def merge_check(*, survivor: Customer, merged: Customer, by) -> None:
    """Raise PermissionDenied or ValidationError when this merge may not happen (the page asks before confirming)."""
    if not is_manager(by):
        raise PermissionDenied(_("Only managers merge customers."))
    if survivor.pk == merged.pk:
        raise ValidationError(_("A customer cannot be merged into itself."), code="self")
    for customer in (survivor, merged):
        if customer.merged_into_id is not None:
            raise ValidationError(
                _("Customer #%(pk)s was already merged into customer #%(into)s."),
                code="merged",
                params={"pk": customer.pk, "into": customer.merged_into_id},
            )
        if customer.erased_at is not None:
            raise ValidationError(_("Customer #%(pk)s was erased."), code="erased", params={"pk": customer.pk})


@transaction.atomic
def customers_merge(*, survivor: Customer, merged: Customer, by) -> Moved:
    """Move everything of ``merged`` to ``survivor`` and retire ``merged``; managers only. Returns what moved.

    Both customers are locked in primary-key order first (saleor's
    lock_objects): two merges of the same pair, or of A into B and B into A,
    queue up instead of deadlocking, and the second finds the first's result
    (already merged) and is refused. Nothing else writes a customer's rows
    under its lock, but rows written meanwhile for the duplicate by a writer
    that locked nothing (a survey answer) are moved if committed before our
    UPDATE, or land on a merged customer the page still redirects from.
    Two audit events name both ids: one on each customer, both shown on the
    survivor's page.
    """
    if not is_manager(by):
        raise PermissionDenied(_("Only managers merge customers."))
    pks = sorted({survivor.pk, merged.pk})
    locked = {row.pk: row for row in Customer.objects.select_for_update().filter(pk__in=pks).order_by("pk")}
    if survivor.pk not in locked or merged.pk not in locked:
        raise Customer.DoesNotExist
    survivor, merged = locked[survivor.pk], locked[merged.pk]
    merge_check(survivor=survivor, merged=merged, by=by)
    now = timezone.now()
    rows = {"from_customer": merged, "to_customer": survivor}
    moved = Moved(
        purchases=purchases_move_customer(**rows),
        touchpoints=touchpoints_move_customer(**rows),
        invitations=invitations_move_customer(**rows),
        answers=answers_move_customer(**rows),
        flags=riskflags_move_customer(**rows, now=now),
        consent_events=consent_move_customer(**rows),
        emails=outbox_move_customer(**rows),
        audit_events=audit_move_customer(**rows),
        health_snapshots=healthsnapshots_move_customer(**rows),
    )
    survivor_changes, merged_changes = customer_mark_merged(merged=merged, survivor=survivor, now=now)
    audit_record(
        actor=by,
        action=AuditAction.MERGED,
        obj=survivor,
        changes={"merged_customer_id": [None, merged.pk], **survivor_changes},
    )
    audit_record(actor=by, action=AuditAction.MERGED, obj=merged, customer=survivor, changes=merged_changes)
    # Flags, answers, check-ups and the contact clock all changed: the health sweep recomputes the survivor.
    Customer.objects.filter(pk=survivor.pk).mark_health_due()
    return moved
