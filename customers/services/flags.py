"""Writes on risk flags: raising them (one or many, one entry point), snoozing one and resolving one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from aftersales.audit.models import AuditAction
from aftersales.audit.services import audit_record, audit_record_many
from aftersales.core.fields import field_max_length
from aftersales.core.roles import Actor
from aftersales.webhooks.models import Webhook, WebhookEvent
from aftersales.webhooks.services import webhook_emit_many
from customers.models import Customer, RiskFlag

FLAG_DETAIL_MAX_LENGTH = field_max_length(RiskFlag, "detail")
RESOLUTION_MAX_LENGTH = field_max_length(RiskFlag, "resolution")
# A snooze longer than this is a resolution in disguise: resolve the flag instead.
SNOOZE_MAX_DAYS = 90


def riskflag_raise(*, customer: Customer, reason: str, detail: str, data: dict[str, Any] | None = None) -> RiskFlag:
    """Raise a flag, or add ``detail`` to the one already open for that reason (one open flag per reason).

    A snoozed flag is woken up: something new happened.
    """
    [flag] = riskflags_raise(customer=customer, reasons=[reason], detail=detail, data=data)
    return flag


def riskflags_raise(
    *,
    customer: Customer,
    reasons: Iterable[str],
    detail: str,
    data: dict[str, Any] | None = None,
    health_marked: bool = False,
    hooks: list[Webhook] | None = None,
) -> list[RiskFlag]:
    """``riskflag_raise`` for several reasons at once (a survey answer can be a detractor and a low CSAT)."""
    [flags] = riskflags_raise_many(
        raises=[FlagRaise(customer, reasons, detail, data)], health_marked=health_marked, hooks=hooks
    )
    return flags


@dataclass(frozen=True)
class FlagRaise:
    """One customer's flags to raise, for ``riskflags_raise_many``."""

    customer: Customer
    reasons: Iterable[str]
    detail: str
    data: dict[str, Any] | None = None


def riskflags_raise_many(
    *, raises: Sequence[FlagRaise], health_marked: bool = False, hooks: list[Webhook] | None = None
) -> list[list[RiskFlag]]:
    """``riskflags_raise`` for a batch (the loop-opening job): each raise's flags, in the order of its reasons.

    Set-based: one read of the open flags (locked), one INSERT of the new ones
    and one of their audit events, one UPDATE of the details added to open
    ones, one health mark (none with ``health_marked``: the caller set it in
    this transaction) and one webhook lookup (none with ``hooks``). Two raises
    at once both try the INSERT; the unique constraint lets one win and the
    other, inside a savepoint, falls back to one reason at a time. A customer
    raised twice in one batch gets the second raise's detail appended.
    """
    seen: set[int] = set()
    first: list[tuple[FlagRaise, list[str], str]] = []
    later: set[int] = set()
    for index, item in enumerate(raises):
        if item.customer.pk in seen:
            later.add(index)
            continue
        seen.add(item.customer.pk)
        first.append((item, sorted(set(item.reasons)), item.detail[:FLAG_DETAIL_MAX_LENGTH]))
    existing = {
        (flag.customer_id, flag.reason): flag
        for flag in RiskFlag.objects.open()
        .select_for_update()
        .filter(customer_id__in=seen, reason__in={reason for _, reasons, _ in first for reason in reasons})
    }
    new = [
        RiskFlag(customer=item.customer, reason=reason, detail=detail, data=item.data or {})
        for item, reasons, detail in first
        for reason in reasons
        if (item.customer.pk, reason) not in existing
    ]
    raised: list[RiskFlag] = []
    if new:
        try:
            with transaction.atomic():
                raised = RiskFlag.objects.bulk_create(new)
                audit_record_many(
                    actor=None,
                    action=AuditAction.RAISED,
                    object_type=RiskFlag._meta.label_lower,
                    rows=[(flag.pk, flag.customer_id, {"reason": [None, flag.reason]}) for flag in raised],
                )
        except IntegrityError:
            if len(new) > 1:  # which one lost the race: one reason at a time
                return [
                    [
                        flag
                        for reason in sorted(set(item.reasons))
                        for [flag] in riskflags_raise_many(
                            raises=[FlagRaise(item.customer, [reason], item.detail, item.data)], hooks=hooks
                        )
                    ]
                    for item in raises
                ]
            [lost] = new
            existing[lost.customer_id, lost.reason] = (
                RiskFlag.objects.open().select_for_update().get(customer_id=lost.customer_id, reason=lost.reason)
            )
            raised = []
    if raised:
        if not health_marked:  # open problems count (aftersales/health/services.py)
            Customer.objects.filter(pk__in={flag.customer_id for flag in raised}).mark_health_due()
        webhook_emit_many(
            event=WebhookEvent.CUSTOMER_FLAGGED,
            payloads=lambda: [
                {
                    "flag": {"id": flag.pk, "reason": flag.reason, "detail": flag.detail, "raised_at": flag.raised_at},
                    "customer": {
                        "id": flag.customer.pk,
                        "external_ref": flag.customer.external_ref,
                        "name": flag.customer.name,
                    },
                }
                for flag in raised
            ],
            hooks=hooks,
        )
    appended = []
    for item, reasons, detail in first:
        for reason in reasons:
            flag = existing.get((item.customer.pk, reason))
            if flag is not None:
                joined = f"{flag.detail}\n{detail}" if flag.detail else detail
                if len(joined) > FLAG_DETAIL_MAX_LENGTH:
                    joined = joined[: FLAG_DETAIL_MAX_LENGTH - 1] + "…"
                flag.detail, flag.snoozed_until = joined, None
                appended.append(flag)
    if appended:  # a snoozed flag wakes up: something new happened
        RiskFlag.objects.bulk_update(appended, ["detail", "snoozed_until"])
    by_key = {(flag.customer_id, flag.reason): flag for flag in [*raised, *existing.values()]}
    flags = iter([[by_key[item.customer.pk, reason] for reason in reasons] for item, reasons, _ in first])
    # The same customer again: its flags exist now, so raising them again adds the detail.
    return [
        riskflags_raise_many(raises=[item], health_marked=health_marked, hooks=hooks)[0]
        if index in later
        else next(flags)
        for index, item in enumerate(raises)
    ]


@transaction.atomic
def riskflag_snooze(*, flag: RiskFlag, until: dt.datetime, reason: str, by: Actor) -> RiskFlag:
    """Hide an open flag from the at-risk lists until ``until``; it comes back by itself after.

    Nothing sweeps it back: ``RiskFlag.objects.visible()`` compares
    ``snoozed_until`` with the clock. The reason and who snoozed are kept in
    ``flag.data["snooze"]`` (the last snooze; earlier ones are in the history
    of the flag's owner notifications, not here).
    """
    reason = (reason or "").strip()
    now = timezone.now()
    if not reason:
        raise ValidationError({"reason": "Say why the flag can wait."})
    if until <= now:
        raise ValidationError({"until": "Pick a date in the future."})
    if until > now + dt.timedelta(days=SNOOZE_MAX_DAYS):
        raise ValidationError({"until": f"At most {SNOOZE_MAX_DAYS} days; resolve the flag if it is over."})
    flag = RiskFlag.objects.select_for_update().get(pk=flag.pk)
    if not Customer.objects.owned_by(by).filter(pk=flag.customer_id).exists():
        raise PermissionDenied("Not your customer.")
    if not flag.is_open:
        raise ValidationError("This flag is already resolved.")
    flag.snoozed_until = until
    flag.data = {
        **(flag.data or {}),
        "snooze": {"reason": reason[:500], "by": by.pk, "at": now.isoformat(), "until": until.isoformat()},
    }
    flag.save(update_fields=["snoozed_until", "data"])
    audit_record(
        actor=by,
        action=AuditAction.SNOOZED,
        obj=flag,
        changes={"snoozed_until": [None, until], "reason": [None, reason]},
    )
    return flag


@transaction.atomic
def riskflag_resolve(*, flag: RiskFlag, by, resolution: str) -> RiskFlag:
    """Close an open flag: what settled it (``resolution``), who and when; the customer's health is due again.

    A rep resolves flags on their own customers, a manager any. The row is
    locked first, so two people resolving the same flag at once queue up: the
    second sees it resolved and is refused, and the trail holds one event.
    """
    resolution = (resolution or "").strip()
    if not resolution:
        raise ValidationError({"resolution": _("Say what settled the flag.")})
    if len(resolution) > RESOLUTION_MAX_LENGTH:
        raise ValidationError(
            {"resolution": _("Keep the resolution to at most %(max)d characters.") % {"max": RESOLUTION_MAX_LENGTH}}
        )
    flag = RiskFlag.objects.select_for_update().get(pk=flag.pk)
    if not Customer.objects.owned_by(by).filter(pk=flag.customer_id).exists():
        raise PermissionDenied(_("Only the customer's rep or a manager may resolve this flag."))
    if not flag.is_open:
        raise ValidationError(
            _("This flag was already resolved on %(day)s; nothing was changed.")
            % {"day": date_format(timezone.localtime(flag.resolved_at), "j M Y")},
            code="resolved",
        )
    flag.resolved_at, flag.resolved_by, flag.resolution = timezone.now(), by, resolution
    flag.save(update_fields=["resolved_at", "resolved_by", "resolution"])
    audit_record(
        actor=by,
        action=AuditAction.RESOLVED,
        obj=flag,
        changes={"resolved_at": [None, flag.resolved_at], "resolution": [None, resolution]},
    )
    Customer.objects.filter(pk=flag.customer_id).mark_health_due()  # open flags count (aftersales/risk/health.py)
    return flag
