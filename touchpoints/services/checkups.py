"""Writes on touch points: logging a check-up, ad hoc contacts, rescheduling and cancelling.

Every function checks all of its input before it writes anything, so bad
input raises ``ValidationError`` (a dict keyed by argument name, which a form
maps onto its fields) and leaves the database as it was.

A touch point is *claimed* with one conditional UPDATE (``WHERE status IN
open``) before anything else changes. Two submits of the same check-up (a
double click, two tabs, a retried POST) race for that UPDATE: the database
lets exactly one change the row; the other sees 0 rows, raises, and its
transaction writes nothing. On PostgreSQL the second UPDATE waits for the
first transaction's row lock and then re-checks the status; on SQLite writers
are serialised anyway.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext

from aftersales.audit.models import AuditAction
from aftersales.audit.services import audit_record
from aftersales.core.roles import Actor
from customers.models import Customer, FlagReason, RiskFlag
from customers.services import (
    RESOLUTION_MAX_LENGTH,
    customer_record_two_way_contact,
    riskflag_raise,
    riskflags_resolve_many,
)
from touchpoints import scheduling
from touchpoints.careplan import careplan_notify_date_moved
from touchpoints.models import Channel, Kind, Outcome, Status, TouchPoint
from touchpoints.selectors import close_loop_flags
from touchpoints.services.checks import (
    CHECKUP_OUTCOMES,
    Contact,
    _append_to_notes,
    _check_may_act,
    _claim,
    _future_date_errors,
    _raise_if,
    _reason_errors,
)


def _follow_up(
    touchpoint: TouchPoint, by: Actor, *, kind: str, channel: str, objective: str, due_at: dt.datetime
) -> TouchPoint:
    """A touch point that follows ``touchpoint``: same customer and purchase, for the customer's owner."""
    return TouchPoint.objects.create(
        customer=touchpoint.customer,
        purchase=touchpoint.purchase,
        assignee_id=touchpoint.customer.owner_id,
        kind=kind,
        channel=channel,
        objective=objective,
        due_at=due_at,
        follows=touchpoint,
        created_by=by,
    )


def _after_contact(
    *, touchpoint: TouchPoint, by: Actor, now: dt.datetime, notes: str, next_step_due: dt.date | None
) -> list[TouchPoint]:
    """What every logged contact may set off; returns the touch points it created."""
    customer = touchpoint.customer
    created = []
    if touchpoint.is_two_way:
        customer_record_two_way_contact(customer=customer, at=now, by=by)
    if touchpoint.next_step:
        assert next_step_due is not None  # Contact.checked refused a next step without its date
        created.append(
            _follow_up(
                touchpoint,
                by,
                kind=Kind.FOLLOW_UP,
                channel=touchpoint.channel,
                objective=touchpoint.next_step,
                due_at=scheduling.due_at(next_step_due, customer.timezone),
            )
        )
    if touchpoint.problem_reported:
        excerpt = " ".join(notes.split())[:200]
        created.append(
            _follow_up(
                touchpoint,
                by,
                kind=Kind.FOLLOW_UP,
                channel=Channel.CALL,
                objective="Follow up on the problem reported" + (f": {excerpt}" if excerpt else "."),
                # Within one business day, on the customer's calendar.
                due_at=scheduling.next_business_day(now, customer.timezone),
            )
        )
        riskflag_raise(
            customer=customer,
            reason=FlagReason.PROBLEM_REPORTED,
            detail=f"{date_format(now, 'j M Y')}, {touchpoint.get_kind_display().lower()}: {excerpt or 'no notes'}",
            data={"touchpoint": touchpoint.pk},
        )
    if touchpoint.kind == Kind.CLOSE_LOOP and touchpoint.outcome == Outcome.NO_ANSWER:
        # The loop stays open: its flags too, and the next try is on the rep's day.
        created.append(
            _follow_up(
                touchpoint,
                by,
                kind=Kind.CLOSE_LOOP,
                channel=touchpoint.channel,
                objective=touchpoint.objective,
                # The next business day, on the customer's calendar, like the first call.
                due_at=scheduling.next_business_day(now, customer.timezone),
            )
        )
    return created


def _loop_flag_errors(
    *, touchpoint: TouchPoint, outcome: str, notes: str, resolve_flags: Sequence[RiskFlag]
) -> dict[str, str]:
    """A reached close-the-loop call resolves the flags ticked among its own, with its notes as the resolution."""
    if not resolve_flags or outcome != Outcome.REACHED:
        return {}
    own = set(close_loop_flags(touchpoint).values_list("pk", flat=True))
    if any(flag.pk not in own for flag in resolve_flags):
        return {"resolve_flags": gettext("Only the open flags this call is about can be resolved with it.")}
    if not notes.strip():
        return {"notes": gettext("Write how it was settled: the notes become the resolution of the ticked flags.")}
    return {}


def _resolution_from(notes: str) -> str:
    """The call's notes as a flag's resolution: cut to fit (the touch point keeps them whole)."""
    notes = notes.strip()
    return notes if len(notes) <= RESOLUTION_MAX_LENGTH else notes[: RESOLUTION_MAX_LENGTH - 1] + "…"


@transaction.atomic
def touchpoint_complete(
    *,
    touchpoint: TouchPoint,
    by: Actor,
    outcome: str,
    temperature: int | None = None,
    notes: str = "",
    next_step: str = "",
    next_step_due: dt.date | None = None,
    problem_reported: bool = False,
    resolve_flags: Sequence[RiskFlag] = (),
) -> TouchPoint:
    """Log a scheduled check-up: its outcome, the customer's temperature, notes and what happens next.

    A next step becomes a follow-up touch point for the customer's owner, due
    at 10:00 their time on that day; a reported problem becomes a follow-up
    within one business day and a ``problem_reported`` flag. A two-way
    outcome moves the customer's contact clock. All or nothing.

    A close-the-loop call: *reached* resolves ``resolve_flags`` (some of
    ``close_loop_flags(touchpoint)``, those the rep ticked) with the notes as
    the resolution; any other outcome leaves them open, and *no answer*
    schedules the next try on the next business day.

    What the survey side makes of a logged check-up (the survey a plan step
    asks for, the call-back time of the answer a close-the-loop call answers)
    is found afterwards by feedback's own jobs (feedback/services/planning.py and
    feedback/services/loops.py): this app does not call up into feedback.
    """
    customer = touchpoint.customer
    _check_may_act(customer=customer, touchpoint=touchpoint, by=by)
    resolve_flags = list(resolve_flags or ())
    contact = Contact.checked(
        customer=customer,
        outcomes=CHECKUP_OUTCOMES,
        extra_errors=_loop_flag_errors(
            touchpoint=touchpoint, outcome=outcome, notes=notes, resolve_flags=resolve_flags
        ),
        next_step_due=next_step_due,
        outcome=outcome,
        temperature=temperature,
        notes=notes,
        next_step=next_step,
        problem_reported=problem_reported,
    )
    now = timezone.now()
    # Notes go after what the row already says (the reasons it was moved).
    fields = {**contact.fields(), "notes": _append_to_notes(contact.notes) if contact.notes else F("notes")}
    old_status = touchpoint.status
    _claim(touchpoint, status=Status.DONE, completed_at=now, **fields)
    audit_record(
        actor=by,
        action=AuditAction.COMPLETED,
        obj=touchpoint,
        changes={
            "status": [old_status, touchpoint.status],
            "outcome": [None, contact.outcome],
            "temperature": [None, contact.temperature],
        },
    )
    _after_contact(touchpoint=touchpoint, by=by, now=now, notes=contact.notes, next_step_due=next_step_due)
    if resolve_flags and contact.outcome == Outcome.REACHED:
        riskflags_resolve_many(flags=resolve_flags, by=by, resolution=_resolution_from(contact.notes))
    return touchpoint


def touchpoints_survey_checked(*, touchpoint_ids: Iterable[int], at: dt.datetime) -> int:
    """Record that the survey planner looked at these logged check-ups, so it never looks again."""
    return TouchPoint.objects.filter(pk__in=list(touchpoint_ids), survey_checked_at__isnull=True).update(
        survey_checked_at=at
    )


@transaction.atomic
def touchpoint_log_adhoc(
    *,
    customer: Customer,
    by: Actor,
    channel: str,
    outcome: str,
    notes: str = "",
    temperature: int | None = None,
    next_step: str = "",
    next_step_due: dt.date | None = None,
    problem_reported: bool = False,
) -> TouchPoint:
    """Record a contact nobody scheduled (the customer called, an email, a visit), as done now."""
    _check_may_act(customer=customer, touchpoint=None, by=by)
    bad_channel = channel not in Channel.values
    contact = Contact.checked(
        customer=customer,
        outcomes=tuple(Outcome.values),
        extra_errors={"channel": "Choose how you were in touch: call, email, meeting or visit."} if bad_channel else {},
        next_step_due=next_step_due,
        outcome=outcome,
        temperature=temperature,
        notes=notes,
        next_step=next_step,
        problem_reported=problem_reported,
    )
    now = timezone.now()
    touchpoint = TouchPoint.objects.create(
        customer=customer,
        assignee=by,
        kind=Kind.AD_HOC,
        channel=channel,
        status=Status.DONE,
        due_at=now,
        completed_at=now,
        created_by=by,
        **contact.fields(),
    )
    Customer.objects.filter(
        pk=customer.pk
    ).mark_health_due()  # a new temperature reading (aftersales/health/services.py)
    audit_record(
        actor=by,
        action=AuditAction.LOGGED,
        obj=touchpoint,
        changes={"channel": [None, channel], "outcome": [None, contact.outcome], "temperature": [None, temperature]},
    )
    _after_contact(touchpoint=touchpoint, by=by, now=now, notes=contact.notes, next_step_due=next_step_due)
    return touchpoint


@transaction.atomic
def touchpoint_reschedule(*, touchpoint: TouchPoint, by: Actor, due_date: dt.date | None, reason: str) -> TouchPoint:
    """Move an open check-up to another day (10:00 customer time), keeping the reason in its notes.

    The reminder is due again for the new date. A check-up of the care plan
    shared with the customer tells them when its day changes.
    """
    customer = touchpoint.customer
    _check_may_act(customer=customer, touchpoint=touchpoint, by=by)
    reason = reason.strip()
    errors = _reason_errors(reason, what="moved")
    if due_date is None:
        errors["due_date"] = "Pick the new date."
    errors.update(_future_date_errors(due_date, customer, field="due_date", what="The new date"))
    _raise_if(errors)
    assert due_date is not None  # a missing date is one of the errors raised above
    old_due_at = touchpoint.due_at
    new_due_at = scheduling.due_at(due_date, customer.timezone)
    who = by.get_full_name() or by.get_username()
    old_day = date_format(old_due_at.astimezone(customer.tz), "j M Y")
    line = f"Moved from {old_day} to {date_format(due_date, 'j M Y')} by {who}: {reason}"
    _claim(
        touchpoint,
        status=Status.SCHEDULED,
        due_at=new_due_at,
        reminder_sent_at=None,
        notes=_append_to_notes(line),
    )
    audit_record(actor=by, action=AuditAction.RESCHEDULED, obj=touchpoint, changes={"due_at": [old_due_at, new_due_at]})
    if touchpoint.kind in (Kind.PLANNED, Kind.RENEWAL):
        careplan_notify_date_moved(touchpoint=touchpoint, old_due_at=old_due_at)
    return touchpoint


@transaction.atomic
def touchpoint_cancel(*, touchpoint: TouchPoint, by: Actor, reason: str) -> TouchPoint:
    """Cancel an open check-up; the reason is required so the timeline says why it never happened."""
    _check_may_act(customer=touchpoint.customer, touchpoint=touchpoint, by=by)
    reason = reason.strip()
    _raise_if(_reason_errors(reason, what="cancelled"))
    old_status = touchpoint.status
    _claim(touchpoint, status=Status.CANCELLED, cancel_reason=reason)
    audit_record(
        actor=by,
        action=AuditAction.CANCELLED,
        obj=touchpoint,
        changes={"status": [old_status, touchpoint.status], "cancel_reason": [None, reason]},
    )
    return touchpoint
