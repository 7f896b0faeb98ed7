"""The tables seed_demo writes, their columns, and the ids it hands out ahead of writing.

The generator produces plain tuples, never model instances: at 100,000
customers that is ~2.5 million rows, far beyond what ``bulk_create`` does in
minutes; aftersales/core/bulkcopy.py writes them (COPY on PostgreSQL,
batched INSERTs on SQLite). Rows carry their primary keys, taken from the table's own sequence
(PostgreSQL) or counted on from ``MAX(id)`` inside the write transaction
(SQLite), so children can point at parents before anything is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection
from django.db.models import Field, Model
from django.db.models.fields import NOT_PROVIDED

from aftersales.core import bulkcopy
from customers.models import Customer, Purchase, RiskFlag
from feedback.models import SurveyInvitation, SurveyResponse
from touchpoints.models import TouchPoint

_TEXT_TYPES = {"CharField", "TextField", "EmailField", "SlugField", "URLField"}


def _column(field: Field) -> str:
    assert field.column is not None  # a concrete field always has its column
    return field.column


@dataclass(frozen=True)
class Table:
    """The columns of one table, in the order of the generator's tuples."""

    model: type[Model]
    fields: tuple[str, ...]  # attnames ("owner_id"); "id" first when the generator assigns ids

    @property
    def name(self) -> str:
        return self.model._meta.db_table

    def columns(self) -> list[str]:
        by_attname = {f.attname: f for f in self.model._meta.concrete_fields}
        return [_column(by_attname[name]) for name in self.fields]

    def not_null_text_columns(self) -> list[str]:
        """Text columns that must read an empty CSV field as '' rather than NULL."""
        by_attname = {f.attname: f for f in self.model._meta.concrete_fields}
        return [
            _column(by_attname[n])
            for n in self.fields
            if not by_attname[n].null and by_attname[n].get_internal_type() in _TEXT_TYPES
        ]

    def check(self) -> None:
        """Fail loudly if the model gained a NOT NULL column the generator does not fill."""
        concrete = {f.attname: f for f in self.model._meta.concrete_fields}
        unknown = set(self.fields) - set(concrete)
        missing = {
            name
            for name, f in concrete.items()
            if not f.null and not f.primary_key and name not in self.fields and f.db_default is NOT_PROVIDED
        }
        if unknown or missing:
            raise RuntimeError(
                f"seed_demo is out of date with {self.model.__name__}: "
                f"unknown fields {sorted(unknown)}, unfilled NOT NULL fields {sorted(missing)}"
            )


def optional(model: type[Model], *names: str) -> tuple[str, ...]:
    """Columns filled only where the schema has them (added by later migrations, still nullable)."""
    present = {f.attname for f in model._meta.concrete_fields}
    return tuple(name for name in names if name in present)


CUSTOMERS = Table(
    Customer,
    (
        "id",
        "name",
        "company",
        "email",
        "phone",
        "owner_id",
        "language",
        "timezone",
        "email_opt_out",
        "email_opt_out_at",
        "last_contact_at",
        "quiet_after",
        "health_score",
        "health_explanation",
        "health_updated_at",
        "external_ref",
        "notes",
        "created_at",
        "updated_at",
        *optional(Customer, "health_due_at"),
    ),
)
PURCHASES = Table(
    Purchase,
    (
        "id",
        "customer_id",
        "product_id",
        "plan_id",
        "ordered_at",
        "delivered_at",
        "amount",
        "currency",
        "renewal_date",
        "external_ref",
        "created_at",
    ),
)
TOUCHPOINTS = Table(
    TouchPoint,
    (
        "id",
        "customer_id",
        "purchase_id",
        "plan_step_id",
        "assignee_id",
        "kind",
        "channel",
        "objective",
        "survey_follows",
        "due_at",
        "status",
        "completed_at",
        "outcome",
        "temperature",
        "notes",
        "next_step",
        "problem_reported",
        "cancel_reason",
        "reminder_sent_at",
        "follows_id",
        "created_by_id",
        "created_at",
        "updated_at",
    ),
)
INVITATIONS = Table(
    SurveyInvitation,
    (
        "id",
        "survey_id",
        "customer_id",
        "touchpoint_id",
        "token_hash",
        "language",
        "send_at",
        "sent_at",
        "reminded_at",
        "expires_at",
        "opened_at",
        "responded_at",
        "created_at",
    ),
)
# Nothing points at responses or flags: the database numbers them.
RESPONSES = Table(
    SurveyResponse,
    (
        "invitation_id",
        "customer_id",
        "nps",
        "csat",
        "would_buy_again",
        "comment",
        "problem_reported",
        "submitted_at",
        "updated_at",
        *optional(SurveyResponse, "followup_id", "loop_opened_at", "loop_closed_at"),
    ),
)
FLAGS = Table(
    RiskFlag,
    (
        "customer_id",
        "reason",
        "detail",
        "data",
        "raised_at",
        "resolved_at",
        "resolved_by_id",
        "resolution",
        "snoozed_until",
        "owner_notified_at",
    ),
)
# Parents before children (foreign keys are deferred, but this keeps SQLite happy too).
TABLES = (CUSTOMERS, PURCHASES, TOUCHPOINTS, INVITATIONS, RESPONSES, FLAGS)


class IdAllocator:
    """Hands out primary keys for one table, reserving them in blocks that grow (small seeds leave small gaps)."""

    def __init__(self, table: Table, block: int = 500, max_block: int = 50_000) -> None:
        self.table = table
        self.block = block
        self.max_block = max_block
        self._ids: Sequence[int] = ()
        self._pos = 0
        self._next_sqlite: int | None = None

    def __call__(self) -> int:
        if self._pos >= len(self._ids):
            self._ids = self._reserve()
            self._pos = 0
            self.block = min(self.block * 2, self.max_block)
        value = self._ids[self._pos]
        self._pos += 1
        return value

    def _reserve(self) -> Sequence[int]:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # nextval() from the table's own sequence: safe even if the app
                # inserts rows at the same time; unused ids are just a gap.
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [connection.ops.quote_name(self.table.name), self.block],
                )
                return [row[0] for row in cursor.fetchall()]
            if self._next_sqlite is None:
                # SQLite: the caller holds the write lock (one IMMEDIATE transaction),
                # so counting on cannot collide. Past the AUTOINCREMENT high-water
                # mark too, so ids of deleted rows are never handed out again.
                table = connection.ops.quote_name(self.table.name)
                cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608 - a model's table name  # nosec B608
                highest = cursor.fetchone()[0]
                cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [self.table.name])
                row = cursor.fetchone()
                self._next_sqlite = max(highest, row[0] if row else 0) + 1
        start = self._next_sqlite
        self._next_sqlite += self.block
        return range(start, start + self.block)


def write_rows(table: Table, rows: Sequence[tuple] | str) -> None:
    """Insert rows (tuples, or on PostgreSQL the CSV that ``bulkcopy.render_csv`` made of them)."""
    bulkcopy.write_rows(table=table.name, columns=table.columns(), rows=rows, not_null=table.not_null_text_columns())
