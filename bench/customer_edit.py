"""Benchmark: the duplicate check, the new-customer and edit pages, and merging two customers.

    DATABASE_URL=postgres://…/as_bench SECRET_KEY=… .venv/bin/python bench/customer_edit.py [--runs 30]

Run it against a database seeded with ``manage.py seed_demo --customers 100000``. Pages go
through the Django test client signed in as rep1; the first two runs of each case are not
counted. Merges run in a transaction that is rolled back, so the database is left as it was.
Prints the duplicate look-up's plan (it must use customer_email_upper_idx and customer_phone_idx)
and p50/p95 in milliseconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aftersales.settings")

import django  # noqa: E402
from django.conf import settings  # noqa: E402

django.setup()
settings.STORAGES = {
    **settings.STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402

from aftersales.customer_pages.merge import customers_merge  # noqa: E402
from customers.models import Customer  # noqa: E402
from customers.phones import phone_or_none  # noqa: E402
from customers.selectors import customer_duplicates  # noqa: E402


def timed(fn, runs: int) -> str:
    samples = []
    for _ in range(runs + 2):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples = sorted(samples[2:])
    return f"p50 {statistics.median(samples):6.1f}   p95 {samples[max(0, int(len(samples) * 0.95) - 1)]:6.1f}"


class RolledBack(Exception):
    pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    rep = get_user_model().objects.get(username="rep1")
    manager = get_user_model().objects.get(username="manager")
    client = Client()
    client.force_login(rep)
    candidates = Customer.objects.filter(owner=rep).exclude(email="").exclude(phone="").order_by("pk")[100:200]
    mine = next(customer for customer in candidates if phone_or_none(customer.phone))

    sql, params = customer_duplicates(email=mine.email.upper(), phone=mine.phone).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    print(plan, end="\n\n")
    assert "customer_email_upper_idx" in plan and "customer_phone_idx" in plan, "the look-up must use its indexes"

    print(f"{Customer.objects.count():,} customers, {runs} runs each, ms")
    print("customer_duplicates (e-mail or phone)    ", timed(lambda: list(customer_duplicates(
        email=mine.email.upper(), phone=mine.phone)), runs))  # fmt: skip
    new = {"name": "Someone", "email": mine.email.upper(), "phone": "", "language": "en", "timezone": "UTC"}
    assert b'id="duplicates"' in client.post("/customers/new/", new).content
    print("POST /customers/new/ → duplicate warning ", timed(lambda: client.post("/customers/new/", new), runs))
    print("GET /customers/<id>/edit/                ", timed(lambda: client.get(f"/customers/{mine.pk}/edit/"), runs))

    richest = list(Customer.objects.annotate(rows=Count("touchpoints")).order_by("-rows")[: 2 * min(runs, 20)])
    samples = []
    for survivor, merged in zip(richest[0::2], richest[1::2], strict=True):
        try:
            with transaction.atomic():
                start = time.perf_counter()
                customers_merge(survivor=survivor, merged=merged, by=manager)
                samples.append((time.perf_counter() - start) * 1000)
                raise RolledBack
        except RolledBack:
            pass
    samples.sort()
    print(
        f"customers_merge, busiest customers        p50 {statistics.median(samples):6.1f}   max {samples[-1]:6.1f}"
        f"   ({len(samples)} merges, rolled back)"
    )


if __name__ == "__main__":
    main()
