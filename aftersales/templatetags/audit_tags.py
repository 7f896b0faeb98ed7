"""The customer page's Audit section reads its events here, so the page view needs no change."""

from __future__ import annotations

from django import template

from aftersales.audit.models import AuditEvent
from aftersales.audit.services import customer_audit as _customer_audit

register = template.Library()

# How the trail names the rows it describes.
OBJECT_LABELS = {
    "customers.customer": "Customer",
    "customers.purchase": "Purchase",
    "customers.riskflag": "Flag",
    "touchpoints.touchpoint": "Touch point",
    "touchpoints.checkupplan": "Plan",
}


@register.simple_tag
def customer_audit(customer) -> list[AuditEvent]:
    """The latest events of the customer: one query, bounded (aftersales.audit.CUSTOMER_AUDIT_LIMIT)."""
    return _customer_audit(customer)


@register.filter
def audit_object(event: AuditEvent) -> str:
    label = OBJECT_LABELS.get(event.object_type, event.object_type)
    return f"{label} #{event.object_id}" if event.object_id else label


@register.filter
def audit_value(value) -> str:
    """One side of a change as the page shows it: empty as a dash, lists joined."""
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "—"
    return str(value)


@register.filter
def audit_change(change) -> str:
    """``[old, new]`` as "old → new" (just "new" for a value set from nothing); anything else as it is."""
    if isinstance(change, list) and len(change) == 2:
        old, new = change
        return audit_value(new) if old is None else f"{audit_value(old)} → {audit_value(new)}"
    return audit_value(change)
