"""The audit trail: who changed what and when, written by the services next to the change itself.

Services call :func:`audit_record` inside their own transaction, so an event
exists exactly when the change does (a rolled-back write leaves no event).
Events are plain rows (``AuditEvent``), shown to managers on the customer page.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import models

from aftersales.audit.models import AuditAction, AuditEvent
from aftersales.core.erasure import ERASED_TEXT
from aftersales.core.roles import Actor

# The Audit section of the customer page shows this many events (bounded, one query).
CUSTOMER_AUDIT_LIMIT = 50
# A long note is summarised in the trail, not copied: the row holds the full text.
VALUE_MAX_LENGTH = 200


def _jsonable(value: Any) -> Any:
    """A value as the ``changes`` JSON can hold it: model rows as their pk, dates as ISO strings."""
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, str) and len(value) > VALUE_MAX_LENGTH:
        return value[: VALUE_MAX_LENGTH - 1] + "…"
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return str(value)


def audit_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """``{field: [old, new]}`` for the fields whose value differs (fields missing before count as None)."""
    changes: dict[str, list[Any]] = {}
    for field, new in after.items():
        old = before.get(field)
        if _jsonable(old) != _jsonable(new):
            changes[field] = [_jsonable(old), _jsonable(new)]
    return changes


def audit_snapshot(obj: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """The current values of ``fields`` (FKs as ``<name>_id``), to diff against after a change."""
    return {field: getattr(obj, field) for field in fields}


def audit_record(
    *,
    actor: Actor | None,
    action: str,
    obj: models.Model,
    customer: models.Model | None = None,
    changes: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record one event; call inside the transaction of the change.

    ``actor`` is the user who made the change, or None for the system (a
    sweep, the customer themselves through a public link). ``customer`` ties
    the event to a customer page; when omitted it is taken from ``obj`` (the
    customer itself, or its ``customer`` FK). ``changes`` values are made
    JSON-safe: rows become their pk, dates ISO strings, long text is cut.
    """
    if customer is None:
        customer_id = obj.pk if obj._meta.label_lower == "customers.customer" else getattr(obj, "customer_id", None)
    else:
        customer_id = customer.pk
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=AuditAction(action),
        object_type=obj._meta.label_lower,
        object_id=obj.pk,
        customer_id=customer_id,
        changes={
            str(key): [_jsonable(item) for item in value] if isinstance(value, list | tuple) else _jsonable(value)
            for key, value in (changes or {}).items()
        },
    )


def customer_audit(customer: models.Model, *, limit: int = CUSTOMER_AUDIT_LIMIT) -> list[AuditEvent]:
    """A customer's latest events, newest first: one query on audit_customer_idx."""
    return list(
        AuditEvent.objects.filter(customer_id=customer.pk)
        .select_related("actor")
        .order_by("-created_at", "-pk")[:limit]
    )


def audit_record_many(
    *,
    actor: Actor | None,
    action: str,
    object_type: str,
    rows: Iterable[tuple[int, int | None, Mapping[str, Sequence[Any]]]],
) -> int:
    """One event per ``(object_id, customer_id, changes)`` in one INSERT: for set-based writes (reassigning a book)."""
    events = [
        AuditEvent(
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            action=AuditAction(action),
            object_type=object_type,
            object_id=object_id,
            customer_id=customer_id,
            changes={key: [_jsonable(item) for item in value] for key, value in changes.items()},
        )
        for object_id, customer_id, changes in rows
    ]
    return len(AuditEvent.objects.bulk_create(events, batch_size=500))


def audit_move_customer(*, from_customer: models.Model, to_customer: models.Model) -> int:
    """A merge: the duplicate's events show on the survivor's page; each keeps the id of the row it describes."""
    return AuditEvent.objects.filter(customer_id=from_customer.pk).update(customer_id=to_customer.pk)


def audit_erase_customer(*, customer_id: int) -> None:
    """Erasure (GDPR): the trail keeps which fields changed and when, not the old or new values."""
    events = AuditEvent.objects.filter(
        models.Q(customer_id=customer_id) | models.Q(object_type="customers.customer", object_id=customer_id)
    )
    for event in events.only("pk", "changes"):
        scrubbed = dict.fromkeys(event.changes or {}, ERASED_TEXT)
        AuditEvent.objects.filter(pk=event.pk).update(changes=scrubbed)
