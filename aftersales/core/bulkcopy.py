"""Inserting very many rows fast: PostgreSQL's COPY on psycopg2 or psycopg 3, batched INSERTs elsewhere.

The one place that runs ``COPY … FROM STDIN`` (the spreadsheet import's
check-ups, seed_demo's tables). ``bulk_create`` spends most of its time in
Python, a model instance per row and every value prepared field by field;
COPY takes the rows as text in one stream (docs/BENCHMARKS.md, "Importing
100,000 sales rows"). Model validation does not run: callers insert rows they
built from validated data.

Two ways in:

* ``bulk_insert(model, rows)``: rows as ``{attname: value}`` dicts; every field
  left out gets the model's default, ``auto_now``/``auto_now_add`` fields the
  current time — what ``Model.save()`` would have written.
* ``write_rows(table=…, columns=…, rows=…)``: rows as tuples in column order
  (or, on PostgreSQL, the CSV ``render_csv`` made of them), nothing added.

The driver is the one Django's connection uses: psycopg2 streams a file object
through ``cursor.copy_expert``, psycopg 3 writes to ``cursor.copy()``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.db import connection, models
from django.utils import timezone

# Rows per COPY statement (bulk_insert) and per executemany call (elsewhere).
CHUNK = 50_000
COPY_BUFFER = 1 << 20  # bytes psycopg2 reads from the file object at a time


# --- COPY, on either driver -------------------------------------------------------------------


def copy_driver(raw_connection: object) -> str:
    """The name of the driver a DB-API connection comes from: ``psycopg2`` or ``psycopg`` (3)."""
    return type(raw_connection).__module__.partition(".")[0]


def copy_from_stdin(sql: str, data: str) -> None:
    """Run ``COPY … FROM STDIN`` (``sql``) on Django's connection, feeding it ``data``."""
    with connection.cursor() as cursor:
        copy_into(cursor.cursor, sql, data)


def copy_into(raw_cursor: Any, sql: str, data: str) -> None:
    """``copy_from_stdin`` on a driver's own cursor; the driver is told by the module of its connection."""
    # Any: a DB-API cursor of psycopg2 or psycopg 3 (or another driver's, refused below).
    driver = copy_driver(raw_cursor.connection)
    if driver == "psycopg2":
        raw_cursor.copy_expert(sql, io.StringIO(data), size=COPY_BUFFER)
    elif driver == "psycopg":
        with raw_cursor.copy(sql) as copy:
            copy.write(data)
    else:
        raise NotImplementedError(f"COPY FROM STDIN through {driver!r} is not supported (psycopg2 or psycopg 3).")


# --- Tuples in column order ------------------------------------------------------------------


def render_csv(rows: Iterable[tuple[Any, ...]]) -> str:
    """Rows as COPY's CSV: booleans, dates and naive UTC datetimes print as PostgreSQL reads them.

    An empty string and None both print as an empty field, which COPY reads as
    NULL except in the columns ``write_rows`` is given as ``not_null``.
    """
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def write_rows(
    *, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]] | str, not_null: Sequence[str] = ()
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order; on PostgreSQL also ``render_csv``'s text) into ``table``.

    ``not_null``: text columns where an empty field is '' rather than NULL.
    Naive datetimes are read in the session's time zone, which Django sets to UTC.
    """
    if not rows:
        return
    quote = connection.ops.quote_name
    if connection.vendor == "postgresql":
        options = "FORMAT csv"
        if not_null:
            options += f", FORCE_NOT_NULL ({', '.join(quote(column) for column in not_null)})"
        names = ", ".join(quote(column) for column in columns)
        copy_from_stdin(f"COPY {quote(table)} ({names}) FROM STDIN WITH ({options})", _as_csv(rows))
    elif isinstance(rows, str):
        raise TypeError("CSV text is input for PostgreSQL's COPY; elsewhere pass the rows as tuples.")
    else:
        insert_rows(table=table, columns=columns, rows=rows)


def insert_rows(*, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """The fallback where there is no COPY (SQLite): one prepared INSERT, executed for a batch of rows at a time."""
    quote = connection.ops.quote_name
    names = ", ".join(quote(column) for column in columns)
    placeholders = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {quote(table)} ({names}) VALUES ({placeholders})"  # noqa: S608 - model names only  # nosec B608
    with connection.cursor() as cursor:
        for start in range(0, len(rows), CHUNK):
            cursor.executemany(sql, rows[start : start + CHUNK])


def _as_csv(rows: Sequence[tuple[Any, ...]] | str) -> str:
    return rows if isinstance(rows, str) else render_csv(rows)


# --- Dicts of one model ------------------------------------------------------------------------


def bulk_insert(model: type[models.Model], rows: Sequence[dict[str, Any]]) -> int:
    """Insert ``rows`` (dicts of attname → value) into ``model``'s table; return how many."""
    if not rows:
        return 0
    fields = _defaults(model, timezone.now())
    unknown = {name for row in rows for name in row} - {field.attname for field, _ in fields}
    if unknown:
        raise ValueError(f"{model.__name__} has no column for {sorted(unknown)} (rows are keyed by attname).")
    table = model._meta.db_table
    if connection.vendor != "postgresql":
        prepared = [
            tuple(field.get_db_prep_save(row.get(field.attname, default), connection) for field, default in fields)
            for row in rows
        ]
        insert_rows(table=table, columns=[_column(field) for field, _ in fields], rows=prepared)
        return len(rows)
    quote = connection.ops.quote_name
    names = ", ".join(quote(_column(field)) for field, _ in fields)
    sql = f"COPY {quote(table)} ({names}) FROM STDIN"
    for start in range(0, len(rows), CHUNK):
        copy_from_stdin(sql, "".join(_line(row, fields) for row in rows[start : start + CHUNK]))
    return len(rows)


def _defaults(model: type[models.Model], now: dt.datetime) -> list[tuple[models.Field[Any, Any], object]]:
    """(field, default) for every concrete field except the auto primary key."""
    fields: list[tuple[models.Field[Any, Any], object]] = []
    for field in model._meta.concrete_fields:
        if field.primary_key and isinstance(field, models.AutoField | models.BigAutoField):
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            default = now
        else:
            default = field.get_default()
        fields.append((field, default))
    return fields


def _column(field: models.Field[Any, Any]) -> str:
    """The column of a concrete field, the only kind ``_defaults`` lists."""
    assert field.column is not None  # Django's ``concrete`` is ``column is not None``
    return field.column


def _line(row: dict[str, Any], fields: Iterable[tuple[models.Field[Any, Any], object]]) -> str:
    return "\t".join(_text(row.get(field.attname, default)) for field, default in fields) + "\n"


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
