"""The contact clock: a two-way contact moves ``last_contact_at`` and ``quiet_after`` and ends "gone quiet"."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.utils import timezone

from aftersales.core.roles import Actor
from customers.models import Customer, FlagReason, RiskFlag

# By hand: every survey answer runs it, and the ORM took longer to build this UPDATE than
# the database took to run it (docs/BENCHMARKS.md). It moves the clock forward only, and
# sets what save() would (updated_at) and what the health sweep reads (health_due_at: now);
# tests/aftersales/test_sql_drift.py checks its columns against the model.
CONTACT_MOVE_SQL = (
    "UPDATE customers_customer SET last_contact_at = %s, quiet_after = %s, updated_at = %s, health_due_at = %s"
    " WHERE id = %s AND (last_contact_at IS NULL OR last_contact_at < %s)"
)


def customer_record_two_way_contact(*, customer: Customer, at: dt.datetime, by: Actor | None) -> None:
    """A two-way contact moves last_contact_at and quiet_after and resolves the gone-quiet flag.

    The UPDATE only moves forward: a contact logged late for an earlier moment
    never sets the clock back past a newer one.
    """
    quiet_after = customer.quiet_after_from(at)
    if customer_contact_move(customer_id=customer.pk, at=at, quiet_after=quiet_after, by=by):
        customer.last_contact_at, customer.quiet_after = at, quiet_after


def customer_contact_move(
    *, customer_id: int, at: dt.datetime, quiet_after: dt.datetime, by: Actor | None, gone_quiet_open: bool = True
) -> bool:
    """The writes of ``customer_record_two_way_contact`` for a caller that already knows ``quiet_after``.

    The survey answer reads the quiet threshold and whether a gone-quiet flag
    is open in the query that locks its invitation, and passes
    ``gone_quiet_open=False`` when none is, saving that UPDATE. True when the
    contact moved the clock.
    """
    adapt = connection.ops.adapt_datetimefield_value
    now = adapt(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(CONTACT_MOVE_SQL, [adapt(at), adapt(quiet_after), now, now, customer_id, adapt(at)])
        moved = cursor.rowcount
    if gone_quiet_open:
        RiskFlag.objects.open().filter(customer_id=customer_id, reason=FlagReason.GONE_QUIET, raised_at__lte=at).update(
            resolved_at=at, resolved_by=by, resolution="Two-way contact logged."
        )
    return bool(moved)
