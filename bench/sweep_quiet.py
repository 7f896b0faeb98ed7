"""Benchmark: the gone-quiet sweep over 1,000,000 customers on PostgreSQL.

    SECRET_KEY=… .venv/bin/python bench/sweep_quiet.py [--customers 1000000] [--quiet-share 0.2] [--reps 50]

Uses its own database (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/as_sweepbench),
creating and migrating it when missing. Customers are written by one
``INSERT … SELECT generate_series`` (seconds, not the minutes of seed_demo):
their last two-way contact is spread evenly over the last ``45 / (1 - share)``
days, so ``--quiet-share`` of them are past their 45-day quiet date. The
customers are kept between runs (same count: reused); flags and outbox are
emptied before each run.

Timed, each as the beat task runs it (detect: one INSERT … SELECT per 100,000
ids; notify: one claim and one email per owner):
1. the full pass on a book nobody was flagged in;
2. a re-run with nothing new, right away and after VACUUM (autovacuum's work);
3. the pass a day later, flagging the customers who went quiet that day.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aftersales.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/as_sweepbench")


def ensure_database(url: str) -> None:
    """CREATE DATABASE when it does not exist (connecting to the server's ``postgres`` database)."""
    import environ
    import psycopg2
    from psycopg2 import sql

    config = environ.Env.db_url_config(url)
    params = {
        "host": config.get("HOST") or None,
        "port": config.get("PORT") or None,
        "user": config.get("USER") or None,
        "password": config.get("PASSWORD") or None,
    }
    server = psycopg2.connect(dbname="postgres", **params)
    server.autocommit = True
    with server.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]])
        if cursor.fetchone() is None:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
    server.close()


ensure_database(os.environ["DATABASE_URL"])

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from aftersales.health.services import health_recompute  # noqa: E402
from aftersales.risk.sweeps import riskflag_notify_owners, riskflag_sweep_gone_quiet  # noqa: E402
from customers.models import Customer  # noqa: E402

SEED_CUSTOMERS = """
INSERT INTO customers_customer (
    name, company, email, phone, owner_id, language, timezone, email_opt_out,
    last_contact_at, quiet_after, health_explanation, notes, created_at, updated_at
)
SELECT 'Customer ' || n, 'Company ' || (n %% 5000), 'customer' || n || '@example.com', '',
    reps.ids[1 + n %% array_length(reps.ids, 1)], 'en', 'UTC', false,
    contact.at, contact.at + interval '45 days', '[]'::jsonb, '', now() - interval '2 years', now()
FROM generate_series(1, %(customers)s) AS n
CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids FROM auth_user WHERE username LIKE 'benchrep%%') AS reps
CROSS JOIN LATERAL (
    SELECT now() - (((n::bigint * 7919) %% 100000) / 100000.0) * %(span_days)s * interval '1 day' AS at
) AS contact
"""


def seed(customers: int, quiet_share: float, reps: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM customers_customer")
        if cursor.fetchone()[0] == customers:
            print(f"reusing {customers:,} customers")
            return
        started = time.perf_counter()
        cursor.execute(
            "TRUNCATE customers_customer, customers_riskflag, aftersales_outboxemail RESTART IDENTITY CASCADE"
        )
        cursor.execute("DELETE FROM auth_user WHERE username LIKE 'benchrep%%'")
        cursor.execute(
            """INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email,
                   is_staff, is_active, date_joined)
               SELECT '!', false, 'benchrep' || n, 'Rep', n::text, 'benchrep' || n || '@example.com',
                   false, true, now()
               FROM generate_series(1, %s) AS n""",
            [reps],
        )
        cursor.execute(SEED_CUSTOMERS, {"customers": customers, "span_days": 45 / (1 - quiet_share)})
        cursor.execute("VACUUM ANALYZE customers_customer")
        print(f"seeded {customers:,} customers in {time.perf_counter() - started:.1f} s")


def reset() -> None:
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE customers_riskflag, aftersales_outboxemail RESTART IDENTITY CASCADE")


def timed(label: str, job):
    started = time.perf_counter()
    result = job()
    elapsed = time.perf_counter() - started
    print(f"  {label:<34} {elapsed:7.2f} s   {result}")
    return elapsed, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--quiet-share", type=float, default=0.2)
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--health", type=int, default=0, help="Also time recomputing this many customers' health.")
    args = parser.parse_args()
    connection.ensure_connection()
    assert connection.vendor == "postgresql", "this benchmark is for PostgreSQL"
    call_command("migrate", verbosity=0)
    seed(args.customers, args.quiet_share, args.reps)
    reset()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM customers_customer WHERE quiet_after <= %s", [timezone.now()])
        quiet = cursor.fetchone()[0]
    print(f"{args.customers:,} customers, {quiet:,} past their quiet date, {args.reps} owners")
    with open("/proc/loadavg") as f:
        print(f"load average before: {f.read().split()[:3]}")

    # One clock for the passes, so "nothing new" is exact: with the real
    # clock a few customers of a million cross their quiet date every minute.
    now = timezone.now()
    passes = [
        ("full pass", now, None),
        ("re-run, nothing new (right away, before autovacuum visits the new flags)", now, None),
        ("re-run, nothing new (after VACUUM, as autovacuum leaves it)", now, "VACUUM ANALYZE customers_riskflag"),
        ("a day later: the customers who went quiet since", now + dt.timedelta(days=1), None),
    ]
    for title, at, before in passes:
        if before:
            with connection.cursor() as cursor:
                cursor.execute(before)
        print(title)
        detect, result = timed("detect (INSERT … SELECT)", lambda at=at: riskflag_sweep_gone_quiet(now=at))
        notify, emails = timed("notify (claim per owner, outbox)", lambda at=at: riskflag_notify_owners(now=at))
        print(f"  {'total':<34} {detect + notify:7.2f} s   {result.flagged:,} flagged, {emails} emails")
    if args.health:
        # Customers of the bench are not due (the INSERT leaves health_due_at empty): make N due.
        Customer.objects.filter(health_due_at__isnull=False).update(health_due_at=None)
        ids = Customer.objects.order_by("pk").values("pk")[: args.health]
        Customer.objects.filter(pk__in=ids).mark_health_due()
        print(f"health of {args.health:,} customers (flags open, no check-ups or answers in this book)")
        timed("recompute (batches of 500)", health_recompute)
    with open("/proc/loadavg") as f:
        print(f"load average after: {f.read().split()[:3]}")


if __name__ == "__main__":
    main()
