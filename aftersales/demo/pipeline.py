"""Write generated chunks while the next one is being generated.

On a two-core machine the Python generator and the PostgreSQL backend can
each keep a core busy: a writer thread with its own connection runs the COPYs
and commits of chunk *k* (psycopg2 releases the GIL while it waits on the
server) while the main thread generates chunk *k+1*. Chunks are committed in
order, one transaction each.

The thread needs its own connection, so it is only used when the caller is
not inside a transaction (a test's transaction would be invisible to it);
otherwise chunks are written inline, on the caller's connection.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from django.db import connection, connections, transaction

from aftersales.core.bulkcopy import render_csv
from aftersales.demo.state import Rows
from aftersales.demo.writer import TABLES, write_rows

Progress = Callable[[int], None] | None


def table_batches(rows: Rows) -> list[list[tuple]]:
    """The chunk's rows in TABLES order."""
    return [rows.customers, rows.purchases, rows.touchpoints, rows.invitations, rows.responses, rows.flags]


def write_chunk(batches: list) -> None:
    """Write one chunk (row tuples, or CSV text per table on PostgreSQL) in one transaction."""
    # Session settings below are SET LOCAL: they must only ever cover our own
    # transaction, never a caller's (a test's, or anyone's outer atomic block).
    own_transaction = not connection.in_atomic_block
    with transaction.atomic():
        if own_transaction and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # Demo data: losing the last chunk in a crash is fine, waiting for each WAL flush is not.
                cursor.execute("SET LOCAL synchronous_commit TO off")
                # The foreign-key checks at commit are much of the load time
                # (docs/BENCHMARKS.md, seed_demo), and these rows cannot fail them:
                # every id they point at was just taken from a sequence for a row in
                # this chunk or an earlier one, or read from the database (users,
                # products, plan steps, surveys). Only a superuser may skip them (as
                # pg_restore --disable-triggers does); anyone else gets the ordinary
                # checks, just slower.
                cursor.execute("SELECT current_setting('is_superuser') = 'on'")
                if cursor.fetchone()[0]:
                    cursor.execute("SET LOCAL session_replication_role TO replica")
        for table, batch in zip(TABLES, batches, strict=True):
            write_rows(table, batch)


class InlineWriter:
    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def __enter__(self) -> InlineWriter:
        return self

    def put(self, rows: Rows, done: int) -> None:
        write_chunk(table_batches(rows))
        if self.progress:
            self.progress(done)

    def __exit__(self, *exc: object) -> None:
        return None


class BackgroundWriter:
    """One writer thread fed through a short queue (at most two chunks wait in memory)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.queue: queue.Queue[tuple[list[str], int] | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="seed_demo-writer", daemon=True)

    @staticmethod
    def usable() -> bool:
        return connection.vendor == "postgresql" and not connection.in_atomic_block

    def __enter__(self) -> BackgroundWriter:
        self.thread.start()
        return self

    def put(self, rows: Rows, done: int) -> None:
        self._raise_if_failed()
        # CSV is rendered here, by the producer: the writer thread then only
        # waits on the server, and the server never waits for Python formatting.
        self.queue.put(([render_csv(batch) for batch in table_batches(rows)], done))

    def __exit__(self, exc_type, exc, tb) -> None:
        self.queue.put(None)
        self.thread.join()
        if exc_type is None:
            self._raise_if_failed()

    def _raise_if_failed(self) -> None:
        if self.error is not None:
            raise RuntimeError("seed_demo: writing a chunk failed") from self.error

    def _run(self) -> None:
        try:
            while (item := self.queue.get()) is not None:
                if self.error is None:
                    csv_batches, done = item
                    write_chunk(csv_batches)
                    if self.progress:
                        self.progress(done)
        except BaseException as error:  # handed to the main thread, which raises it
            self.error = error
            while self.queue.get() is not None:  # unblock the producer until it says stop
                pass
        finally:
            connections.close_all()  # this thread's connections only
