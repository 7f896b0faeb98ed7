"""Running a whole transaction again, once, when the database connection was lost under it.

PostgreSQL drops connections now and then: a failover, a restart, an
administrator's ``pg_terminate_backend``, a proxy's idle timeout. Django's
health check (``CONN_HEALTH_CHECKS``, on in settings) replaces a connection
found dead at its first use in a request, but not one that dies later in it. For a write the
customer has one chance to make (the survey answer), the caller runs its
whole transaction through ``retry_on_lost_connection``: a lost connection
there rolled the transaction back, or lost only the acknowledgement of a
commit that happened, so the work must be safe to repeat (idempotent:
feedback/responses.py amends the one answer an invitation has).

Only a lost connection is retried. A deadlock, a serialisation failure, a
lock or statement timeout, a full disk are ``OperationalError`` too, but the
connection survives them and running the same work again at once would
mostly fail the same way: they propagate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections

try:
    import psycopg2
except ImportError:  # pragma: no cover — SQLite-only installs; nothing is retried there
    HAVE_PSYCOPG2 = False
else:
    HAVE_PSYCOPG2 = True

logger = logging.getLogger(__name__)
T = TypeVar("T")

# What a lost connection raises: Django wraps the driver's errors (the driver's is their
# ``__cause__``); a raw DB-API connection's are the driver's own.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError)
if HAVE_PSYCOPG2:
    CONNECTION_ERRORS += (psycopg2.OperationalError, psycopg2.InterfaceError)
# PostgreSQL's own word that it is closing this session: admin_shutdown (pg_terminate_backend,
# a fast shutdown), crash_shutdown, cannot_connect_now (starting up or shutting down); class 08
# is "connection exception". libpq's own errors (the socket closed, cannot connect) have no code.
_LOST_SQLSTATES = {"57P01", "57P02", "57P03"}


def connection_lost(error: BaseException) -> bool:
    """Whether ``error`` means the PostgreSQL connection is gone (not that the statement failed on a live one)."""
    cause = error.__cause__ if isinstance(error, (OperationalError, InterfaceError)) else error
    if not HAVE_PSYCOPG2 or not isinstance(cause, psycopg2.Error):
        return False  # SQLite's "database is locked" is an OperationalError too, and no lost connection
    if isinstance(cause, psycopg2.InterfaceError):  # "connection already closed"
        return True
    if not isinstance(cause, psycopg2.OperationalError):
        return False
    code = cause.pgcode
    return code is None or code.startswith("08") or code in _LOST_SQLSTATES


def retry_on_lost_connection(work: Callable[[], T], *, using: str = DEFAULT_DB_ALIAS, what: str = "work") -> T:
    """``work()`` — a whole transaction, safe to repeat — and once more on a fresh connection if the first lost its own.

    Inside a transaction already open (a test's), ``work()`` runs once: the outer
    transaction dies with the connection and cannot be replayed from here. A
    second lost connection propagates (``connection_lost`` tells the caller), the
    broken connection closed so that whatever the caller does next opens a fresh one.
    """
    connection = connections[using]
    if connection.in_atomic_block:
        return work()
    try:
        return work()
    except CONNECTION_ERRORS as error:
        if not connection_lost(error):
            raise
        logger.warning("Database connection lost during %s; retrying once on a fresh one: %s", what, error)
        # Drop the broken connection (Atomic may already have opened a new one to restore
        # autocommit: that one goes too; a fresh connection costs a few milliseconds, once).
        connection.close()
    try:
        return work()
    except CONNECTION_ERRORS as error:
        if connection_lost(error):
            connection.close()
        raise
