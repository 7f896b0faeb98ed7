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
from dataclasses import asdict, dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, TextField, Value, When
from django.db.models.functions import Concat
from django.utils import timezone
from django.utils.formats import date_format

from aftersales.audit import audit_record, audit_record_many
from aftersales.models import AuditAction, Webhook, WebhookEvent
from aftersales.roles import is_manager
from aftersales.webhooks import webhook_emit_many
from customers.models import Customer, FlagReason, RiskFlag
from feedback.invitations import invitation_schedule_after_checkup
from feedback.models import SurveyResponse

from . import scheduling
from .careplan import careplan_notify_date_moved
from .models import Channel, Kind, Outcome, Status, TouchPoint
from .planning import local_today

# A note is what the rep said happened, not a transcript: 10,000 characters
# is several pages. Larger input is refused with a message, never cut.
NOTES_MAX_LENGTH = 10_000
NEXT_STEP_MAX_LENGTH = TouchPoint._meta.get_field("next_step").max_length
REASON_MAX_LENGTH = TouchPoint._meta.get_field("cancel_reason").max_length
FLAG_DETAIL_MAX_LENGTH = RiskFlag._meta.get_field("detail").max_length
# A date further ahead than this is a typo (2205 for 2025), not a plan.
MAX_DAYS_AHEAD = 3 * 366
# Statuses a rep can still act on: a check-up the sweep marked missed can be
# logged late, rescheduled or cancelled; done and cancelled ones are history.
OPEN_STATUSES = (Status.SCHEDULED, Status.MISSED)
# How a scheduled check-up can end; "the customer got in touch" is an ad hoc contact.
CHECKUP_OUTCOMES = (Outcome.REACHED, Outcome.NO_ANSWER, Outcome.LEFT_MESSAGE)


# --- Checks ---------------------------------------------------------------------------


def _check_may_act(*, customer: Customer, touchpoint: TouchPoint | None, by) -> None:
    """Views scope their querysets already; this is the same rule for every other caller."""
    if is_manager(by) or customer.owner_id == by.pk or (touchpoint is not None and touchpoint.assignee_id == by.pk):
        return
    raise PermissionDenied("Only the customer's rep or a manager may change this touch point.")


def _future_date_errors(day: dt.date | None, customer: Customer, *, field: str, what: str) -> dict[str, str]:
    """Today or later on the customer's calendar (their 10:00 is when it falls due), and not absurdly far."""
    if day is None:
        return {}
    today = local_today(customer.timezone)
    if day < today:
        return {
            field: f"{what} cannot be in the past: {date_format(day, 'j M Y')} is before today "
            f"({date_format(today, 'j M Y')} for the customer)."
        }
    if (day - today).days > MAX_DAYS_AHEAD:
        return {field: f"{what} is more than three years ahead; check the year."}
    return {}


@dataclass(frozen=True)
class Contact:
    """What the rep says happened on a contact, as both ways of logging one write it on the row."""

    outcome: str
    temperature: int | None
    notes: str
    next_step: str
    problem_reported: bool

    @classmethod
    def checked(
        cls,
        *,
        customer: Customer,
        outcomes: tuple[str, ...],
        outcome: str,
        temperature: int | None,
        notes: str,
        next_step: str,
        next_step_due: dt.date | None,
        problem_reported: bool,
        extra_errors: dict[str, str] | None = None,
    ) -> Contact:
        """The contact, or one ValidationError naming every field that is wrong."""
        contact = cls(outcome, temperature, notes.strip(), next_step.strip(), bool(problem_reported))
        _raise_if({**contact.errors(customer, outcomes, next_step_due), **(extra_errors or {})})
        return contact

    def errors(self, customer: Customer, outcomes: tuple[str, ...], next_step_due: dt.date | None) -> dict[str, str]:
        errors: dict[str, str] = {}
        if self.outcome not in outcomes:
            labels = ", ".join(str(Outcome(value).label).lower() for value in outcomes)
            errors["outcome"] = f"Choose what happened: {labels}."
        temperature = self.temperature
        if temperature is not None and (type(temperature) is not int or not 1 <= temperature <= 5):
            errors["temperature"] = "The temperature is a whole number from 1 (cold) to 5 (enthusiastic)."
        if len(self.notes) > NOTES_MAX_LENGTH:
            errors["notes"] = (
                f"Notes can be at most {NOTES_MAX_LENGTH:,} characters; "
                f"these have {len(self.notes):,}. Keep the essentials."
            )
        if len(self.next_step) > NEXT_STEP_MAX_LENGTH:
            errors["next_step"] = f"Describe the next step in at most {NEXT_STEP_MAX_LENGTH} characters."
        elif self.next_step and next_step_due is None:
            errors["next_step_due"] = "Give the next step a date."
        elif next_step_due is not None and not self.next_step:
            errors["next_step"] = "Say what the next step is."
        errors.update(_future_date_errors(next_step_due, customer, field="next_step_due", what="The next step's date"))
        return errors

    def fields(self) -> dict:
        return asdict(self)


def _reason_errors(reason: str, *, what: str) -> dict[str, str]:
    if not reason:
        return {"reason": f"Say why the check-up is {what}."}
    if len(reason) > REASON_MAX_LENGTH:
        return {"reason": f"Keep the reason under {REASON_MAX_LENGTH} characters."}
    return {}


def _raise_if(errors: dict[str, str]) -> None:
    if errors:
        raise ValidationError(errors)


def _append_to_notes(text: str) -> Case:
    """``notes`` with ``text`` added on a new line, computed in SQL from the row's current value."""
    return Case(
        When(notes="", then=Value(text)),
        default=Concat(F("notes"), Value("\n" + text)),
        output_field=TextField(),
    )


def _claim(touchpoint: TouchPoint, **changes) -> None:
    """Change an open touch point in one conditional UPDATE, or raise when it is no longer open."""
    claimed = (
        TouchPoint.objects.filter(pk=touchpoint.pk, status__in=OPEN_STATUSES).update(
            updated_at=timezone.now(), **changes
        )
        == 1
    )
    if not claimed:
        status = TouchPoint.objects.filter(pk=touchpoint.pk).values_list("status", flat=True).first()
        word = {Status.DONE: "logged", Status.CANCELLED: "cancelled"}.get(status, "closed")
        raise ValidationError(f"This check-up was already {word}; nothing was changed.", code="closed")
    # Done, moved or cancelled: the customer's overdue count or temperature changed (customers/health.py).
    Customer.objects.filter(pk=touchpoint.customer_id).mark_health_due()
    touchpoint.refresh_from_db()


# --- Shared effects of a contact ------------------------------------------------------------


def riskflag_raise(*, customer: Customer, reason: str, detail: str, data: dict | None = None) -> RiskFlag:
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
    data: dict | None = None,
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
    data: dict | None = None


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
        if not health_marked:  # open problems count (customers/health.py)
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


def customer_record_two_way_contact(*, customer: Customer, at: dt.datetime, by) -> None:
    """A two-way contact moves last_contact_at and quiet_after and resolves the gone-quiet flag.

    The UPDATE only moves forward: a contact logged late for an earlier moment
    never sets the clock back past a newer one.
    """
    quiet_after = customer.quiet_after_from(at)
    if customer_contact_move(customer_id=customer.pk, at=at, quiet_after=quiet_after, by=by):
        customer.last_contact_at, customer.quiet_after = at, quiet_after


def customer_contact_move(
    *, customer_id: int, at: dt.datetime, quiet_after: dt.datetime, by, gone_quiet_open: bool = True
) -> bool:
    """The writes of ``customer_record_two_way_contact`` for a caller that already knows ``quiet_after``.

    The survey answer reads the quiet threshold and whether a gone-quiet flag
    is open in the query that locks its invitation, and passes
    ``gone_quiet_open=False`` when none is, saving that UPDATE. True when the
    contact moved the clock.
    """
    # Hand-written: every survey answer runs it, and the ORM took longer to build
    # this UPDATE than the database took to run it (docs/BENCHMARKS.md).
    adapt = connection.ops.adapt_datetimefield_value
    now = adapt(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE customers_customer SET last_contact_at = %s, quiet_after = %s, updated_at = %s, health_due_at = %s"
            " WHERE id = %s AND (last_contact_at IS NULL OR last_contact_at < %s)",
            [adapt(at), adapt(quiet_after), now, now, customer_id, adapt(at)],
        )
        moved = cursor.rowcount
    if gone_quiet_open:
        RiskFlag.objects.open().filter(customer_id=customer_id, reason=FlagReason.GONE_QUIET, raised_at__lte=at).update(
            resolved_at=at, resolved_by=by, resolution="Two-way contact logged."
        )
    return bool(moved)


def _after_contact(
    *, touchpoint: TouchPoint, by, now: dt.datetime, notes: str, next_step_due: dt.date | None
) -> list[TouchPoint]:
    """What every logged contact may set off; returns the touch points it created."""
    customer = touchpoint.customer
    created = []
    if touchpoint.is_two_way:
        customer_record_two_way_contact(customer=customer, at=now, by=by)
    if touchpoint.next_step:
        created.append(
            TouchPoint.objects.create(
                customer=customer,
                purchase=touchpoint.purchase,
                assignee_id=customer.owner_id,
                kind=Kind.FOLLOW_UP,
                channel=touchpoint.channel,
                objective=touchpoint.next_step,
                due_at=scheduling.due_at(next_step_due, customer.timezone),
                follows=touchpoint,
                created_by=by,
            )
        )
    if touchpoint.problem_reported:
        excerpt = " ".join(notes.split())[:200]
        created.append(
            TouchPoint.objects.create(
                customer=customer,
                purchase=touchpoint.purchase,
                assignee_id=customer.owner_id,
                kind=Kind.FOLLOW_UP,
                channel=Channel.CALL,
                objective="Follow up on the problem reported" + (f": {excerpt}" if excerpt else "."),
                # Within one business day, on the customer's calendar.
                due_at=scheduling.next_business_day(now, customer.timezone),
                follows=touchpoint,
                created_by=by,
            )
        )
        riskflag_raise(
            customer=customer,
            reason=FlagReason.PROBLEM_REPORTED,
            detail=f"{date_format(now, 'j M Y')}, {touchpoint.get_kind_display().lower()}: {excerpt or 'no notes'}",
            data={"touchpoint": touchpoint.pk},
        )
    return created


# --- The writes -------------------------------------------------------------------------------


@transaction.atomic
def touchpoint_complete(
    *,
    touchpoint: TouchPoint,
    by,
    outcome: str,
    temperature: int | None = None,
    notes: str = "",
    next_step: str = "",
    next_step_due: dt.date | None = None,
    problem_reported: bool = False,
) -> TouchPoint:
    """Log a scheduled check-up: its outcome, the customer's temperature, notes and what happens next.

    A next step becomes a follow-up touch point for the customer's owner, due
    at 10:00 their time on that day; a reported problem becomes a follow-up
    within one business day and a ``problem_reported`` flag. A two-way
    outcome moves the customer's contact clock. All or nothing.
    """
    customer = touchpoint.customer
    _check_may_act(customer=customer, touchpoint=touchpoint, by=by)
    contact = Contact.checked(
        customer=customer,
        outcomes=CHECKUP_OUTCOMES,
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
    if touchpoint.kind == Kind.CLOSE_LOOP:
        # The call-back time of the survey answer that opened it (manager's dashboard).
        SurveyResponse.objects.filter(followup=touchpoint, loop_closed_at__isnull=True).update(loop_closed_at=now)
    _after_contact(touchpoint=touchpoint, by=by, now=now, notes=contact.notes, next_step_due=next_step_due)
    # A plan step that says a survey follows: the invitation is planned now, due in 24 h (feedback/invitations.py).
    invitation_schedule_after_checkup(touchpoint=touchpoint)
    return touchpoint


@transaction.atomic
def touchpoint_log_adhoc(
    *,
    customer: Customer,
    by,
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
    Customer.objects.filter(pk=customer.pk).mark_health_due()  # a new temperature reading (customers/health.py)
    audit_record(
        actor=by,
        action=AuditAction.LOGGED,
        obj=touchpoint,
        changes={"channel": [None, channel], "outcome": [None, contact.outcome], "temperature": [None, temperature]},
    )
    _after_contact(touchpoint=touchpoint, by=by, now=now, notes=contact.notes, next_step_due=next_step_due)
    return touchpoint


@transaction.atomic
def touchpoint_reschedule(*, touchpoint: TouchPoint, by, due_date: dt.date, reason: str) -> TouchPoint:
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
def touchpoint_cancel(*, touchpoint: TouchPoint, by, reason: str) -> TouchPoint:
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
