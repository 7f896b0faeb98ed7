"""Planning survey invitations: which customer is asked, by which rule, and when (``send_at``).

After a check-up whose plan step asks for a survey, the row is due
``completed_at`` + the rule's delay (24 h). Logging the check-up is a write of
``touchpoints``, which does not call up into this app: :func:`invitations_plan`
finds the logged check-ups it has not looked at yet (``survey_checked_at`` is
empty; a partial index serves exactly those), plans each one's survey with
:func:`invitation_schedule_after_checkup` or decides none is due, and marks
them looked at in the same transaction. Detect, then act: a run that dies
leaves them unmarked for the next one.

Delivery and relationship surveys have no such write to hook into (a delivery
date can come from an import, a relationship survey from the calendar alone),
so :func:`invitations_plan` finds them in SQL: a delivery-date window per rule,
customers walked in primary-key batches. Rows are inserted in bulk, per batch.

The throttle, the opt-out and a missing email address are checked here, and
again when a row is sent (feedback/services/invitations.py): in between the customer may
have unsubscribed or been surveyed by another rule.

A planned row carries the hash of a token nobody ever sees (the column is
unique and required); sending replaces it, so a planned invitation cannot be
answered.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from typing import Any, Literal

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from aftersales.mail.suppression import email_suppressed
from customers.models import Customer, Purchase
from feedback.models import SurveyInvitation, Trigger
from feedback.rules import Rule, product_rules, rule_for
from touchpoints import scheduling
from touchpoints.models import TouchPoint
from touchpoints.services import touchpoints_survey_checked

BATCH_SIZE = 200
# One run of a sweep handles at most this many rows; the next run (a minute
# later) continues. Keeps a run well inside the Celery time limit.
MAX_PER_RUN = 5000


# The day counts of settings.AFTERSALES the survey jobs read.
DaysSetting = Literal["SURVEY_CATCH_UP_DAYS", "SURVEY_EXPIRES_DAYS", "SURVEY_REMINDER_DAYS", "SURVEY_THROTTLE_DAYS"]


def days_setting(key: DaysSetting) -> dt.timedelta:
    return dt.timedelta(days=settings.AFTERSALES[key])


# --- Who may be surveyed ---------------------------------------------------------------------


def emailable(prefix: str = "") -> Q:
    """Customers we may mail: an address and no opt-out (``prefix`` reaches them through a relation)."""
    return Q(**{f"{prefix}email_opt_out": False}) & ~Q(**{f"{prefix}email": ""})


def _surveyed_since(moment: dt.datetime, *, customer_ref: str = "customer_id") -> Exists:
    """Any invitation of the customer sent, or planned, since ``moment`` (the throttle at planning time)."""
    return Exists(SurveyInvitation.objects.filter(customer_id=OuterRef(customer_ref), send_at__gte=moment))


def _new_invitation(
    *, rule: Rule, customer_id: int, language: str, send_at: dt.datetime, **extra: Any
) -> SurveyInvitation:
    invitation = SurveyInvitation(
        survey=rule.survey,
        customer_id=customer_id,
        language=language,
        send_at=send_at,
        # A placeholder: the real expiry is set when the mail goes out.
        expires_at=send_at + days_setting("SURVEY_EXPIRES_DAYS"),
        **extra,
    )
    # The column is unique and required; this token is thrown away unseen, so
    # nothing can answer a planned invitation. Sending replaces it.
    invitation.set_token()
    return invitation


# --- Planning ---------------------------------------------------------------------------------


@transaction.atomic
def invitation_schedule_after_checkup(*, touchpoint: TouchPoint) -> SurveyInvitation | None:
    """Plan the survey that follows a logged check-up, due ``completed_at`` + the rule's delay.

    The planner calls it for each logged check-up it finds. Nothing is
    planned when the step asks for no survey, the check-up did not reach the
    customer (a survey "about our call" after an unanswered call asks about
    nothing), the rule is off, the customer cannot be mailed, or they were
    surveyed (or have a survey coming) within the throttle window.
    """
    customer = touchpoint.customer
    if not (touchpoint.survey_follows and touchpoint.is_two_way and touchpoint.completed_at):
        return None
    if not customer.email or customer.email_opt_out or email_suppressed(customer.email):
        return None
    product_id = touchpoint.purchase.product_id if touchpoint.purchase is not None else None
    rule = rule_for(Trigger.AFTER_CHECKUP, product_id)
    if rule is None:
        return None
    send_at = touchpoint.completed_at + rule.delay
    recent = SurveyInvitation.objects.filter(
        Q(touchpoint=touchpoint) | Q(customer=customer, send_at__gte=send_at - days_setting("SURVEY_THROTTLE_DAYS"))
    )
    if recent.exists():
        return None
    invitation = _new_invitation(
        rule=rule, customer_id=customer.pk, language=customer.language, send_at=send_at, touchpoint=touchpoint
    )
    invitation.save()
    return invitation


def invitations_plan(*, batch_size: int = BATCH_SIZE, now: dt.datetime | None = None) -> int:
    """Plan the due after-check-up, delivery and relationship surveys; return how many invitations were created."""
    now = now or timezone.now()
    return (
        _plan_after_checkups(now, batch_size)
        + _plan_after_delivery(now, batch_size)
        + _plan_relationship(now, batch_size)
    )


def _plan_after_checkups(now: dt.datetime, batch_size: int) -> int:
    """The logged check-ups not looked at yet, oldest first, a batch per transaction.

    Rows are claimed with ``FOR UPDATE SKIP LOCKED``: two runs at once share
    the work instead of planning one survey twice.
    """
    created = looked_at = 0
    while looked_at < MAX_PER_RUN:
        with transaction.atomic():
            batch = list(
                TouchPoint.objects.survey_unchecked()
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("customer", "purchase")
                .order_by("completed_at", "pk")[:batch_size]
            )
            for touchpoint in batch:
                created += invitation_schedule_after_checkup(touchpoint=touchpoint) is not None
            touchpoints_survey_checked(touchpoint_ids=[touchpoint.pk for touchpoint in batch], at=now)
        looked_at += len(batch)
        if len(batch) < batch_size:
            break
    return created


def _plan_after_delivery(now: dt.datetime, batch_size: int) -> int:
    """N days after delivery (per product): one query per distinct rule, bounded by a delivery-date window."""
    overrides, global_rule = product_rules(Trigger.AFTER_DELIVERY)
    groups = [(rule, Q(product_id=product_id)) for product_id, rule in overrides.items() if rule is not None]
    if global_rule is not None:
        groups.append((global_rule, ~Q(product_id__in=list(overrides))))
    return sum(_plan_delivery_rule(rule, where, now, batch_size) for rule, where in groups)


def _plan_delivery_rule(rule: Rule, where: Q, now: dt.datetime, batch_size: int) -> int:
    catch_up = days_setting("SURVEY_CATCH_UP_DAYS")
    today = now.date()
    # The survey is due at 10:00 customer time on delivery day + N. Rows are
    # planned from a day ahead (that 10:00 may still be to come somewhere on
    # the globe: the send sweep waits for it) back to the catch-up window.
    window = (today - rule.delay - catch_up, today - rule.delay + dt.timedelta(days=1))
    candidates = (
        Purchase.objects.filter(where, delivered_at__range=window)
        .filter(emailable("customer__"))
        .exclude(_surveyed_since(now - days_setting("SURVEY_THROTTLE_DAYS")))
        # This delivery was already surveyed (whatever the throttle setting).
        .exclude(
            Exists(
                SurveyInvitation.objects.filter(
                    customer_id=OuterRef("customer_id"),
                    survey__trigger=Trigger.AFTER_DELIVERY,
                    send_at__date__gte=OuterRef("delivered_at"),
                )
            )
        )
        .order_by("pk")
        .values_list("pk", "customer_id", "customer__language", "customer__timezone", "delivered_at")
    )

    def build(rows: list[tuple[Any, ...]]) -> list[SurveyInvitation]:
        batch, seen = [], set()
        for _pk, customer_id, language, tz_name, delivered_at in rows:
            send_at = scheduling.due_at(delivered_at + rule.delay, tz_name)
            if customer_id in seen or send_at < now - catch_up:  # two purchases, one survey
                continue
            seen.add(customer_id)
            batch.append(_new_invitation(rule=rule, customer_id=customer_id, language=language, send_at=send_at))
        return batch

    return _plan_in_batches(candidates, build, batch_size)


def _plan_relationship(now: dt.datetime, batch_size: int) -> int:
    """Every N days per customer who has bought from us at least N days ago, walked in primary-key batches."""
    rule = rule_for(Trigger.RELATIONSHIP)
    if rule is None:
        return 0
    customers = (
        Customer.objects.filter(emailable())
        .filter(Exists(Purchase.objects.filter(customer_id=OuterRef("pk"), ordered_at__lte=(now - rule.delay).date())))
        .exclude(
            Exists(
                SurveyInvitation.objects.filter(
                    customer_id=OuterRef("pk"), survey__trigger=Trigger.RELATIONSHIP, send_at__gt=now - rule.delay
                )
            )
        )
        .exclude(_surveyed_since(now - days_setting("SURVEY_THROTTLE_DAYS"), customer_ref="pk"))
        .order_by("pk")
        .values_list("pk", "language", "timezone")
    )

    def build(rows: list[tuple[Any, ...]]) -> list[SurveyInvitation]:
        return [
            # Today at 10:00 on the customer's clock: later today, or at once if that has passed.
            _new_invitation(
                rule=rule,
                customer_id=pk,
                language=language,
                send_at=scheduling.due_at(now.astimezone(zoneinfo.ZoneInfo(tz_name)).date(), tz_name),
            )
            for pk, language, tz_name in rows
        ]

    return _plan_in_batches(customers, build, batch_size)


def _plan_in_batches(
    candidates: QuerySet[Any, tuple[Any, ...]],
    build: Callable[[list[tuple[Any, ...]]], list[SurveyInvitation]],
    batch_size: int,
) -> int:
    """Walk ``candidates`` (value tuples, primary key first) in key order and insert what ``build`` makes of each batch.

    Each batch commits on its own; the candidate query excludes customers
    planned for already, so a run cut short is simply continued by the next.
    """
    created, last_pk = 0, 0
    while created < MAX_PER_RUN:
        rows = list(candidates.filter(pk__gt=last_pk)[:batch_size])
        if not rows:
            break
        last_pk = rows[-1][0]
        with transaction.atomic():
            created += len(SurveyInvitation.objects.bulk_create(build(rows)))
    return created
