"""Benchmark: a rep's scorecard in each period, and the customer lists its numbers link to.

    DATABASE_URL=postgres://…/as_bench SECRET_KEY=… .venv/bin/python bench/scorecard.py [--runs 15]

Run it against a database seeded with ``manage.py seed_demo --customers 100000``.
Requests go through the Django test client signed in as the demo manager, on
rep1's scorecard; the first two requests of each case are not counted. Prints
p50/p95 in milliseconds and the queries per request, and for each link of the
default period the card's number next to the rows the list counts (they must match).
"""

from __future__ import annotations

import argparse
import html
import os
import re
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

from django.test.utils import setup_test_environment  # noqa: E402

setup_test_environment()  # the responses keep their context: the list's row count is read from it

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

from aftersales.risk.scorecards import PERIODS  # noqa: E402

LINK = re.compile(r'<a [^>]*href="([^"]+)"[^>]*>(?:<span[^>]*>)?(\d+)')


def timed(client: Client, url: str, runs: int) -> tuple[float, float, int, HttpResponse]:
    for _ in range(2):
        assert client.get(url).status_code == 200
    samples = []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            response = client.get(url)
            samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return samples[len(samples) // 2], p95, len(queries.captured_queries), response


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    users = get_user_model().objects
    client = Client()
    client.force_login(users.get(username="manager"))
    scorecard = reverse("rep_scorecard", args=[users.get(username="rep1").pk])
    print(f"{'case':44} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
    for period in PERIODS:
        p50, p95, queries, response = timed(client, f"{scorecard}?period={period}", args.runs)
        print(f"{'scorecard, period=' + period:44} {p50:8.1f} {p95:8.1f} {queries:8d}")
        if period == "90":
            links = LINK.findall(response.content.decode())
    for href, number in links:
        url = html.unescape(href)
        p50, p95, queries, response = timed(client, url, args.runs)
        page = response.context["page_obj"]
        listed = page.count if page.count is not None else f"more than {page.count_cap:,}"  # the list's cap
        name = re.sub(r"_since=[^&]*", "_since=…", url.split("?", 1)[1])
        print(f"{'  list ' + name:44} {p50:8.1f} {p95:8.1f} {queries:8d}   card {number}, list {listed}")


if __name__ == "__main__":
    main()
