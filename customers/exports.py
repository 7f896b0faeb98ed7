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

import csv
import datetime as dt
from collections.abc import Iterable, Iterator

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from .models import Customer

CHUNK_SIZE = 2000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> object:
    """The cell as written: text that a spreadsheet would run as a formula gets a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Echo:
    """A file-like object whose write returns the line, for csv.writer inside a generator."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: list[str], rows: Iterable[list]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([csv_safe(cell) for cell in row])


def csv_response(filename: str, header: list[str], rows: Iterable[list]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_lines(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"  # customer data: never in a shared cache
    return response


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


RISK_HEADER = [
    "id", "name", "company", "email", "rep", "language", "health_score", "health_band", "reasons",
    "days_since_contact", "products", "next_touch_at",
]  # fmt: skip


def risk_rows(customers: QuerySet[Customer], *, now: dt.datetime) -> Iterator[list]:
    """One row per at-risk customer (``risk_selectors.risk_search``); reasons and products joined with "; "."""
    from .risk_selectors import days_since

    for c in customers.iterator(chunk_size=CHUNK_SIZE):
        yield [
            c.pk, c.name, c.company, c.email, _owner(c), c.language, c.health_score, c.health_band or "",
            "; ".join(str(flag.get_reason_display()) for flag in c.risk_flags),
            days_since(c.last_contact_at, now) if c.last_contact_at else "",
            "; ".join(sorted({p.product.name for p in c.risk_purchases})), _when(c.next_touch_at),
        ]  # fmt: skip
