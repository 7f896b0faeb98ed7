"""The jobs the README lists for running by hand work in a fresh checkout with nothing exported, on
the dev key `make run` keeps in var/; serving, and anything that looks like a deployment, still
refuses to start without a real SECRET_KEY."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """A fresh process with nothing of ours in its environment: no SECRET_KEY, DEBUG or DATABASE_URL."""
    bare = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", str(tmp_path)), "VAR_DIR": str(tmp_path)}
    return subprocess.run(  # noqa: S603 — our own interpreter and files, fixed arguments
        [sys.executable, *args], cwd=ROOT, env={**bare, **env}, capture_output=True, text=True, timeout=120
    )


def test_a_job_run_by_hand_next_to_make_run_uses_its_dev_key(tmp_path):
    # What `make run` does first: migrate with DEBUG=true, which makes the dev key.
    setup = _run(tmp_path, "manage.py", "migrate", "--noinput", "-v", "0", DEBUG="true")
    assert setup.returncode == 0, setup.stderr
    key = (tmp_path / "dev-secret-key").read_text().strip()

    job = _run(tmp_path, "manage.py", "send_reminders")
    used = _run(tmp_path, "manage.py", "shell", "-c", "from django.conf import settings; print(settings.SECRET_KEY)")

    assert job.returncode == 0, job.stderr
    assert "Queued 0 reminder(s)." in job.stdout
    # The same key as the server's: the links its mail carries open there.
    assert used.stdout.strip().splitlines()[-1] == key
    assert (tmp_path / "dev-secret-key").stat().st_mode & 0o077 == 0, "the key file is private"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("manage.py", "runserver", "--noreload"), {}),
        (("-c", "import aftersales.wsgi"), {}),  # what gunicorn loads
        (("manage.py", "send_reminders"), {"DEBUG": "false"}),
        (("manage.py", "send_reminders"), {"DATABASE_URL": "postgres://aftersales@db.example.com/aftersales"}),
    ],
    ids=["runserver", "gunicorn", "debug-false", "database-url"],
)
def test_serving_or_a_deployment_without_a_secret_key_refuses_to_start(tmp_path, args, env):
    if "runserver" in args:
        args = (*args, f"127.0.0.1:{_free_port()}")

    result = _run(tmp_path, *args, **env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "Set SECRET_KEY" in result.stderr
    assert not (tmp_path / "dev-secret-key").exists()
