"""CSV exports of the customer list and the at-risk list: streamed, and safe to open in a spreadsheet.

Streamed: rows come from ``QuerySet.iterator(chunk_size=2000)`` (with its
prefetches done per chunk) through ``csv.writer`` into a
``StreamingHttpResponse``, so 100,000 customers never sit in memory at once
and the first bytes leave before the last row is read.

Safe: a spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@``
(and some also after a tab or carriage return) as a formula — a customer
named ``=HYPERLINK(...)`` would run in the manager's Excel. Such a cell is
prefixed with a single quote, which spreadsheets show as text (OWASP's
advice for CSV injection). Numbers we write ourselves are not touched.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from django.db.models import QuerySet
from django.utils import timezone

from aftersales.core.csv import CHUNK_SIZE
from customers.models import Customer


def _owner(customer: Customer) -> str:
    return customer.owner.get_full_name() or customer.owner.get_username()


def _when(moment: dt.datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else ""


CUSTOMER_HEADER = [
    "id", "name", "company", "email", "phone", "rep", "language", "health_score", "health_band",
    "last_contact_at", "quiet_after", "email_opt_out",
]  # fmt: skip


def customer_rows(customers: QuerySet[Customer]) -> Iterator[list]:
    """One row per customer of the (already filtered and scoped) queryset, in its order."""
    fields = ["pk", "name", "company", "email", "phone", "owner", "language", "health_score", "last_contact_at"]
    rows = customers.select_related("owner").only(*fields, "quiet_after", "email_opt_out", "owner__username",
                                                  "owner__first_name", "owner__last_name")  # fmt: skip
    for c in rows.iterator(chunk_size=CHUNK_SIZE):
        yield [
            c.pk, c.name, c.company, c.email, c.phone, _owner(c), c.language, c.health_score, c.health_band or "",
            _when(c.last_contact_at), _when(c.quiet_after), "yes" if c.email_opt_out else "",
        ]  # fmt: skip
