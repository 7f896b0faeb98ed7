"""Start a real Celery worker process for integration tests.

The worker is a separate ``celery worker`` process on the configured broker
(filesystem:// or Redis), pointed at the *test* database, so a test sees what
a deployed worker would do: consume a message, run the task, commit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

from django.conf import settings
from django.db import connection


def worker_database_url() -> str:
    """A DATABASE_URL for the database this test run uses (the test database, not the dev one)."""
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        name = str(params["NAME"])
        if name == ":memory:" or name.startswith("file:"):
            raise RuntimeError("a worker process cannot share an in-memory SQLite database; set TEST NAME to a file")
        return f"sqlite:///{Path(name).resolve()}"
    if connection.vendor == "postgresql":
        user = quote(params.get("USER") or "", safe="")
        password = quote(params.get("PASSWORD") or "", safe="")
        credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = quote(params.get("HOST") or "", safe="")
        port = f":{params['PORT']}" if params.get("PORT") else ""
        options = {key: value for key, value in (params.get("OPTIONS") or {}).items() if isinstance(value, str)}
        query = f"?{urlencode(options)}" if options else ""
        return f"postgres://{credentials}{host}{port}/{quote(params['NAME'], safe='')}{query}"
    raise RuntimeError(f"no worker database URL for {connection.vendor}")


def worker_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The worker's environment; ``extra`` overrides it (e.g. EMAIL_URL of an SMTP sink, a short lease)."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="aftersales.settings",
        DATABASE_URL=worker_database_url(),
        VAR_DIR=str(settings.VAR_DIR),
        SECRET_KEY=settings.SECRET_KEY,
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        # Never real SMTP from a test, whatever the shell has configured.
        EMAIL_BACKEND="aftersales.mail.mailbox.DevMailboxBackend",
        # Close the connection after each task, so the test database can be
        # flushed and dropped as soon as the worker is stopped.
        CONN_MAX_AGE="0",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra or {})
    return env


def celery_command(*args: str) -> list[str]:
    """``celery -A aftersales <args>`` with this interpreter."""
    return [sys.executable, "-m", "celery", "-A", "aftersales", *args]


def route_to_queue(tasks: tuple[str, ...], queue: str | None) -> None:
    """Send ``tasks`` to ``queue`` (None: back to the default), so a test's worker takes only the test's tasks.

    Not the default "celery" queue: a worker of `make run` on the same broker
    must not take a test's task (and deliver it into the dev database).
    """
    from aftersales.celery import app

    app.conf.task_routes = {task: {"queue": queue} for task in tasks} if queue else None
    app.amqp.flush_routes()
    app.amqp.router = app.amqp.Router()


def empty_queue(queue: str) -> None:
    """Declare ``queue`` on the broker and drop the leftovers of an interrupted run."""
    from aftersales.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_declare(queue, durable=True, auto_delete=False)
        conn.default_channel.queue_purge(queue)


@dataclass
class Worker:
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for(self, condition: Callable[[], bool], *, timeout: float, what: str) -> None:
        """Poll ``condition`` until it holds; fail with the worker's log if it never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            if self.process.poll() is not None:
                raise AssertionError(f"the worker exited ({self.process.returncode}) before {what}")
            time.sleep(0.25)
        raise AssertionError(f"timed out after {timeout:.0f}s waiting until {what}")

    def kill(self) -> None:
        """SIGKILL, as the OOM killer or a lost machine would: no cleanup, no ack, the lease stays."""
        self.process.kill()
        self.process.wait()

    def stop(self, timeout: float = 20) -> int:
        """Warm shutdown (SIGTERM, as a process manager sends it); kill only if it hangs."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"the worker ignored SIGTERM for {timeout:.0f}s") from None
        return self.process.returncode


@contextmanager
def celery_worker(
    *, queue: str, log_path: Path, env: dict[str, str] | None = None, name: str = "w"
) -> Iterator[Worker]:
    """Run ``celery -A aftersales worker`` consuming ``queue``; stop it on exit.

    The solo pool runs tasks in the worker's main process: one process to
    start and stop, and the same task code path as prefork. ``name`` tells
    apart several workers of one test; ``env`` overrides the environment.
    """
    command = celery_command(
        "worker",
        "--pool=solo",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-Q",
        queue,
        "-n",
        f"{queue}-{name}-{os.getpid()}@%h",
        "--loglevel=INFO",
    )
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            # Tasks the worker's own tasks queue (on commit) go to the test's queue too, not to a dev worker's.
            env=worker_environment({"CELERY_TASK_DEFAULT_QUEUE": queue, **(env or {})}),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    worker = Worker(process=process, log_path=log_path)
    try:
        yield worker
        worker.stop()
    except BaseException:
        try:
            worker.stop()
        finally:
            # Printed output is shown by pytest with the failure report.
            print(f"----- celery worker log ({log_path}) -----\n{worker.log()}")
        raise
