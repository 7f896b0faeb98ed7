"""Load client and audit for the dropped-connection benchmark (bench/survey_conn_kill.sh).

    python bench/survey_conn_kill.py load TOKENS_FILE RESULTS_FILE URL CSRF DURATION_S CONNECTIONS
    DATABASE_URL=postgres://… python bench/survey_conn_kill.py audit RESULTS_FILE

``load`` POSTs survey answers from CONNECTIONS threads (keep-alive, one token
per request, each POST a first answer, the same score mix as survey_load.lua)
for DURATION_S seconds and writes one line per submission: status (0 for a
socket error), the token, the comment sent. ``audit`` compares that record
with the database: every answer the customer was thanked for (302) must be
stored, with the comment they sent; no customer gets two call-backs.
"""

from __future__ import annotations

import http.client
import itertools
import os
import sys
import threading
import time
import urllib.parse
from collections import Counter
from pathlib import Path

SCORES = [10, 9, 10, 9, 9, 8, 7, 8, 5, 2]


def load(tokens_file: Path, results_file: Path, url: str, csrf: str, duration: float, connections: int) -> None:
    tokens = tokens_file.read_text().split()
    target = urllib.parse.urlsplit(url)
    numbers = itertools.count()
    lock = threading.Lock()
    results: list[tuple[int, str, str, float]] = []
    deadline = time.monotonic() + duration
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"csrftoken={csrf}",
        "X-CSRFToken": csrf,
    }

    def client() -> None:
        http_connection = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        mine = []
        while time.monotonic() < deadline:
            with lock:
                n = next(numbers)
            if n >= len(tokens):
                break
            score = SCORES[n % len(SCORES)]
            csat = 5 if score >= 9 else (4 if score >= 7 else 2)
            comment = f"Conn-kill answer {n}"
            body = urllib.parse.urlencode({"nps": score, "csat": csat, "would_buy_again": "yes", "comment": comment})
            started = time.monotonic()
            try:
                http_connection.request("POST", f"/feedback/s/{tokens[n]}/", body, headers)
                response = http_connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                status = 0
                http_connection.close()
                http_connection = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
            mine.append((status, tokens[n], comment, time.monotonic() - started))
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(connections)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    results_file.write_text("".join(f"{status} {token} {comment}\n" for status, token, comment, _ in results))
    statuses = Counter(status for status, *_ in results)
    latencies = sorted(latency for *_, latency in results)
    print(f"submissions: {len(results)} in {seconds:.1f} s = {len(results) / seconds:.1f}/s")
    counts = ", ".join(f"{status or 'socket error'}: {count}" for status, count in sorted(statuses.items()))
    print(f"responses: {counts}")
    if latencies:
        p = {q: latencies[min(len(latencies) - 1, int(len(latencies) * q / 100))] * 1000 for q in (50, 95, 99)}
        print(f"latency p50 / p95 / p99 / max: {p[50]:.0f} / {p[95]:.0f} / {p[99]:.0f} / {latencies[-1] * 1000:.0f} ms")


def audit(results_file: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aftersales.settings")
    import django

    django.setup()
    from django.db.models import Count

    from feedback.models import SurveyResponse, hash_token
    from touchpoints.models import Kind, TouchPoint

    rows = [line.split(" ", 2) for line in results_file.read_text().splitlines()]
    sent = {hash_token(token): (int(status), comment) for status, token, comment in rows}
    answers = SurveyResponse.objects.filter(invitation__token_hash__in=list(sent))
    stored = dict(answers.values_list("invitation__token_hash", "comment"))
    thanked = [h for h, (status, _) in sent.items() if status == 302]
    failed = [h for h, (status, _) in sent.items() if status != 302]
    lost = [h for h in thanked if stored.get(h) != sent[h][1]]
    errors = len(failed)
    print(f"submissions: {len(sent)}, answered with an error: {errors} ({100 * errors / max(len(sent), 1):.2f}%)")
    print(f"thanked (302): {len(thanked)}, of them lost (no answer stored, or not the one sent): {len(lost)}")
    print(
        f"answered with an error but stored all the same (a commit whose acknowledgement was lost): "
        f"{sum(1 for h in failed if h in stored)}"
    )
    second_calls = (
        TouchPoint.objects.filter(kind=Kind.CLOSE_LOOP)
        .values("customer_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    # Two answers to one invitation cannot exist (OneToOne); a retried commit could only show as a second call-back.
    print(f"customers with two call-backs: {second_calls}")
    print(f"answers stored: {SurveyResponse.objects.count()} (warm-up included)")


if __name__ == "__main__":
    if sys.argv[1] == "load":
        load(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4], sys.argv[5], float(sys.argv[6]), int(sys.argv[7]))
    else:
        audit(Path(sys.argv[2]))
