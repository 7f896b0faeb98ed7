"""The risk sweeps: gone quiet, renewal near with no contact, falling temperature; then tell the owners.

Detect and notify are two passes with the flag row between them:

1. *Detect* (``riskflag_sweep_*``): set-based SQL (aftersales/risk/sweep_sql.py)
   inserts a flag for every customer who matches and has no open flag for
   that reason, one statement per batch of ids, each batch its own
   transaction. Re-running flags nothing new: the open flag is there.
2. *Notify* (``riskflag_notify_owners``): flags with ``owner_notified_at``
   empty are claimed per owner with a conditional UPDATE, and the owner
   gets one outbox email listing them, written in the same transaction as
   the claim. A crash before commit leaves the flags unclaimed and no email;
   after commit, the email is in the outbox and the flags are claimed. The
   owner is told once either way.

A two-way contact resolves the gone-quiet flag
(``customers.services.customer_record_two_way_contact``); the sweeps resolve
the others when their condition no longer holds, and (hourly) gone-quiet
flags whose customer is no longer quiet, a safety net for contact written
some other way.

Every periodic job here is a Celery task (aftersales/risk/tasks.py) and a
management command calling the same function.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from aftersales.core.roles import Actor
from aftersales.mail.models import OutboxEmail
from aftersales.mail.outbox import outbox_enqueue
from aftersales.risk import sweep_sql
from customers.models import FlagReason, RiskFlag

logger = logging.getLogger(__name__)

# Customer ids per statement: a million customers take ten statements, and
# each transaction (about 20,000 new flags at most) holds its locks briefly.
BATCH_IDS = 100_000
# Reasons raised by these sweeps, whose owners this module notifies. Flags
# raised by a person or by a survey answer are told about where they happen.
SWEPT_REASONS = (FlagReason.GONE_QUIET, FlagReason.RENEWAL_NO_CONTACT, FlagReason.COLD_TEMPERATURE)
# Flag ids per claiming UPDATE (SQLite allows 32,766 parameters per statement).
CLAIM_CHUNK = 5000
# An owner's email lists at most this many customers per reason; the rest are counted.
EMAIL_LIST_LIMIT = 50
ARROW = " → "


@dataclass(frozen=True)
class SweepResult:
    flagged: int = 0
    resolved: int = 0
    emails: int = 0

    def __add__(self, other: SweepResult) -> SweepResult:
        return SweepResult(self.flagged + other.flagged, self.resolved + other.resolved, self.emails + other.emails)

    def __str__(self) -> str:
        return f"{self.flagged} flagged, {self.resolved} resolved, {self.emails} owner email(s)"


# --- The periodic jobs -------------------------------------------------------------------


def sweep_quiet(*, now: dt.datetime | None = None, batch_ids: int = BATCH_IDS) -> SweepResult:
    """Gone-quiet job: flag the customers gone quiet, then tell their owners."""
    now = now or timezone.now()
    detected = riskflag_sweep_gone_quiet(now=now, batch_ids=batch_ids)
    return detected + SweepResult(emails=riskflag_notify_owners(now=now))


def sweep_risks(*, now: dt.datetime | None = None, batch_ids: int = BATCH_IDS) -> SweepResult:
    """Renewal and temperature job: flag (and resolve) both, then tell the owners; resolve stale gone-quiet flags."""
    now = now or timezone.now()
    detected = (
        riskflag_sweep_renewal_no_contact(now=now, batch_ids=batch_ids)
        + riskflag_sweep_cold_temperature(now=now, batch_ids=batch_ids)
        + riskflag_resolve_no_longer_quiet(now=now)
    )
    return detected + SweepResult(emails=riskflag_notify_owners(now=now))


# --- Detect ----------------------------------------------------------------------------------


def riskflag_sweep_gone_quiet(*, now: dt.datetime | None = None, batch_ids: int = BATCH_IDS) -> SweepResult:
    """Flag every customer whose ``quiet_after`` has passed and who has no open gone-quiet flag."""
    now = now or timezone.now()
    params = {"now": _dt(now), "reason": FlagReason.GONE_QUIET}
    flagged = _insert_in_batches(sweep_sql.gone_quiet, sweep_sql.GONE_QUIET_BOUNDS, params, batch_ids)
    return SweepResult(flagged=flagged)


def riskflag_resolve_no_longer_quiet(*, now: dt.datetime | None = None) -> SweepResult:
    """Resolve gone-quiet flags whose customer is not quiet any more.

    A safety net: contact logged through the services resolves the flag at
    once; this catches a quiet date moved some other way (an import, the
    admin). It joins every open gone-quiet flag to its customer, so it runs
    with the hourly risks job, off the 15-minute path of the quiet sweep.
    """
    now = now or timezone.now()
    resolved = (
        RiskFlag.objects.open()
        .filter(reason=FlagReason.GONE_QUIET, raised_at__lte=now)
        .filter(Q(customer__quiet_after__isnull=True) | Q(customer__quiet_after__gt=now))
        .update(resolved_at=now, resolution="No longer quiet: contact recorded.")
    )
    return SweepResult(resolved=resolved)


def riskflag_sweep_renewal_no_contact(*, now: dt.datetime | None = None, batch_ids: int = BATCH_IDS) -> SweepResult:
    """Flag a renewal within RENEWAL_WINDOW_DAYS with no two-way contact in RENEWAL_CONTACT_DAYS."""
    now = now or timezone.now()
    options = settings.AFTERSALES
    today = now.date()
    window_end = today + dt.timedelta(days=options["RENEWAL_WINDOW_DAYS"])
    open_flags = RiskFlag.objects.open().filter(reason=FlagReason.RENEWAL_NO_CONTACT, raised_at__lte=now)
    resolved = open_flags.filter(customer__last_contact_at__gte=F("raised_at")).update(
        resolved_at=now, resolution="Two-way contact since the flag."
    )
    resolved += open_flags.exclude(
        customer__purchases__renewal_date__range=(today, window_end),
    ).update(resolved_at=now, resolution="No renewal within the window any more.")
    params = {
        "now": _dt(now),
        "today": connection.ops.adapt_datefield_value(today),
        "window_end": connection.ops.adapt_datefield_value(window_end),
        "contact_cutoff": _dt(now - dt.timedelta(days=options["RENEWAL_CONTACT_DAYS"])),
        "reason": FlagReason.RENEWAL_NO_CONTACT,
    }
    flagged = _insert_in_batches(sweep_sql.renewal_no_contact, sweep_sql.RENEWAL_BOUNDS, params, batch_ids)
    return SweepResult(flagged=flagged, resolved=resolved)


def riskflag_sweep_cold_temperature(*, now: dt.datetime | None = None, batch_ids: int = BATCH_IDS) -> SweepResult:
    """Flag a strictly falling temperature over the last three done check-ups; resolve it once it stops."""
    now = now or timezone.now()
    params = {"now": _dt(now), "reason": FlagReason.COLD_TEMPERATURE, "arrow": ARROW}
    resolve = {**params, "resolution": "Temperature no longer falling."}
    resolved = _run_in_batches(lambda d: sweep_sql.RESOLVE_WARMED_UP, sweep_sql.TEMPERATURE_BOUNDS, resolve, batch_ids)
    flagged = _insert_in_batches(sweep_sql.cold_temperature, sweep_sql.TEMPERATURE_BOUNDS, params, batch_ids)
    return SweepResult(flagged=flagged, resolved=resolved)


def _insert_in_batches(statement: Callable[[sweep_sql.Dialect], str], bounds: str, params: dict, size: int) -> int:
    result = _run_in_batches(statement, bounds, params, size)
    if result:
        # New flags move no score by themselves (health reads the raw signals),
        # but the at-risk list shows them at once; nothing else to do here.
        logger.info("sweep %s: %s customer(s) flagged", params["reason"], result)
    return result


def _run_in_batches(statement: Callable[[sweep_sql.Dialect], str], bounds: str, params: dict, size: int) -> int:
    """Run ``statement`` for each id range [low, high] between the bounds; return the rows it changed.

    Ranges of ids rather than OFFSET pages: each batch is an index range,
    and rows inserted or changed meanwhile cannot shift a batch boundary.
    """
    sql = statement(sweep_sql.dialect_for(connection.vendor))
    with connection.cursor() as cursor:
        cursor.execute(bounds, params)
        low, high = cursor.fetchone()
    if low is None:
        return 0
    changed = 0
    for start in range(low, high + 1, size):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, {**params, "low": start, "high": min(start + size - 1, high)})
            changed += max(cursor.rowcount, 0)
    return changed


# --- Notify ----------------------------------------------------------------------------------


def riskflag_notify_owners(*, now: dt.datetime | None = None) -> int:
    """Tell each owner once about their newly flagged customers: one email per owner; returns emails written.

    One read lists the flags nobody was told about, with their owner (the
    partial index ``riskflag_notify_idx`` keeps it cheap when there are
    none); then each owner's flags are claimed and mailed in one transaction.
    """
    now = now or timezone.now()
    unnotified = (
        RiskFlag.objects.open()
        .filter(owner_notified_at__isnull=True, reason__in=SWEPT_REASONS)
        .order_by("customer__owner_id", "pk")
        .values_list("customer__owner_id", "pk")
    )
    per_owner: dict[int, list[int]] = defaultdict(list)
    for owner_id, flag_id in unnotified:
        per_owner[owner_id].append(flag_id)
    # One iteration per rep with news, never per customer.
    return sum(_notify_owner(owner_id, flag_ids, now=now) for owner_id, flag_ids in sorted(per_owner.items()))


@transaction.atomic
def _notify_owner(owner_id: int, flag_ids: list[int], *, now: dt.datetime) -> int:
    claimed: list[tuple[int, int, str]] = []  # (id, customer_id, reason) of the flags this call claimed
    with connection.cursor() as cursor:
        for start in range(0, len(flag_ids), CLAIM_CHUNK):
            chunk = flag_ids[start : start + CLAIM_CHUNK]
            cursor.execute(sweep_sql.claim(len(chunk)), [_dt(now), *chunk])
            claimed += cursor.fetchall()
    if not claimed:
        return 0  # another notifier claimed them first
    owner = get_user_model().objects.get(pk=owner_id)
    if not owner.email:
        logger.warning("sweep: owner %s has no email address; %s flag(s) not mailed", owner_id, len(claimed))
        return 0
    context = _email_context(owner, claimed)
    outbox_enqueue(
        to=owner.email,
        subject=context["subject"],
        body_text=render_to_string("emails/gone_quiet.txt", context),
        body_html=render_to_string("emails/gone_quiet.html", context),
        kind=OutboxEmail.Kind.NOTIFICATION,
        customer=context["only_customer"],
    )
    return 1


def _email_context(owner: Actor, claimed: list[tuple[int, int, str]]) -> dict:
    """The email lists the first EMAIL_LIST_LIMIT flags of each reason (by name), and counts the rest."""
    by_reason: dict[str, list[int]] = defaultdict(list)
    for flag_id, _, reason in claimed:
        by_reason[reason].append(flag_id)
    listed = {
        flag.pk: flag
        for flag in RiskFlag.objects.filter(
            pk__in=[pk for ids in by_reason.values() for pk in sorted(ids)[:EMAIL_LIST_LIMIT]]
        ).select_related("customer")
    }
    # One reverse() for the whole email, not one per customer listed.
    pattern = f"{settings.SITE_URL}{reverse('customers:detail', args=[0])}"
    groups: list[dict[str, Any]] = []
    for reason in SWEPT_REASONS:
        ids = by_reason.get(reason)
        if not ids:
            continue
        flags = sorted((listed[pk] for pk in sorted(ids)[:EMAIL_LIST_LIMIT]), key=lambda f: (f.customer.name, f.pk))
        groups.append(
            {
                "label": FlagReason(reason).label,
                "reason": reason,
                "flags": [
                    {
                        "customer": flag.customer,
                        "detail": flag.detail,
                        "url": pattern.replace("/0/", f"/{flag.customer_id}/"),
                    }
                    for flag in flags
                ],
                "more": max(len(ids) - EMAIL_LIST_LIMIT, 0),
            }
        )
    customer_ids = {customer_id for _, customer_id, _ in claimed}
    only_customer = groups[0]["flags"][0]["customer"] if len(customer_ids) == 1 else None
    if only_customer is not None:
        subject = f"{only_customer.name} needs attention: {str(groups[0]['label']).lower()}"
    else:
        subject = f"{len(customer_ids)} of your customers need attention"
    return {
        "owner": owner,
        "groups": groups,
        "count": len(customer_ids),
        "subject": subject,
        "only_customer": only_customer,
        "at_risk_url": f"{settings.SITE_URL}{reverse('customers:list')}",
    }


def _dt(moment: dt.datetime):
    """A datetime as the backend stores it (SQLite: text in UTC), for raw SQL parameters."""
    return connection.ops.adapt_datetimefield_value(moment)
