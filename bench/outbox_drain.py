"""Benchmark: how fast the outbox drains to a local SMTP server (aiosmtpd), with batching.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/as_bench SECRET_KEY=… \\
        .venv/bin/python bench/outbox_drain.py [--emails 5000] [--processes 2] [--batch-size 500]

Migrate the database first (``manage.py migrate``). The script writes
``--emails`` pending rows (no tasks), starts an aiosmtpd sink in this process,
then ``--processes`` forked sweepers each call ``outbox_sweep`` (the service of
the beat sweep and of ``manage.py outbox_deliver``) until nothing is left:
each sweep claims rows one conditional UPDATE at a time and sends a batch
over one SMTP connection. Prints emails/s and checks the sink saw every
Message-ID exactly once. The rows it wrote are deleted afterwards.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aftersales.settings")
os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.smtp.EmailBackend"

import django  # noqa: E402
from django.conf import settings  # noqa: E402

django.setup()

from django.db import connections  # noqa: E402

from aftersales.mail.models import OutboxEmail  # noqa: E402
from aftersales.mail.outbox import outbox_sweep  # noqa: E402
from tests.smtp_sink import smtp_sink  # noqa: E402

SUBJECT = "bench outbox drain"


def sweeper(batch_size: int) -> None:
    connections.close_all()  # a fresh database connection in the forked process
    while outbox_sweep(batch_size=batch_size):
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--emails", type=int, default=5000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()

    OutboxEmail.objects.filter(subject=SUBJECT).delete()
    if OutboxEmail.objects.deliverable().exists():
        sys.exit("This database has other pending outbox mail; use a bench database.")
    OutboxEmail.objects.bulk_create(
        [
            OutboxEmail(to=f"customer{i}@example.com", subject=SUBJECT, body_text="Hello " * 100, kind="notification")
            for i in range(args.emails)
        ],
        batch_size=2000,
    )
    with smtp_sink() as (sink, port):
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        connections.close_all()
        context = multiprocessing.get_context("fork")
        started = time.perf_counter()
        processes = [context.Process(target=sweeper, args=(args.batch_size,)) for _ in range(args.processes)]
        for process in processes:
            process.start()
        for process in processes:
            process.join()
        elapsed = time.perf_counter() - started
        counts = sink.counts()
    sent = OutboxEmail.objects.filter(subject=SUBJECT, sent_at__isnull=False).count()
    print(f"database: {connections['default'].vendor}, processes: {args.processes}, batch size: {args.batch_size}")
    print(f"sent {sent} of {args.emails} emails in {elapsed:.2f} s: {sent / elapsed:.0f} emails/s")
    print(
        f"sink received {sum(counts.values())} messages, {len(counts)} distinct Message-IDs, max per id "
        f"{max(counts.values(), default=0)}"
    )
    OutboxEmail.objects.filter(subject=SUBJECT).delete()


if __name__ == "__main__":
    main()
