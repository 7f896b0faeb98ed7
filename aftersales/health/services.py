"""The health score: 0–100, always with the list of signals that moved it.

Recomputed only for customers whose signals changed. ``Customer.health_due_at``
says when a customer's score must be computed again, and two kinds of change
set it:

* a write that changes a signal (a check-up logged, moved or cancelled, a
  survey answer, a flag) calls ``Customer.objects.mark_health_due()``: due now;
* time alone moves some signals (the quiet date comes near and passes, a
  scheduled check-up becomes overdue, a renewal enters its window), so each
  recompute stores the next such moment as the new due time.

Why a due time rather than a hash of the signals: comparing hashes needs
every customer's signals read on every pass (a full scan of five tables at
1,000,000 customers), and a pure dirty flag would miss what changes with the
clock. A due time covers both and is swept on the partial index
``customer_health_due_idx``, like every other job here.

Race: a signal can change while a batch is being computed. The result is
written only where ``health_due_at`` still holds the value the batch read
(``mark_health_due`` always writes the current time), so such a customer
stays due and the next pass computes it again from the new signals.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypedDict

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Min, Model, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from customers.models import (
    HEALTH_BAND_RANGES,
    Customer,
    FlagReason,
    HealthBand,
    HealthSnapshot,
    HealthWeights,
    Purchase,
    RiskFlag,
)
from feedback.models import SurveyResponse
from feedback.scores import is_low_csat, is_satisfied, nps_segment
from touchpoints.models import Status, TouchPoint

# A customer with one of these flags open is never green, whatever the weights say: at most
# the top of yellow (docs/HEALTH.md). Raising or resolving a flag marks the customer due.
NEVER_GREEN_WITH = (FlagReason.DETRACTOR, FlagReason.LOW_CSAT, FlagReason.PROBLEM_REPORTED)
NEVER_GREEN_CAP = HEALTH_BAND_RANGES[HealthBand.YELLOW][1]

# Missed check-ups count against the score for this long.
MISSED_LOOKBACK = dt.timedelta(days=180)

# A customer due for a score, as read for a batch: (id, due time read, last contact, quiet date).
DueRow = tuple[int, dt.datetime | None, dt.datetime | None, dt.datetime | None]


class HealthMove(TypedDict):
    """One line of a score's explanation (``Customer.health_explanation``): what moved it, by how much."""

    points: int
    reason: str


@dataclass
class Signals:
    """What the score is computed from, for one customer, at one moment."""

    last_contact_at: dt.datetime | None = None
    quiet_after: dt.datetime | None = None
    overdue: int = 0
    next_due_at: dt.datetime | None = None  # the next scheduled check-up still in the future
    missed: int = 0
    oldest_missed_at: dt.datetime | None = None
    temperatures: list[int] = field(default_factory=list)  # newest first, at most three
    nps: int | None = None
    csat: int | None = None
    open_problems: int = 0
    # Open flags that keep the customer out of green until resolved (NEVER_GREEN_WITH).
    open_unresolved: list[str] = field(default_factory=list)
    renewal_date: dt.date | None = None  # the next renewal, today or later


def health_score(
    signals: Signals, *, now: dt.datetime, weights: dict[str, int] | None = None
) -> tuple[int, list[HealthMove]]:
    """(score, explanation): the base moved by each signal, clamped to 0–100; every move listed with its reason."""
    # Pure (no query): the recompute passes the manager's weights, read once per run (health_weights).
    w = {**settings.AFTERSALES["HEALTH_WEIGHTS"], **(weights or {})}
    moves: list[HealthMove] = []

    def move(key: str, reason: str, times: int = 1, cap: str | None = None) -> None:
        points = w[key] * times
        if cap is not None:
            points = max(points, w[cap]) if w[cap] < 0 else min(points, w[cap])
        if points:
            moves.append({"points": points, "reason": reason})

    days_silent = (now - signals.last_contact_at).days if signals.last_contact_at else None
    if signals.quiet_after is not None and signals.quiet_after <= now:
        move("quiet", f"{days_silent} days without contact" if days_silent is not None else "No contact on record")
    elif (quiet_soon := _quiet_soon_from(signals)) is not None and quiet_soon <= now:
        assert signals.quiet_after is not None  # quiet_soon is a point before it
        left = (signals.quiet_after - now).days
        move("quiet_soon", f"{days_silent} days since the last contact; quiet in {left} days")
    if signals.overdue:
        move("overdue_each", _count(signals.overdue, "check-up") + " overdue", signals.overdue, "overdue_max")
    if signals.missed:
        move("missed_each", _count(signals.missed, "check-up") + " missed", signals.missed, "missed_max")
    temps = signals.temperatures
    if temps:
        if temps[0] <= 2:
            move("temperature_cold", f"Cold at the last check-up ({temps[0]}/5)")
        elif temps[0] >= 4:
            move("temperature_warm", f"Warm at the last check-up ({temps[0]}/5)")
        if len(temps) == 3 and temps[2] > temps[1] > temps[0]:
            move("temperature_falling", f"Temperature falling: {temps[2]} → {temps[1]} → {temps[0]}")
    if signals.nps is not None:
        kind = nps_segment(signals.nps)
        move(f"nps_{kind}", f"Latest NPS {signals.nps} ({kind})")
    if is_low_csat(signals.csat):
        move("csat_low", f"Latest CSAT {signals.csat}/5")
    elif is_satisfied(signals.csat):
        move("csat_high", f"Latest CSAT {signals.csat}/5")
    if signals.open_problems:
        move("problem_each", _count(signals.open_problems, "open problem"), signals.open_problems, "problem_max")
    if signals.renewal_date is not None and signals.renewal_date <= _renewal_window_end(now):
        days = (signals.renewal_date - now.date()).days
        if signals.last_contact_at is None:  # (then days_silent is None too)
            move("renewal_no_contact", f"Renewal in {days} days, no contact on record")
        elif now - signals.last_contact_at >= _renewal_contact_gap():
            move("renewal_no_contact", f"Renewal in {days} days, no contact for {days_silent} days")
        else:
            move("renewal_near", f"Renewal in {days} days")
    score = max(0, min(100, w["base"] + sum(m["points"] for m in moves)))
    if signals.open_unresolved and score > NEVER_GREEN_CAP:
        # However good the rest looks, an unanswered complaint is not a healthy customer.
        labels = ", ".join(str(FlagReason(reason).label) for reason in sorted(signals.open_unresolved))
        moves.append({"points": NEVER_GREEN_CAP - score, "reason": f"Open flag ({labels}): not green until resolved"})
        score = NEVER_GREEN_CAP
    return score, moves


def health_next_due(signals: Signals, *, now: dt.datetime) -> dt.datetime | None:
    """The next moment a signal changes with time alone (None: only a write can change the score)."""
    moments = [signals.quiet_after, _quiet_soon_from(signals), signals.next_due_at]
    if signals.oldest_missed_at is not None:
        moments.append(signals.oldest_missed_at + MISSED_LOOKBACK)
    if signals.renewal_date is not None:
        window = dt.timedelta(days=settings.AFTERSALES["RENEWAL_WINDOW_DAYS"])
        renewal = dt.datetime.combine(signals.renewal_date, dt.time.min, tzinfo=dt.UTC)
        moments += [renewal - window, renewal + dt.timedelta(days=1)]
        if signals.last_contact_at is not None:
            moments.append(signals.last_contact_at + _renewal_contact_gap())
    future = [moment for moment in moments if moment is not None and moment > now]
    return min(future, default=None)


def health_recompute(*, now: dt.datetime | None = None, batch_size: int = 500, limit: int | None = None) -> int:
    """Recompute the score of every customer due at ``now``, in batches by id; return how many were written.

    Signals are read for a whole batch at once (a handful of grouped queries,
    never one per customer); only the writes are per row, because each is
    conditional on the due time the batch read. ``limit`` stops after about
    that many customers (the periodic task's share; the rest stay due for
    the next run), e.g. after a migration made a whole book due at once.
    """
    now = now or timezone.now()
    weights = health_weights()  # read once per run, not once per customer
    written, seen, last_id = 0, 0, 0
    while limit is None or seen < limit:
        rows = list(_due_rows(Customer.objects.filter(pk__gt=last_id), now)[:batch_size])
        if not rows:
            break
        last_id, seen = rows[-1][0], seen + len(rows)
        written += _recompute_rows(rows, now=now, weights=weights)
    return written


def health_refresh(*, customer_ids: Iterable[int], now: dt.datetime | None = None) -> int:
    """Recompute and store, now, the due ones among ``customer_ids``: after a write a user just made.

    A POST that changed a signal (a flag resolved) calls it for its customer,
    so the band the next page shows is stored, not only computed. A fixed
    number of queries; nothing when none is due.
    """
    now = now or timezone.now()
    rows = list(_due_rows(Customer.objects.filter(pk__in=list(customer_ids)), now))
    return _recompute_rows(rows, now=now, weights=health_weights()) if rows else 0


def health_current(customers: Iterable[Customer], *, now: dt.datetime | None = None) -> None:
    """Set the score and explanation of the due ones among ``customers`` to what they are now, without saving.

    A flag raised or resolved, a check-up logged, marks the customer due; the
    page that shows the customer next computes their score in memory, so the
    band it prints is never the stale one, and a GET still writes nothing: the
    sweep stores it within minutes. A fixed number of queries for a page of
    customers; none when none is due.
    """
    now = now or timezone.now()
    due = [c for c in customers if c.health_due_at is not None and c.health_due_at <= now]
    if not due:
        return
    weights = health_weights()
    signals = customer_signals([c.pk for c in due], now=now)
    for customer in due:
        found = signals[customer.pk]
        found.last_contact_at, found.quiet_after = customer.last_contact_at, customer.quiet_after
        customer.health_score, customer.health_explanation = health_score(found, now=now, weights=weights)


def _due_rows(customers: QuerySet[Customer], now: dt.datetime) -> QuerySet[Customer, DueRow]:
    return (
        customers.filter(health_due_at__lte=now)
        .order_by("pk")
        .values_list("pk", "health_due_at", "last_contact_at", "quiet_after")
    )


def _recompute_rows(rows: list[DueRow], *, now: dt.datetime, weights: dict[str, int]) -> int:
    """Score the rows (id, due time read, contact clock) and write each result if its due time still holds."""
    signals = customer_signals([row[0] for row in rows], now=now)
    with transaction.atomic():
        scored: dict[int, int] = {}
        for pk, due_at, last_contact_at, quiet_after in rows:
            found = signals[pk]
            found.last_contact_at, found.quiet_after = last_contact_at, quiet_after
            score, explanation = health_score(found, now=now, weights=weights)
            if Customer.objects.filter(pk=pk, health_due_at=due_at).update(
                health_score=score,
                health_explanation=explanation,
                health_updated_at=now,
                health_due_at=health_next_due(found, now=now),
            ):
                scored[pk] = score
        health_snapshot_write(scored, on=now.date())
    return len(scored)


def health_weights() -> dict[str, int]:
    """The weights a manager saved (customers.HealthWeights), over the defaults of settings; one query."""
    saved = HealthWeights.objects.filter(pk=1).values_list("weights", flat=True).first() or {}
    defaults = settings.AFTERSALES["HEALTH_WEIGHTS"]
    return {key: int(saved.get(key, value)) for key, value in defaults.items()}


def health_snapshot_write(scores: dict[int, int], *, on: dt.date) -> None:
    """Keep each score as the customer's snapshot of the day (one upsert per batch): the history behind the trend."""
    HealthSnapshot.objects.bulk_create(
        [HealthSnapshot(customer_id=pk, score=score, taken_on=on) for pk, score in scores.items()],
        update_conflicts=True,
        unique_fields=["customer", "taken_on"],
        update_fields=["score"],
    )


def customer_signals(ids: list[int], *, now: dt.datetime) -> dict[int, Signals]:
    """Signals of many customers in a fixed number of grouped queries (recency is on the customer row)."""
    signals: dict[int, Signals] = defaultdict(Signals)
    scheduled = TouchPoint.objects.filter(customer_id__in=ids, status=Status.SCHEDULED).values("customer_id")
    for row in scheduled.annotate(
        overdue=Count("pk", filter=Q(due_at__lt=now)), next_due=Min("due_at", filter=Q(due_at__gte=now))
    ):
        signals[row["customer_id"]].overdue = row["overdue"]
        signals[row["customer_id"]].next_due_at = row["next_due"]
    missed = TouchPoint.objects.filter(customer_id__in=ids, status=Status.MISSED, due_at__gte=now - MISSED_LOOKBACK)
    for missed_row in missed.values("customer_id").annotate(n=Count("pk"), oldest=Min("due_at")):
        signals[missed_row["customer_id"]].missed = missed_row["n"]
        signals[missed_row["customer_id"]].oldest_missed_at = missed_row["oldest"]
    readings = TouchPoint.objects.filter(customer_id__in=ids, status=Status.DONE, temperature__isnull=False)
    for customer_id, temperature in _latest(readings, "completed_at", 3, "temperature"):
        signals[customer_id].temperatures.append(temperature)
    answers = SurveyResponse.objects.filter(customer_id__in=ids)
    for customer_id, nps in _latest(answers.filter(nps__isnull=False), "submitted_at", 1, "nps"):
        signals[customer_id].nps = nps
    for customer_id, csat in _latest(answers.filter(csat__isnull=False), "submitted_at", 1, "csat"):
        signals[customer_id].csat = csat
    unresolved = RiskFlag.objects.open().filter(customer_id__in=ids, reason__in=NEVER_GREEN_WITH)
    for flag_row in unresolved.values("customer_id", "reason").annotate(n=Count("pk")):
        found = signals[flag_row["customer_id"]]
        found.open_unresolved.append(flag_row["reason"])
        if flag_row["reason"] == FlagReason.PROBLEM_REPORTED:
            found.open_problems = flag_row["n"]
    renewals = Purchase.objects.filter(customer_id__in=ids, renewal_date__gte=now.date())
    for renewal_row in renewals.values("customer_id").annotate(next_renewal=Min("renewal_date")):
        signals[renewal_row["customer_id"]].renewal_date = renewal_row["next_renewal"]
    return signals


def _latest(queryset: QuerySet[Model], order_field: str, count: int, value: str) -> list[tuple[int, int]]:
    """(customer_id, value) of each customer's ``count`` newest rows, newest first (a window function)."""
    rank = Window(RowNumber(), partition_by=[F("customer_id")], order_by=[F(order_field).desc(), F("pk").desc()])
    ranked = queryset.annotate(rank=rank).filter(rank__lte=count)
    return list(ranked.order_by("customer_id", "rank").values_list("customer_id", value))


def _quiet_soon_from(signals: Signals) -> dt.datetime | None:
    """When less than a third of the customer's quiet threshold is left."""
    if signals.quiet_after is None or signals.last_contact_at is None:
        return None
    return signals.quiet_after - (signals.quiet_after - signals.last_contact_at) / 3


def _renewal_window_end(now: dt.datetime) -> dt.date:
    return now.date() + dt.timedelta(days=settings.AFTERSALES["RENEWAL_WINDOW_DAYS"])


def _renewal_contact_gap() -> dt.timedelta:
    return dt.timedelta(days=settings.AFTERSALES["RENEWAL_CONTACT_DAYS"])


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
