"""The audit trail in words: field names people use, and names where the trail stores ids.

Events keep ids (``owner_id: [3, 7]``), so they stay true when a rep is renamed
and survive the rows they name; the customer page shows "rep: Alice Archer →
Bob Baker". Names come in one query per kind of id on the page, whatever the
number of events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from aftersales.audit.models import AuditEvent
from customers.models import Language, Product
from customers.phones import phone_display
from touchpoints.models import CheckupPlan

FIELD_LABELS = {
    "owner_id": gettext_lazy("rep"),
    "assignee_id": gettext_lazy("assignee"),
    "resolved_by_id": gettext_lazy("resolved by"),
    "product_id": gettext_lazy("product"),
    "plan_id": gettext_lazy("plan"),
    "timezone": gettext_lazy("time zone"),
    "external_ref": gettext_lazy("external reference"),
    "email_opt_out": gettext_lazy("no e-mail"),
    "merged_customer_id": gettext_lazy("merged in"),
    "merged_into_id": gettext_lazy("merged into"),
}
CUSTOMER_ID_FIELDS = {"merged_customer_id", "merged_into_id"}
# Fields holding the id of a row whose name the page shows instead.
NAMED_BY_MODEL = {
    "owner_id": "user",
    "assignee_id": "user",
    "resolved_by_id": "user",
    "product_id": "product",
    "plan_id": "plan",
}
ARROW = " → "


@dataclass(frozen=True)
class AuditLine:
    field: str
    label: str
    text: str


def _names(kind: str, ids: set[int]) -> dict[int, str]:
    if kind == "user":
        users = get_user_model().objects.filter(pk__in=ids)
        return {user.pk: user.get_full_name() or user.get_username() for user in users}
    model = {"product": Product, "plan": CheckupPlan}[kind]
    return dict(model._default_manager.filter(pk__in=ids).values_list("pk", "name"))


def _value(field: str, value, names: dict[str, dict[int, str]]) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "—"
    if field in NAMED_BY_MODEL and isinstance(value, int):
        return names[NAMED_BY_MODEL[field]].get(value) or _("#%(id)s (deleted)") % {"id": value}
    if field in CUSTOMER_ID_FIELDS:
        return _("customer #%(id)s") % {"id": value}
    if field == "language" and value in Language.values:
        return str(Language(value).label)
    if field == "phone" and isinstance(value, str):
        return phone_display(value)
    return str(value)


def _text(field: str, change, names) -> str:
    """``[old, new]`` as "old → new" (just "new" for a value set from nothing); anything else as it is."""
    if isinstance(change, list) and len(change) == 2:
        old, new = change
        new_text = _value(field, new, names)
        return new_text if old is None else f"{_value(field, old, names)}{ARROW}{new_text}"
    return _value(field, change, names)


def audit_lines(events: Iterable[AuditEvent]) -> list[AuditEvent]:
    """The events, each with ``lines``: one ``AuditLine`` per changed field, ids named."""
    events = list(events)
    wanted: dict[str, set[int]] = defaultdict(set)
    for event in events:
        for field, change in (event.changes or {}).items():
            if field in NAMED_BY_MODEL:
                values = change if isinstance(change, list) else [change]
                wanted[NAMED_BY_MODEL[field]].update(
                    v for v in values if isinstance(v, int) and not isinstance(v, bool)
                )
    names = {kind: _names(kind, ids) for kind, ids in wanted.items()}
    for event in events:
        event.lines = [  # type: ignore[attr-defined]  # set for the template only
            AuditLine(field, str(FIELD_LABELS.get(field, field.replace("_", " "))), _text(field, change, names))
            for field, change in (event.changes or {}).items()
        ]
    return events
