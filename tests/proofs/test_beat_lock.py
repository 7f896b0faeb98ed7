"""Only one beat runs the schedule: a second real `celery beat` process refuses to start."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings

from tests.celery_worker import celery_command, worker_environment

pytestmark = [pytest.mark.celery, pytest.mark.timeout(90)]


def start_beat(tmp_path: Path, name: str, **env: str) -> tuple[subprocess.Popen, Path]:
    log_path = tmp_path / f"{name}.log"
    command = celery_command("beat", "--loglevel=INFO", "--schedule", str(tmp_path / f"{name}-schedule"))
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            # A lock of its own: a dev beat (`make run`) on the same broker or VAR_DIR is no concern of the test.
            env=worker_environment({"BEAT_LOCK_TTL_SECONDS": "6", "BEAT_LOCK_NAME": "aftersales-beat-test", **env}),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return process, log_path


def wait_for_text(path: Path, text: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in path.read_text(errors="replace"):
            return
        if process.poll() is not None:
            raise AssertionError(f"beat exited ({process.returncode}):\n{path.read_text(errors='replace')}")
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {text!r}:\n{path.read_text(errors='replace')}")


def stop(process: subprocess.Popen) -> int:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def test_a_second_beat_refuses_to_start_while_the_first_runs_and_may_start_after_it_stops(db, tmp_path):
    first, first_log = start_beat(tmp_path, "first")
    try:
        wait_for_text(first_log, "took the beat lock", first)

        second, second_log = start_beat(tmp_path, "second")
        assert second.wait(timeout=30) != 0, "the second beat must exit with an error"
        refusal = second_log.read_text(errors="replace")
        assert "another beat already runs the schedule" in refusal, refusal
        assert not list(tmp_path.glob("second-schedule*")), "the refused beat never opened its schedule"

        # The lock is renewed: after more than one lock lifetime the first still holds it.
        time.sleep(8)
        third, third_log = start_beat(tmp_path, "third")
        assert third.wait(timeout=30) != 0, third_log.read_text(errors="replace")
        assert first.poll() is None, "the first beat is still running"
    finally:
        assert stop(first) == 0

    # A clean shutdown releases the lock at once.
    fourth, fourth_log = start_beat(tmp_path, "fourth")
    try:
        wait_for_text(fourth_log, "took the beat lock", fourth)
    finally:
        stop(fourth)
