"""Read side of the at-risk list and its CSV: customers with an open, visible flag.

Built on ``customer_search`` (scoping, rep / product / band filters and the
sort keys of the customer list), so both lists filter and sort the same way.
A fixed number of queries whatever the data size: the page, its capped
count, one prefetch each for flags, purchases and open flags, and the
page's next touch points.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict

from django.db.models import Exists, Min, OuterRef, Prefetch, QuerySet, Subquery
from django.utils import timezone

from aftersales.core.roles import Visitor
from aftersales.customer_pages.selectors import CustomerFilters, customer_search
from customers.models import Customer, FlagReason, Language, Purchase, RiskFlag
from touchpoints.models import TouchPoint

# Worst first: the list exists to show who is slipping away.
RISK_DEFAULT_SORT = "health"


@dataclass(frozen=True)
class RiskFilters:
    """The at-risk list's query string (``rep``, ``product``, ``reason``, ``band``, ``language``, ``sort``)."""

    rep_id: int | None = None
    product_id: int | None = None
    reason: str = ""
    band: str = ""
    language: str = ""
    sort: str = RISK_DEFAULT_SORT

    @property
    def narrowed(self) -> bool:
        return any((self.rep_id, self.product_id, self.reason, self.band, self.language))


def risk_search(*, user: Visitor, filters: RiskFilters, now: dt.datetime | None = None) -> QuerySet[Customer]:
    """Customers ``user`` may see with a visible flag (open, not snoozed) matching ``filters``.

    Each row carries ``risk_flags`` (its visible flags, the chips) and
    ``risk_purchases`` (with their product). A snoozed flag neither lists the
    customer nor shows as a chip until ``snoozed_until`` passes. The next
    touch point is added by ``with_next_touch`` (a streamed export) or
    ``attach_next_touch`` (one page): not here, because the list's capped
    COUNT would otherwise run that subquery for up to 10,000 rows.
    """
    now = now or timezone.now()
    base = CustomerFilters(owner_id=filters.rep_id, product_id=filters.product_id, band=filters.band, sort=filters.sort)
    visible = RiskFlag.objects.visible(now)
    customers = customer_search(user=user, filters=base, now=now).filter(
        Exists(visible.filter(customer=OuterRef("pk")))
    )
    if filters.reason in FlagReason.values:
        customers = customers.filter(Exists(visible.filter(customer=OuterRef("pk"), reason=filters.reason)))
    if filters.language in Language.values:
        customers = customers.filter(language=filters.language)
    # The two lists are declared on Customer for the readers of these rows, which django-stubs
    # reports as attributes defined twice.
    return customers.prefetch_related(  # type: ignore[no-redef]
        Prefetch("flags", queryset=visible.order_by("reason", "pk"), to_attr="risk_flags"),
        Prefetch(
            "purchases", queryset=Purchase.objects.select_related("product").order_by("pk"), to_attr="risk_purchases"
        ),
    )


def days_since(moment: dt.datetime | None, now: dt.datetime) -> int | None:
    """Whole days since the last two-way contact; None when there never was one."""
    return (now - moment).days if moment is not None else None


class _DueAt(TypedDict):
    due_at: dt.datetime


def _next_touch() -> QuerySet[TouchPoint, _DueAt]:
    return TouchPoint.objects.scheduled().filter(customer=OuterRef("pk")).order_by("due_at").values("due_at")[:1]


def with_next_touch(customers: QuerySet[Customer]) -> QuerySet[Customer]:
    """``next_touch_at`` on every row: the earliest scheduled touch point (a correlated subquery)."""
    return customers.annotate(next_touch_at=Subquery(_next_touch()))  # type: ignore[no-redef]  # as risk_search's


def attach_next_touch(customers: Sequence[Customer]) -> None:
    """``next_touch_at`` on the rows of one page, in one grouped query."""
    soonest = dict(
        TouchPoint.objects.scheduled()
        .filter(customer_id__in=[customer.pk for customer in customers])
        .order_by()
        .values("customer_id")
        .annotate(first=Min("due_at"))
        .values_list("customer_id", "first")
    )
    for customer in customers:
        customer.next_touch_at = soonest.get(customer.pk)
