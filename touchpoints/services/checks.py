"""The checks every write on a touch point makes before it writes anything, and the claim.

Bad input raises ``ValidationError`` (a dict keyed by argument name, which a
form maps onto its fields) and leaves the database as it was.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, F, TextField, Value, When
from django.db.models.functions import Concat
from django.utils import timezone
from django.utils.formats import date_format

from aftersales.core.fields import field_max_length
from aftersales.core.roles import Actor, is_manager
from customers.models import Customer
from touchpoints.models import Outcome, Status, TouchPoint
from touchpoints.planning import local_today

# A note is what the rep said happened, not a transcript: 10,000 characters
# is several pages. Larger input is refused with a message, never cut.
NOTES_MAX_LENGTH = 10_000
NEXT_STEP_MAX_LENGTH = field_max_length(TouchPoint, "next_step")
REASON_MAX_LENGTH = field_max_length(TouchPoint, "cancel_reason")
# A date further ahead than this is a typo (2205 for 2025), not a plan.
MAX_DAYS_AHEAD = 3 * 366
# Statuses a rep can still act on: a check-up the sweep marked missed can be
# logged late, rescheduled or cancelled; done and cancelled ones are history.
OPEN_STATUSES = (Status.SCHEDULED, Status.MISSED)
# How a scheduled check-up can end; "the customer got in touch" is an ad hoc contact.
CHECKUP_OUTCOMES = (Outcome.REACHED, Outcome.NO_ANSWER, Outcome.LEFT_MESSAGE)


def _check_may_act(*, customer: Customer, touchpoint: TouchPoint | None, by: Actor) -> None:
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

    def fields(self) -> dict[str, Any]:
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


def _claim(touchpoint: TouchPoint, **changes: Any) -> None:
    """Change an open touch point in one conditional UPDATE, or raise when it is no longer open."""
    claimed = (
        TouchPoint.objects.filter(pk=touchpoint.pk, status__in=OPEN_STATUSES).update(
            updated_at=timezone.now(), **changes
        )
        == 1
    )
    if not claimed:
        status = TouchPoint.objects.filter(pk=touchpoint.pk).values_list("status", flat=True).first()
        words: dict[str | None, str] = {Status.DONE: "logged", Status.CANCELLED: "cancelled"}
        word = words.get(status, "closed")
        raise ValidationError(f"This check-up was already {word}; nothing was changed.", code="closed")
    # Done, moved or cancelled: the customer's overdue count or temperature changed (aftersales/health/services.py).
    Customer.objects.filter(pk=touchpoint.customer_id).mark_health_due()
    touchpoint.refresh_from_db()
