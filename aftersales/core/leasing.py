"""Rows worked on with a lease: outbox emails, webhook deliveries, spreadsheet import jobs.

The one place for the rules all of them follow (DESIGN.md: claim, then act;
record the outcome on the row):

* **Which rows**: ``deliverable`` — pending, due, not leased by a live
  worker — is what a task may claim and a sweep picks up; ``expired`` are the
  pending rows whose worker died holding the lease.
* **The claim** (``claim``, ``claim_batch``): one conditional UPDATE sets
  ``leased_until`` and counts the attempt. Two workers racing on a row both
  run it; the database serialises them and the second one's WHERE no longer
  matches (the lease is live), so it updates 0 rows and leaves the row alone.
* **The lease is not a lock**: a worker that dies (SIGKILL, out of memory,
  a lost machine) leaves the row leased until ``leased_until`` passes; then
  it is deliverable again. The lease must outlast the work, or be renewed as
  the work makes progress (:class:`Lease`).
* **The outcome** is recorded on the row: done (``record_done``), given back
  untried (``release``), or failed — tried again after an exponential
  backoff (:func:`backoff`), or given up after the last attempt
  (``record_failure``, ``give_up``: ``failed_at`` and ``last_error``).
  A failure is recorded only while the lease is still this worker's: if it
  ran out and another worker took the row, that worker owns the outcome.

A model using it has ``leased_until`` and ``attempts``, the field
``done_field`` names, and for retried rows ``send_after`` (``due_field``),
``failed_at`` and ``last_error``; its manager is a subclass of
:class:`LeasedQuerySet`.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any, Self, TypeVar

from django.db import connections, models, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.db.models.sql import UpdateQuery
from django.db.models.sql.constants import ROW_COUNT
from django.utils import timezone

# Attempt n that failed waits RETRY_BASE * 2**(n-1) before the next one: 1, 2, 4 … minutes, at most 6 h.
RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=6)
ERROR_LENGTH = 2000


def backoff(attempts: int, *, base: timedelta = RETRY_BASE, cap: timedelta = RETRY_CAP) -> timedelta:
    """How long to wait after failed attempt number ``attempts`` (1 for the first): doubling, capped."""
    wait: timedelta = base * 2 ** max(attempts - 1, 0)
    return min(wait, cap)


class LeaseLost(Exception):
    """This worker's lease ran out and another worker took the row: stop, and leave the outcome to it."""


_M = TypeVar("_M", bound=models.Model)


class LeasedQuerySet(models.QuerySet[_M]):
    """Rows worked on with a lease and retries: which ones a worker may claim, and recording what happened."""

    # Set once the work is done; ``failed_at`` marks giving up.
    done_field = "sent_at"
    # The earliest time of the next attempt (pushed back by the backoff); None: always due.
    due_field: str | None = "send_after"

    # --- Which rows -------------------------------------------------------------------------

    def pending(self) -> Self:
        return self.filter(**{f"{self.done_field}__isnull": True, "failed_at__isnull": True})

    def done_before(self, moment: datetime) -> Self:
        """Delivered or given up on before ``moment``, oldest first: what the retention prune deletes.

        Written as the ``*_done_idx`` partial indexes are (the condition, then
        the delivery time as ``done_at``), so the database walks the index
        from the oldest row and stops after the batch.
        """
        return (
            self.filter(Q(**{f"{self.done_field}__isnull": False}) | Q(failed_at__isnull=False))
            .alias(done_at=Coalesce(self.done_field, "failed_at"))
            .filter(done_at__lt=moment)
            .order_by("done_at")
        )

    def deliverable(self, at: datetime | None = None) -> Self:
        """Pending, due, and not leased by a live worker."""
        moment = at or timezone.now()
        rows = self.pending()
        if self.due_field:
            rows = rows.filter(**{f"{self.due_field}__lte": moment})
        return rows.filter(Q(leased_until__isnull=True) | Q(leased_until__lt=moment))

    def expired(self, at: datetime | None = None) -> Self:
        """Pending rows whose lease ran out: the worker holding it died, or gave up the row without a word."""
        return self.pending().filter(leased_until__lt=at or timezone.now())

    # --- The claim ----------------------------------------------------------------------------

    def claim(self, pk: int, *, lease_until: datetime, at: datetime, **changes: Any) -> bool:
        """Lease one deliverable row for this worker: True when this call got it.

        ``changes`` are written by the same UPDATE (a status, say), so they
        happen exactly when the claim does.
        """
        rows = self.deliverable(at=at).filter(pk=pk)
        return rows.update(leased_until=lease_until, attempts=F("attempts") + 1, **changes) == 1

    def claim_batch(
        self, limit: int, *, lease_until: datetime, at: datetime, order_by: tuple[str, ...] = ("pk",)
    ) -> list[_M]:
        """Lease up to ``limit`` deliverable rows at once; return them (as model instances), in ``order_by``.

        Their ids are read ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; on SQLite
        the IMMEDIATE transaction makes the read-then-update atomic) and
        leased in one UPDATE, so overlapping batches and single claims never
        hold the same row.
        """
        with transaction.atomic(using=self.db):
            ids = list(
                self.deliverable(at=at)
                .select_for_update(skip_locked=True)
                .order_by(*order_by)
                .values_list("pk", flat=True)[:limit]
            )
            if not ids:
                return []
            self.deliverable(at=at).filter(pk__in=ids).update(leased_until=lease_until, attempts=F("attempts") + 1)
            return list(self.filter(pk__in=ids, leased_until=lease_until).order_by(*order_by))

    # --- The outcome --------------------------------------------------------------------------

    def held(self, pk: int, lease_until: datetime) -> Self:
        """The row, only while this worker's lease (the one that ends at ``lease_until``) is on it."""
        return self.filter(pk=pk, leased_until=lease_until, **{f"{self.done_field}__isnull": True})

    def done_changes(self, at: datetime) -> dict[str, Any]:
        """What marks a row done."""
        return {self.done_field: at, "failed_at": None, "leased_until": None, "last_error": ""}

    def given_up_changes(self, at: datetime, error: str) -> dict[str, Any]:
        """What marks a row given up, with the reason."""
        return {"failed_at": at, "leased_until": None, "last_error": error[:ERROR_LENGTH]}

    def record_done(self, pk: int, *, lease_until: datetime | None = None, **changes: Any) -> bool:
        """Mark the row done; False when it was not this call that did.

        Without ``lease_until`` the row is marked even if the lease ran out
        and another worker re-claimed (or gave up on) it meanwhile: use it
        when the work cannot be undone (the mail is gone), so the row is
        never worked on again. With it, only while the lease is still ours.
        """
        rows = (
            self.held(pk, lease_until)
            if lease_until is not None
            else self.filter(pk=pk, **{f"{self.done_field}__isnull": True})
        )
        return rows.update(**self.done_changes(timezone.now()), **changes) == 1

    def release(self, pks: list[int], *, lease_until: datetime) -> int:
        """Give back claimed rows this worker did not try: no attempt is counted, no lease kept."""
        if not pks:
            return 0
        return self.filter(pk__in=pks, leased_until=lease_until, **{f"{self.done_field}__isnull": True}).update(
            leased_until=None, attempts=F("attempts") - 1
        )

    def give_up(self, pk: int, *, lease_until: datetime, error: str, **changes: Any) -> bool:
        """Stop trying the row, with the reason; only while the lease (``lease_until``) is the one we saw."""
        return self.held(pk, lease_until).update(**self.given_up_changes(timezone.now(), error), **changes) == 1

    def record_failure(
        self, pk: int, *, attempts: int, error: str, lease_until: datetime, max_attempts: int, **changes: Any
    ) -> bool:
        """A failed attempt: try again after the backoff, or give up after ``max_attempts``. True: given up.

        ``attempts`` is the row's count including this attempt (as claimed);
        ``changes`` are written either way (the receiver's last status, say).
        """
        if attempts >= max_attempts:
            self.give_up(pk, lease_until=lease_until, error=error, **changes)
            return True
        retry: dict[str, Any] = {"leased_until": None, "last_error": error[:ERROR_LENGTH]}
        if self.due_field:
            retry[self.due_field] = timezone.now() + backoff(attempts)
        self.held(pk, lease_until).update(**retry, **changes)
        return False


class Lease:
    """The lease this worker holds on one row, renewed as a long piece of work makes progress.

    Call :meth:`renew` often (a progress callback is the natural place); it
    writes at most every quarter of the lease. It raises :class:`LeaseLost`
    when the row is no longer ours, so the work stops early instead of
    racing the worker that took over. ``until`` is the current end of the
    lease: pass it as ``lease_until`` when recording the outcome.
    """

    def __init__(self, rows: LeasedQuerySet[Any], pk: int, *, until: datetime, seconds: float) -> None:
        self.rows, self.pk, self.until, self.seconds = rows, pk, until, seconds
        self._renewed = time.monotonic()
        connection = connections[rows.db]
        # Whether the claim was committed at once (made outside any transaction), as a worker's is;
        # a claim made inside a transaction (a test's) is seen by nobody else until that one ends.
        self._claimed_in_transaction = connection.in_atomic_block

    def renew(self, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._renewed < self.seconds / 4:
            return
        until = timezone.now() + timedelta(seconds=self.seconds)
        rows = self.rows.filter(pk=self.pk, leased_until=self.until)
        connection = connections[self.rows.db]
        if self._claimed_in_transaction or not connection.in_atomic_block:
            renewed = rows.update(leased_until=until)
        elif connection.vendor == "sqlite":
            # Inside our transaction, SQLite's one write lock (taken at BEGIN: IMMEDIATE mode) keeps
            # every other worker from claiming the row until it ends, and a second connection could
            # only wait for that same lock: nothing to renew.
            self._renewed = time.monotonic()
            return
        else:
            # Written inside our transaction, the renewal would reach the other workers only at the
            # commit, when it no longer matters: it goes through a connection of its own, committed
            # at once. The row is not locked by our transaction (only the outcome touches it, last).
            renewed = _update_elsewhere(rows, leased_until=until)
        if renewed != 1:
            raise LeaseLost(f"{self.rows.model.__name__} {self.pk}: the lease ran out and another worker took it")
        self.until, self._renewed = until, time.monotonic()


def _update_elsewhere(rows: models.QuerySet[Any], **values: Any) -> int:
    """``rows.update(**values)`` on a new connection to the same database, committed at once."""
    connection = connections.create_connection(rows.db)
    try:
        query = rows.query.chain(UpdateQuery)
        assert isinstance(query, UpdateQuery)  # chain(klass) returns a klass
        query.add_update_values(values)
        query.clear_select_clause()
        count: int = query.get_compiler(connection=connection).execute_sql(ROW_COUNT)
        return count
    finally:
        connection.close()
