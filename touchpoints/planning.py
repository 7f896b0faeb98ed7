"""Turning a check-up plan into touch points, and editing the plans themselves.

A purchase is recorded; its plan (the purchase's own or the product's default)
says "a call on day 3, a visit on day 30"; here those become TouchPoint rows
due at 10:00 on that day in the customer's time zone, assigned to the
customer's owner. A renewal date adds renewal check-ups ahead of it. The
calendar arithmetic lives in :mod:`touchpoints.scheduling` (pure, no database);
this module only decides which check-ups to create and writes them.

Managers edit plans in the app (plan_views.py); :func:`checkup_plan_save`
writes a plan and its ordered steps in one transaction.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.audit.models import AuditAction
from aftersales.audit.services import audit_changes, audit_record, audit_snapshot
from aftersales.core.bulkcopy import bulk_insert
from aftersales.core.roles import Actor
from customers.models import Product, Purchase
from touchpoints import scheduling
from touchpoints.models import Channel, CheckupPlan, Kind, PlanStep, TouchPoint

# Renewal check-ups are phone calls: the customer decides whether to renew.
RENEWAL_CHANNEL = Channel.CALL
# What the audit trail compares on a plan save (the steps are summarised separately).
PLAN_AUDIT = ("name", "description", "skip_weekends", "renewal_offsets_days", "active")


@dataclass(frozen=True)
class PlannedCheckup:
    """One check-up a plan asks for, before it becomes a row."""

    kind: str
    day: dt.date
    step: PlanStep | None = None
    renewal_offset: int | None = None


def local_today(tz_name: str, now: dt.datetime | None = None) -> dt.date:
    """Today's date where the customer lives (their day may not be ours)."""
    return (now or timezone.now()).astimezone(zoneinfo.ZoneInfo(tz_name)).date()


def renewal_offsets(plan: CheckupPlan | None) -> tuple[int, ...]:
    """The plan's renewal offsets; without a plan, or with none set, DESIGN's 60 and 14 days."""
    if plan is not None and plan.renewal_offsets_days:
        return tuple(int(days) for days in plan.renewal_offsets_days)
    return scheduling.DEFAULT_RENEWAL_OFFSETS


def planned_checkups(
    *,
    steps: Sequence[PlanStep],
    start: dt.date,
    renewal: dt.date | None,
    offsets: Sequence[int],
    skip_weekends: bool,
    today: dt.date,
) -> list[PlannedCheckup]:
    """The check-ups to create, without touching the database.

    A check-up whose day has already passed (in the customer's time zone) is
    left out: a purchase recorded late, or imported from last year, must not
    bury the rep under overdue work nobody can do any more. A check-up due
    today is kept: it is still today's job.
    """
    checkups = [
        PlannedCheckup(Kind.PLANNED, scheduling.step_day(start, step.offset_days, skip_weekends=skip_weekends), step)
        for step in steps
    ]
    if renewal is not None:
        checkups += [
            PlannedCheckup(Kind.RENEWAL, day, renewal_offset=offset)
            for offset, day in scheduling.renewal_days(renewal, offsets, skip_weekends=skip_weekends)
        ]
    return [checkup for checkup in checkups if checkup.day >= today]


def purchase_plan(purchase: Purchase) -> CheckupPlan | None:
    """The plan a purchase follows: its own, else its product's default; an inactive plan schedules nothing."""
    plan = purchase.plan or purchase.product.default_plan
    return plan if plan is not None and plan.active else None


def touchpoints_schedule(*, purchase: Purchase, created_by: Actor | None = None) -> list[TouchPoint]:
    """Create the purchase's plan and renewal check-ups; return them, soonest first.

    Called by ``purchase_record`` inside its transaction, once per new
    purchase (its idempotency guard makes sure of that); the unique
    constraint on (purchase, plan_step) stops a second run from doubling
    the plan's check-ups even so.
    """
    plan = purchase_plan(purchase)
    steps = list(plan.steps.order_by("position")) if plan else []
    rows = _touchpoints_for(purchase, plan, steps, created_by, local_today(purchase.customer.timezone))
    return TouchPoint.objects.bulk_create(rows)


def touchpoints_schedule_bulk(*, purchases: Sequence[Purchase], created_by: Actor | None = None) -> int:
    """``touchpoints_schedule`` for many new purchases at once (the spreadsheet import); returns the count.

    The same rules, row for row — the rows come from the same functions —
    but plans and their steps are read once, not per purchase, and the rows
    go in with COPY on PostgreSQL (aftersales/core/bulkcopy.py). Each purchase
    needs ``customer`` and ``product`` loaded and a primary key. Call inside
    the transaction that created them.
    """
    plan_ids = {plan_id for purchase in purchases if (plan_id := _plan_id(purchase)) is not None}
    plans = {plan.pk: plan for plan in CheckupPlan.objects.filter(pk__in=plan_ids).prefetch_related("steps")}
    steps = {pk: sorted(plan.steps.all(), key=lambda step: step.position) for pk, plan in plans.items()}
    todays: dict[str, dt.date] = {}
    rows: list[dict[str, Any]] = []
    for purchase in purchases:
        plan_id = _plan_id(purchase)
        plan = plans.get(plan_id) if plan_id is not None else None
        plan = plan if plan is not None and plan.active else None
        tz_name = purchase.customer.timezone
        if tz_name not in todays:
            todays[tz_name] = local_today(tz_name)
        plan_steps = steps.get(plan.pk, []) if plan else []
        rows += _touchpoint_rows(purchase, plan, plan_steps, created_by, todays[tz_name])
    return bulk_insert(TouchPoint, rows)


def _plan_id(purchase: Purchase) -> int | None:
    """The id of the plan a purchase follows (``purchase_plan`` without reading the plan)."""
    return purchase.plan_id or purchase.product.default_plan_id


def _touchpoints_for(
    purchase: Purchase,
    plan: CheckupPlan | None,
    steps: Sequence[PlanStep],
    created_by: Actor | None,
    today: dt.date,
) -> list[TouchPoint]:
    rows = [TouchPoint(**fields) for fields in _touchpoint_rows(purchase, plan, steps, created_by, today)]
    for row in rows:  # callers read these without another query
        row.customer, row.purchase = purchase.customer, purchase
    return rows


def _touchpoint_rows(
    purchase: Purchase,
    plan: CheckupPlan | None,
    steps: Sequence[PlanStep],
    created_by: Actor | None,
    today: dt.date,
) -> list[dict[str, Any]]:
    """The check-ups of one purchase as field values, soonest first: the one place the rules live."""
    checkups = planned_checkups(
        steps=steps,
        start=purchase.plan_start,
        renewal=purchase.renewal_date,
        offsets=renewal_offsets(plan),
        # Without a plan the renewal calls still avoid weekends, like the model's default.
        skip_weekends=plan.skip_weekends if plan else True,
        today=today,
    )
    rows = [_touchpoint(purchase, checkup, created_by) for checkup in checkups]
    rows.sort(key=lambda row: row["due_at"])
    return rows


def _touchpoint(purchase: Purchase, checkup: PlannedCheckup, created_by: Actor | None) -> dict[str, Any]:
    customer = purchase.customer
    fields = {
        "customer_id": customer.pk,
        "purchase_id": purchase.pk,
        "assignee_id": customer.owner_id,
        "kind": checkup.kind,
        "due_at": scheduling.due_at(checkup.day, customer.timezone),
        "created_by_id": created_by.pk if created_by is not None else None,
    }
    if checkup.step is not None:
        step = checkup.step
        # Copied, not referenced: editing the plan later must not rewrite history.
        fields |= {
            "plan_step_id": step.pk,
            "channel": step.channel,
            "objective": step.objective,
            "survey_follows": step.survey_follows,
        }
    else:
        # Shown to the rep; the customer's email phrases renewals in their own language.
        fields |= {
            "channel": RENEWAL_CHANNEL,
            "objective": (
                f"Renewal on {purchase.renewal_date:%d %b %Y} ({checkup.renewal_offset} days ahead): "
                f"how is {purchase.product.name} working for them, and do they mean to renew?"
            ),
        }
    return fields


# --- Editing plans -------------------------------------------------------------


@dataclass(frozen=True)
class StepData:
    """One step as the manager left it; ``step_id`` is None for a new step."""

    offset_days: int
    channel: str
    objective: str
    survey_follows: bool = False
    step_id: int | None = None


@transaction.atomic
def checkup_plan_save(
    *,
    plan: CheckupPlan | None,
    name: str,
    description: str = "",
    skip_weekends: bool = True,
    renewal_offsets_days: Sequence[int] = (),
    active: bool = True,
    steps: Sequence[StepData],
    products: Sequence[Product] | None = None,
    by: Actor | None = None,
) -> CheckupPlan:
    """Create or update a plan with its steps in this order, all or nothing.

    Steps keep their identity (touch points point at the step that made
    them); steps left out are deleted, the rest renumbered 1…n. ``products``,
    when given, is the full set of products whose default plan this is.
    """
    # Two managers saving the same plan at once: the second waits for the row
    # lock, then renumbers from what the first one left instead of colliding.
    plan = CheckupPlan() if plan is None else CheckupPlan.objects.select_for_update().get(pk=plan.pk)
    before = {} if plan.pk is None else audit_snapshot(plan, PLAN_AUDIT)
    before_steps = [] if plan.pk is None else _step_summary(plan)
    plan.name = name
    plan.description = description
    plan.skip_weekends = skip_weekends
    plan.renewal_offsets_days = sorted({int(days) for days in renewal_offsets_days}, reverse=True)
    plan.active = active
    plan.full_clean()
    plan.save()
    _save_steps(plan, steps)
    if products is not None:
        chosen = [product.pk for product in products]
        Product.objects.filter(default_plan=plan).exclude(pk__in=chosen).update(default_plan=None)
        Product.objects.filter(pk__in=chosen).update(default_plan=plan)
    changes = audit_changes(before, audit_snapshot(plan, PLAN_AUDIT))
    after_steps = _step_summary(plan)
    if after_steps != before_steps:
        changes["steps"] = [before_steps, after_steps]
    audit_record(actor=by, action=AuditAction.CHANGED if before else AuditAction.CREATED, obj=plan, changes=changes)
    return plan


def _step_summary(plan: CheckupPlan) -> list[str]:
    """The steps as the audit trail shows them: "day 7 call", in order."""
    return [f"day {step.offset_days} {step.channel}" for step in plan.steps.order_by("position", "pk")]


def _save_steps(plan: CheckupPlan, steps: Sequence[StepData]) -> None:
    existing = {step.pk: step for step in plan.steps.all()}
    kept_ids = [data.step_id for data in steps if data.step_id is not None]
    unknown = set(kept_ids) - existing.keys()
    if unknown or len(kept_ids) != len(set(kept_ids)):
        # A tampered or stale form: never touch another plan's steps.
        raise ValidationError(_("The steps changed while you were editing; reload the page and try again."))
    plan.steps.exclude(pk__in=kept_ids).delete()

    # (plan, position) is unique and checked row by row, so renumbering in
    # place could collide; park the kept steps above every position in use first.
    parked_from = max(plan.steps.aggregate(top=Max("position"))["top"] or 0, len(steps)) + 1
    kept = [existing[step_id] for step_id in kept_ids]
    for offset, step in enumerate(kept):
        step.position = parked_from + offset
    PlanStep.objects.bulk_update(kept, ["position"])

    updated: list[PlanStep] = []
    created: list[PlanStep] = []
    for position, data in enumerate(steps, start=1):
        step = existing[data.step_id] if data.step_id is not None else PlanStep(plan=plan)
        step.position = position
        step.offset_days = data.offset_days
        step.channel = data.channel
        step.objective = data.objective
        step.survey_follows = data.survey_follows
        step.full_clean(exclude=["plan", "position"], validate_unique=False, validate_constraints=False)
        (updated if step.pk else created).append(step)
    PlanStep.objects.bulk_update(updated, ["position", "offset_days", "channel", "objective", "survey_follows"])
    PlanStep.objects.bulk_create(created)
