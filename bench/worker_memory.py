"""Benchmark: memory of a Celery worker before and after 10,000 tasks.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/as_bench CELERY_BROKER_URL=redis://127.0.0.1:6379/4 \\
        SECRET_KEY=… .venv/bin/python bench/worker_memory.py [--tasks 10000]

Migrate the database first. Starts ``celery worker`` (prefork, one child, the
production settings: acks_late, time limits, worker_max_memory_per_child) on
a queue of its own, warms it with 100 tasks, reads the resident set size
(VmRSS) of the main process and of its child, runs ``--tasks`` more
``outbox_deliver_task`` calls (each one conditional UPDATE on the outbox:
a real database round trip, nothing to send), then reads RSS again.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aftersales.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from aftersales.celery import app  # noqa: E402
from tests.celery_worker import worker_environment  # noqa: E402

QUEUE = "aftersales-bench-memory"
TASK = "aftersales.tasks.outbox_deliver_task"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def queued() -> int:
    with app.connection_for_write() as conn:
        return conn.default_channel.queue_declare(QUEUE, durable=True, auto_delete=False).message_count


def publish(n: int) -> None:
    with app.producer_or_acquire() as producer:
        for _ in range(n):
            app.send_task(TASK, args=[0], queue=QUEUE, producer=producer)


def drain(log: Path, timeout: float = 1800) -> None:
    deadline = time.monotonic() + timeout
    while queued():
        if time.monotonic() > deadline:
            sys.exit(f"the worker did not drain the queue; see {log}")
        time.sleep(0.5)
    time.sleep(2)  # the last prefetched task


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=10_000)
    args = parser.parse_args()
    with app.connection_for_write() as conn:
        conn.default_channel.queue_declare(QUEUE, durable=True, auto_delete=False)
        conn.default_channel.queue_purge(QUEUE)
    env = worker_environment()
    env["DATABASE_URL"] = os.environ.get("DATABASE_URL", env["DATABASE_URL"])
    env["CONN_MAX_AGE"] = "60"
    log = Path(settings.VAR_DIR) / "bench-worker-memory.log"
    command = [sys.executable, "-m", "celery", "-A", "aftersales", "worker", "--pool=prefork", "--concurrency=1"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-Q", QUEUE, "--loglevel=WARNING"]
    with log.open("wb") as out:
        worker = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        publish(100)
        drain(log)
        before = {"main": rss_kib(worker.pid), "children": {c: rss_kib(c) for c in children(worker.pid)}}
        started = time.perf_counter()
        publish(args.tasks)
        drain(log)
        elapsed = time.perf_counter() - started
        after = {"main": rss_kib(worker.pid), "children": {c: rss_kib(c) for c in children(worker.pid)}}
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    print(f"broker: {settings.CELERY_BROKER_URL.split(':')[0]}, database: {settings.DATABASES['default']['ENGINE']}")
    print(f"{args.tasks} tasks in {elapsed:.1f} s ({args.tasks / elapsed:.0f} tasks/s)")
    print(f"main process RSS: {before['main'] / 1024:.1f} MiB -> {after['main'] / 1024:.1f} MiB")
    print(f"child RSS (pid: KiB): before {before['children']}, after {after['children']}")
    print(f"worker_max_memory_per_child: {settings.CELERY_WORKER_MAX_MEMORY_PER_CHILD / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
