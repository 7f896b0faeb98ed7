"""Inserting very many rows fast: PostgreSQL's COPY, with Django's bulk_create as the portable fallback.

``bulk_create`` spends most of its time in Python (a model instance per row,
every value prepared field by field); for the 300,000 check-ups of a large
spreadsheet import that is most of a minute. COPY takes the rows as text in
one stream. Rows are given as ``{attname: value}`` dicts; every field left
out gets the model's default, ``auto_now``/``auto_now_add`` fields the
current time — what ``Model.save()`` would have written. Model validation
does not run: callers insert rows they built from validated data.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.db import connection, models
from django.utils import timezone

CHUNK = 50_000


def _text(value: object) -> str:
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, dict | list):
        value = json.dumps(value)
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _defaults(model: type[models.Model], now: dt.datetime) -> list[tuple[str, str, object]]:
    """(attname, column, default) for every concrete field except the auto primary key."""
    columns: list[tuple[str, str, object]] = []
    for field in model._meta.concrete_fields:
        if field.primary_key and isinstance(field, models.AutoField | models.BigAutoField):
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            default = now
        else:
            default = field.get_default()
        assert field.column is not None  # a concrete field always has its column
        columns.append((field.attname, field.column, default))
    return columns


def bulk_insert(model: type[models.Model], rows: Sequence[dict[str, object]]) -> int:
    """Insert ``rows`` (dicts of attname → value) into ``model``'s table; return how many."""
    if not rows:
        return 0
    if connection.vendor != "postgresql":
        return len(model._default_manager.bulk_create([model(**row) for row in rows], batch_size=2000))
    columns = _defaults(model, timezone.now())
    names = ", ".join(connection.ops.quote_name(column) for _, column, _ in columns)
    sql = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({names}) FROM STDIN"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), CHUNK):
            buffer = io.StringIO()
            buffer.writelines(_line(row, columns) for row in rows[start : start + CHUNK])
            buffer.seek(0)
            cursor.cursor.copy_expert(sql, buffer)
    return len(rows)


def _line(row: dict[str, object], columns: Iterable[tuple[str, str, object]]) -> str:
    return "\t".join(_text(row.get(attname, default)) for attname, _, default in columns) + "\n"
