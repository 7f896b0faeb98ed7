"""Writes of the dashboard: the rollup row a job refreshes and the page reads.

Computing every chart scans a year of answers, invitations and check-ups:
cheap at a few thousand rows, too slow for a page at 100,000 customers
(docs/BENCHMARKS.md, "Managers' dashboard"). So a beat
job (``dashboard_refresh_task``, every 5 minutes) stores the result in today's
DailyRollup row and the page shows it "as of HH:MM"; the page computes it
itself only when the row is missing or older than ``MAX_AGE`` (no beat running,
e.g. in development).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from aftersales.dashboard import selectors
from aftersales.dashboard.models import DailyRollup

MAX_AGE = dt.timedelta(minutes=15)
TREND_DAYS = 30


@transaction.atomic
def dashboard_refresh(*, now: dt.datetime | None = None) -> DailyRollup:
    """Compute every chart now and store it as today's rollup; backfill the at-risk trend's missing days."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    months = selectors.month_starts(now)
    since = months[0]
    head = selectors.headline(now)
    data = {
        "months": [selectors.month_key(month) for month in months],
        "headline": head,
        "answers": selectors.answers_by_month(since),
        "invitations": selectors.invitations_by_month(since),
        "loops": selectors.detractor_loops_by_month(since),
        "loops_open": selectors.detractor_loops_open_by_month(since),
        "reps": selectors.checkups_by_rep(now),
        "checkup_window_days": selectors.CHECKUP_WINDOW_DAYS,
        "nps_window_days": selectors.NPS_WINDOW_DAYS,
    }
    rollup, _ = DailyRollup.objects.update_or_create(
        day=today,
        defaults={"at_risk": head["at_risk_count"], "data": data, "computed_at": now, "backfilled": False},
    )
    _backfill(today)
    return rollup


def _backfill(today: dt.date) -> None:
    """Days of the trend window no job measured get their count reconstructed from the flags (one query)."""
    days = [today - dt.timedelta(days=offset) for offset in range(1, TREND_DAYS)]
    measured = set(DailyRollup.objects.filter(day__in=days).values_list("day", flat=True))
    missing = [day for day in days if day not in measured]
    if not missing:
        return
    counts = selectors.at_risk_on_days(missing)
    moment = timezone.now()
    DailyRollup.objects.bulk_create(
        [DailyRollup(day=day, at_risk=counts[day.isoformat()], computed_at=moment, backfilled=True) for day in missing],
        ignore_conflicts=True,
    )


def dashboard_current(*, now: dt.datetime | None = None) -> DailyRollup:
    """Today's rollup if it is recent enough, else a fresh one (1 query when fresh)."""
    now = now or timezone.now()
    rollup = DailyRollup.objects.filter(day=timezone.localdate(now)).first()
    if rollup is None or rollup.computed_at < now - MAX_AGE or rollup.computed_at > now:
        rollup = dashboard_refresh(now=now)
    return rollup


def at_risk_trend(*, today: dt.date) -> list[DailyRollup]:
    """The last TREND_DAYS days' at-risk counts, oldest first (1 query, snapshots left out)."""
    start = today - dt.timedelta(days=TREND_DAYS - 1)
    return list(DailyRollup.objects.filter(day__gte=start, day__lte=today).defer("data").order_by("day"))
