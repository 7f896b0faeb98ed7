"""One demo customer's risk flags, raised and resolved by the rules the app's own sweeps use.

Flags follow from the rows already generated (contact dates, temperatures,
problems, renewals, survey answers), so a flag always has its evidence on the
customer's timeline, and at most one flag per reason is open at a time (the
database enforces it: ``riskflag_one_open_per_reason``).
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from aftersales.demo.state import CustomerState

DAY = timedelta(days=1)
MINUTE = timedelta(minutes=1)
ARROW = " → "
CALLED_BACK = "Called back and agreed on a fix."
SORTED_OUT = "Sorted out: the next check-up found the customer content again."


@dataclass(frozen=True)
class Rules:
    """The thresholds of settings.AFTERSALES the sweeps use (defaults where a setting is missing)."""

    renewal_window_days: int = 60
    renewal_contact_days: int = 30
    overdue_flag_days: int = 3  # a scheduled check-up this late raises "overdue check-ups"


def flag(
    flags: list[tuple],
    state: CustomerState,
    now: datetime,
    reason: str,
    detail: str,
    data: dict,
    raised: datetime,
    *,
    resolved: datetime | None = None,
    resolution: str = CALLED_BACK,
) -> None:
    """Append a flag, resolved at ``resolved`` or open; an open flag for the reason already stands."""
    resolved_by = state.owner if resolved else None
    resolution = resolution if resolved else ""
    earlier = state.open_flags.get(reason)
    if resolved is None:
        if earlier is not None:
            return
        state.open_flags[reason] = (len(flags), raised)
    elif earlier is not None and earlier[1] <= resolved:
        # The contact that settled this one settled the earlier, still open one too.
        index = earlier[0]
        old = flags[index]
        flags[index] = (*old[:5], resolved, resolved_by, resolution, *old[8:])
        del state.open_flags[reason]
    notified = raised + 10 * MINUTE if raised < now - DAY else None  # fresh ones await the notifier
    flags.append(
        (state.cid, reason, detail, json.dumps(data), raised, resolved, resolved_by, resolution, None, notified)
    )


def customer_flags(
    flags: list[tuple],
    state: CustomerState,
    now: datetime,
    rules: Rules,
    *,
    quiet_after: datetime,
    overdue: list[datetime],
    renewals: list[int],
) -> None:
    """The flags that follow from the customer's whole history (called once it is complete)."""
    today = now.toordinal()
    silent_days = (now - state.last_contact).days
    if quiet_after <= now:
        detail = f"No two-way contact for {silent_days} days (last on {state.last_contact:%d %b %Y})"
        flag(flags, state, now, "gone_quiet", detail, {"days_silent": silent_days}, quiet_after)
    if overdue:
        plural = "s" if len(overdue) > 1 else ""
        detail = f"{len(overdue)} overdue check-up{plural}, oldest due {overdue[0]:%d %b}"
        raised = overdue[0] + rules.overdue_flag_days * DAY
        flag(flags, state, now, "overdue_checkups", detail, {"count": len(overdue)}, raised)
    _problems(flags, state, now)
    temperatures = [t for _, t in sorted(state.temperatures)[-3:]]
    if len(temperatures) == 3 and temperatures[0] > temperatures[1] > temperatures[2]:
        detail = "Temperature falling over the last three check-ups: " + ARROW.join(map(str, temperatures))
        flag(flags, state, now, "cold_temperature", detail, {"temperatures": temperatures}, max(state.temperatures)[0])
    upcoming = [d for d in renewals if today <= d <= today + rules.renewal_window_days]
    if upcoming and silent_days > rules.renewal_contact_days:
        when = date.fromordinal(min(upcoming))
        detail = f"Renewal on {when} (in {when.toordinal() - today} days), no two-way contact for {silent_days} days"
        raised = max(now - DAY, datetime.fromordinal(when.toordinal() - rules.renewal_window_days))
        flag(flags, state, now, "renewal_no_contact", detail, {"renewal_date": when.isoformat()}, raised)


def _problems(flags: list[tuple], state: CustomerState, now: datetime) -> None:
    """A problem reported at a check-up stays open until a later check-up finds the customer content (3–5)."""
    warm = sorted(state.warm)
    for reported, tp_id in sorted(state.problems):
        later = bisect.bisect_right(warm, reported)
        resolved = warm[later] if later < len(warm) else None
        detail = f"Problem reported at the check-up of {reported:%d %b %Y}"
        data = {"touchpoint_id": tp_id}
        flag(flags, state, now, "problem_reported", detail, data, reported, resolved=resolved, resolution=SORTED_OUT)
