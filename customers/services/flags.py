"""Writes on risk flags: raising them (one or many, one entry point), snoozing one and resolving them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.timesince import timesince
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
def riskflag_resolve(*, flag: RiskFlag, by: Actor, resolution: str) -> RiskFlag:
    """Close an open flag with a short note of how it was settled; the customer leaves the at-risk lists.

    Who may: the customer's rep, or a manager (``Customer.objects.owned_by``).
    Refused, with nothing written: a flag already resolved (a second tab, a
    colleague first), an empty note, a note over ``RESOLUTION_MAX_LENGTH``.
    """
    [flag] = riskflags_resolve_many(flags=[flag], by=by, resolution=resolution)
    return flag


@transaction.atomic
def riskflags_resolve_many(*, flags: Iterable[RiskFlag], by: Actor, resolution: str) -> list[RiskFlag]:
    """``riskflag_resolve`` for several flags with one note (a close-the-loop call settles all its flags).

    All or nothing. The rows are locked in primary-key order (two callers
    resolving overlapping sets cannot deadlock), then checked: a flag resolved
    meanwhile by someone else is refused here, after the lock, so exactly one
    resolution wins. One UPDATE, one INSERT of the audit events (with the note
    and how long each flag was open), one health mark: an open detractor,
    low-CSAT or problem flag holds the score down (aftersales/health/services.py).
    Returns the flags, resolved, in the order given.
    """
    ids = list(dict.fromkeys(flag.pk for flag in flags))
    if not ids:
        return []
    resolution = (resolution or "").strip()
    locked = {
        flag.pk: flag
        for flag in RiskFlag.objects.filter(pk__in=ids)
        .select_related("customer")
        .order_by("pk")
        .select_for_update(of=("self",))
    }
    if len(locked) != len(ids):
        raise RiskFlag.DoesNotExist("A flag to resolve no longer exists.")
    customer_ids = {flag.customer_id for flag in locked.values()}
    if Customer.objects.owned_by(by).filter(pk__in=customer_ids).count() != len(customer_ids):
        raise PermissionDenied(_("Only the customer's rep or a manager may resolve this flag."))
    for flag in locked.values():
        if not flag.is_open:
            raise ValidationError(_resolved_already(flag), code="resolved")
    if not resolution:
        raise ValidationError({"resolution": _("Say how it was settled, in a few words.")}, code="required")
    if len(resolution) > RESOLUTION_MAX_LENGTH:
        raise ValidationError(
            {
                "resolution": _("A resolution can be at most %(max)s characters; this one has %(length)s.")
                % {"max": RESOLUTION_MAX_LENGTH, "length": len(resolution)}
            },
            code="max_length",
        )
    now = timezone.now()
    resolved = [locked[pk] for pk in ids]
    for flag in resolved:
        flag.resolved_at, flag.resolved_by, flag.resolution = now, by, resolution
    RiskFlag.objects.bulk_update(resolved, ["resolved_at", "resolved_by", "resolution"])
    audit_record_many(
        actor=by,
        action=AuditAction.RESOLVED,
        object_type=RiskFlag._meta.label_lower,
        rows=[
            (
                flag.pk,
                flag.customer_id,
                {
                    "reason": [None, flag.reason],
                    "resolution": [None, resolution],
                    "open_for": [None, timesince(flag.raised_at, now)],
                },
            )
            for flag in resolved
        ],
    )
    Customer.objects.filter(pk__in=customer_ids).mark_health_due()
    return resolved


def _resolved_already(flag: RiskFlag) -> str:
    values = {"reason": flag.get_reason_display()}
    if flag.resolved_by is None:
        return _("“%(reason)s” was already resolved; nothing was changed.") % values
    name = flag.resolved_by.get_full_name() or flag.resolved_by.get_username()
    return _("“%(reason)s” was already resolved by %(name)s; nothing was changed.") % {**values, "name": name}
