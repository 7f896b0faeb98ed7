"""The customer page's Audit section reads its events here, so the page view needs no change."""

from __future__ import annotations

from django import template

from aftersales.audit.models import AuditEvent
from aftersales.audit.services import customer_audit as _customer_audit
from aftersales.customer_pages.audit import audit_lines

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
    """The latest events of the customer, each with its ``lines`` in words: one query, plus one per kind
    of id to name (reps, products, plans), bounded (aftersales.audit.CUSTOMER_AUDIT_LIMIT)."""
    return audit_lines(_customer_audit(customer))


@register.filter
def audit_object(event: AuditEvent) -> str:
    label = OBJECT_LABELS.get(event.object_type, event.object_type)
    return f"{label} #{event.object_id}" if event.object_id else label
