"""Benchmark: the managers' dashboard, the job that refreshes it, and the customer lists its charts link to.

    DATABASE_URL=postgres://…/as_bench SECRET_KEY=… .venv/bin/python bench/dashboard.py [--runs 25]

Run it against a database seeded with ``manage.py seed_demo --customers 100000``.
Requests go through the Django test client (middleware, templates, no
network) signed in as the demo manager; the first two requests of each case
warm the caches and are not counted. Prints p50/p95 in milliseconds and the
queries per request; for the refresh job, the time of each of its queries.
"""

from __future__ import annotations

import argparse
import os
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
settings.AXES_ENABLED = False  # force_login is not a login attempt

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from aftersales.dashboard.models import DailyRollup  # noqa: E402
from aftersales.dashboard.rollups import dashboard_refresh  # noqa: E402
from aftersales.dashboard.selectors import month_key, month_starts  # noqa: E402
from customers.models import Customer  # noqa: E402


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def timed(client: Client, url: str, runs: int) -> tuple[list[float], int]:
    for _ in range(2):
        assert client.get(url).status_code == 200
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return samples, sum(not q["sql"].startswith(("SAVEPOINT", "RELEASE")) for q in queries.captured_queries)


def refresh_profile() -> None:
    """The job once, with the time of each query (the page never runs these while the rollup is fresh)."""
    timings: list[tuple[float, str]] = []

    def wrapper(execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            timings.append(((time.perf_counter() - start) * 1000, sql))

    with connection.execute_wrapper(wrapper):
        start = time.perf_counter()
        dashboard_refresh()
        total = (time.perf_counter() - start) * 1000
    print(f"refresh job: {total:,.0f} ms in {len(timings)} statements; the slowest:")
    for ms, sql in sorted(timings, reverse=True)[:6]:
        print(f"  {ms:8.1f} ms  {' '.join(sql.split())[:110]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=25)
    args = parser.parse_args()
    manager = get_user_model().objects.get(username="manager")
    rep1 = get_user_model().objects.get(username="rep1")
    client = Client()
    client.force_login(manager)
    print(f"{Customer.objects.count():,} customers; {connection.vendor}; {args.runs} runs per case")
    refresh_profile()

    now = timezone.now()
    last_month = month_key(month_starts(now)[-2])
    week_ago = (timezone.localdate(now) - timezone.timedelta(days=7)).isoformat()
    customers = reverse("customers:list")
    cases = [
        ("dashboard (rollup fresh)", reverse("dashboard")),
        (f"drill: detractors of {last_month}", f"{customers}?answered={last_month}&nps=detractor"),
        (f"drill: answered in {last_month}", f"{customers}?answered={last_month}"),
        (f"drill: invited in {last_month}", f"{customers}?invited={last_month}"),
        ("drill: overdue check-ups of rep1", f"{customers}?overdue_for={rep1.pk}"),
        ("drill: every overdue check-up", f"{customers}?overdue=1"),
        (f"drill: at risk on {week_ago}", f"{customers}?flagged_on={week_ago}"),
        ("customer list, page 1", customers),
        ("at-risk list, page 1", reverse("risk:list")),
        ("at-risk list, rep1", f"{reverse('risk:list')}?rep={rep1.pk}"),
        ("at-risk list, reason detractor", f"{reverse('risk:list')}?reason=detractor"),
        ("at-risk list, band red, by last contact", f"{reverse('risk:list')}?band=red&sort=-last_contact"),
    ]
    print(f"{'case':40} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
    for name, url in cases:
        samples, queries = timed(client, url, args.runs)
        print(f"{name:40} {percentile(samples, 0.5):8.1f} {percentile(samples, 0.95):8.1f} {queries:8d}")

    # A stale rollup: the page computes the charts itself (no beat running).
    DailyRollup.objects.filter(day=timezone.localdate(now)).update(computed_at=now - timezone.timedelta(hours=1))
    start = time.perf_counter()
    assert client.get(reverse("dashboard")).status_code == 200
    print(f"{'dashboard (rollup stale, recomputed)':40} {(time.perf_counter() - start) * 1000:8.1f} (one request)")


if __name__ == "__main__":
    main()
