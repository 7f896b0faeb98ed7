"""The at-risk list as CSV: the rows of the page, with why and since when."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from django.db.models import QuerySet

from aftersales.core.csv import CHUNK_SIZE
from aftersales.customer_pages.exports import _owner, _when
from aftersales.risk.selectors import days_since
from customers.models import Customer

RISK_HEADER = [
    "id", "name", "company", "email", "rep", "language", "health_score", "health_band", "reasons",
    "days_since_contact", "products", "next_touch_at",
]  # fmt: skip


def risk_rows(customers: QuerySet[Customer], *, now: dt.datetime) -> Iterator[list]:
    """One row per at-risk customer (``risk_selectors.risk_search``); reasons and products joined with "; "."""
    for c in customers.iterator(chunk_size=CHUNK_SIZE):
        yield [
            c.pk, c.name, c.company, c.email, _owner(c), c.language, c.health_score, c.health_band or "",
            "; ".join(str(flag.get_reason_display()) for flag in c.risk_flags),
            days_since(c.last_contact_at, now) if c.last_contact_at else "",
            "; ".join(sorted({p.product.name for p in c.risk_purchases})), _when(c.next_touch_at),
        ]  # fmt: skip
