"""Benchmark: the customer list (search, filters, sorting, pages) and a customer page.

    DATABASE_URL=postgres://…/as_bench SECRET_KEY=… .venv/bin/python bench/customer_pages.py [--runs 20]

Run it against a database seeded with ``manage.py seed_demo --customers 100000``.
Each request goes through the Django test client (middleware, templates and
all, no network), signed in as the demo manager or rep1; the first two runs of
each case warm the caches and are not counted. Prints p50/p95 in milliseconds,
the queries per request, and how long an exact COUNT(*) of the same result
would take (what django.core.paginator.Paginator runs on every page).
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
# No collectstatic here: resolve {% static %} without the manifest, as the tests do.
settings.STORAGES = {
    **settings.STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

from aftersales.customer_pages.selectors import customer_search  # noqa: E402
from aftersales.customer_pages.views import CustomerFilterForm, _owner_choices  # noqa: E402
from customers.models import Customer, Product  # noqa: E402


def cases(rep_id: int, product_id: int) -> list[tuple[str, str, dict]]:
    return [
        ("manager", "list, page 1", {}),
        ("manager", "list, page 2", {"page": 2}),
        ("manager", "list, page 1000 (offset 24,975)", {"page": 1000}),
        ("manager", "search name 'parker'", {"q": "parker"}),
        ("manager", "search company 'sullivan'", {"q": "sullivan"}),
        ("manager", "search email '@yu.com'", {"q": "@yu.com"}),
        ("manager", "search Cyrillic 'копылов'", {"q": "копылов"}),
        ("manager", "search, no match 'zzqxj'", {"q": "zzqxj"}),
        ("manager", "search 1 letter 'a' (broad)", {"q": "a"}),
        ("manager", "filter product (EXISTS)", {"product": product_id}),
        ("manager", "filter band red", {"band": "red"}),
        ("manager", "filter quiet now", {"quiet": "on"}),
        ("manager", "filter owner rep1", {"owner": rep_id}),
        ("manager", "sort -health", {"sort": "-health"}),
        ("manager", "sort last_contact", {"sort": "last_contact"}),
        ("manager", "sort quiet_after", {"sort": "quiet_after"}),
        (
            "manager",
            "product + red + quiet, sort -last_contact",
            {"product": product_id, "band": "red", "quiet": "on", "sort": "-last_contact"},
        ),
        ("rep1", "list, page 1", {}),
        ("rep1", "search 'parker'", {"q": "parker"}),
        ("rep1", "product + band yellow, sort health", {"product": product_id, "band": "yellow", "sort": "health"}),
    ]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def timed(client: Client, url: str, params: dict, runs: int) -> tuple[list[float], int]:
    for _ in range(2):
        assert client.get(url, params).status_code == 200
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(url, params)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        client.get(url, params)
    return samples, len(queries.captured_queries)


def exact_count_ms(user, params: dict) -> float:
    """What Paginator would add: COUNT(*) over the whole filtered result."""
    owners = _owner_choices() if user.username == "manager" else None
    products = list(Product.objects.values_list("pk", "name"))
    filters = CustomerFilterForm(params, owners=owners, products=products).filters()
    queryset = customer_search(user=user, filters=filters).order_by()
    queryset.count()
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        queryset.count()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    users = {user.username: user for user in get_user_model().objects.filter(username__in=["manager", "rep1"])}
    clients = {}
    for name, user in users.items():
        clients[name] = Client()
        clients[name].force_login(user)
    product_id = Product.objects.annotate(n=Count("purchases")).order_by("-n").values_list("pk", flat=True).first()
    print(f"{Customer.objects.count():,} customers; {connection.vendor}; {args.runs} runs per case")
    print(f"{'who':8} {'case':45} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8} {'COUNT(*) ms':>12}")
    for who, label, params in cases(users["rep1"].pk, product_id):
        samples, queries = timed(clients[who], reverse("customers:list"), params, args.runs)
        count_ms = exact_count_ms(users[who], params)
        print(
            f"{who:8} {label:45} {percentile(samples, 0.5):8.1f} {percentile(samples, 0.95):8.1f} {queries:8} "
            f"{count_ms:12.1f}"
        )
    # The customer page of the customer with the longest history.
    busiest = Customer.objects.annotate(n=Count("touchpoints")).order_by("-n").first()
    samples, queries = timed(clients["manager"], busiest.get_absolute_url(), {}, args.runs)
    label = f"customer page ({busiest.n} touch points)"
    print(f"{'manager':8} {label:45} {percentile(samples, 0.5):8.1f} {percentile(samples, 0.95):8.1f} {queries:8}")


if __name__ == "__main__":
    main()
