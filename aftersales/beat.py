"""One beat at a time: a scheduler that holds a lock while it runs.

Two beats on one broker would send every periodic task twice (the jobs are
safe to repeat, but twice the load, and a duplicate digest run is wasted
work). ``celery beat`` uses :class:`LockedScheduler` (``CELERY_BEAT_SCHEDULER``);
it takes the lock before it opens its schedule file, and a second beat that
finds the lock taken exits with status 1 and says who holds it.

* Redis broker (production, several machines): ``SET key token NX PX ttl``,
  renewed on every tick while the value is still our token (a Lua
  compare-and-extend), released on shutdown. A beat killed with SIGKILL
  leaves the key to expire after ``BEAT_LOCK_TTL_SECONDS``; until then a new
  beat is refused, and a supervisor's restart succeeds once it has expired.
* Any other broker (the filesystem broker of ``make run``, one machine): an
  exclusive ``fcntl`` lock on ``VAR_DIR/<BEAT_LOCK_NAME>.lock``. The kernel drops
  it when the process dies, however it dies.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import time
import uuid
from pathlib import Path
from typing import Any

from celery.beat import PersistentScheduler
from django.conf import settings

logger = logging.getLogger(__name__)

# KEYS[1] = lock key, ARGV[1] = our token, ARGV[2] = ttl in ms.
_EXTEND = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class BeatLockHeld(SystemExit):
    """Another beat runs: leave with status 1 and this message on stderr."""

    def __init__(self, holder: str) -> None:
        super().__init__(
            f"celery beat: another beat already runs the schedule (lock held by {holder}); "
            "refusing to start a second one, which would send every periodic task twice."
        )


class RedisBeatLock:
    def __init__(self, url: str, key: str, ttl_seconds: int) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.key = key
        self.ttl_ms = ttl_seconds * 1000
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def acquire(self) -> None:
        if not self.client.set(self.key, self.token, nx=True, px=self.ttl_ms):
            holder = self.client.get(self.key)
            if isinstance(holder, bytes):
                holder = holder.decode()
            raise BeatLockHeld(holder or "a beat that just stopped")

    def renew(self) -> bool:
        """Extend our lock; if it expired (a long stall) and nobody took it, take it again."""
        if self.client.eval(_EXTEND, 1, self.key, self.token, self.ttl_ms):
            return True
        return bool(self.client.set(self.key, self.token, nx=True, px=self.ttl_ms))

    def release(self) -> None:
        self.client.eval(_RELEASE, 1, self.key, self.token)


class FileBeatLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise BeatLockHeld(f"{holder} via {self.path}") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode())
        self.fd = fd

    def renew(self) -> bool:
        return self.fd is not None  # the kernel holds it for us as long as we live

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor drops the flock
            self.fd = None


def beat_lock() -> RedisBeatLock | FileBeatLock:
    url = settings.CELERY_BROKER_URL
    if url.startswith(("redis://", "rediss://")):
        return RedisBeatLock(url, settings.BEAT_LOCK_NAME, settings.BEAT_LOCK_TTL_SECONDS)
    return FileBeatLock(Path(settings.VAR_DIR) / f"{settings.BEAT_LOCK_NAME}.lock")


class LockedScheduler(PersistentScheduler):
    """The default file-backed scheduler, run only while this process holds the beat lock."""

    lock: RedisBeatLock | FileBeatLock | None = None
    max_interval: float  # PersistentScheduler's (celery ships no types)

    def __init__(self, *args: Any, lazy: bool = False, **kwargs: Any) -> None:
        # Tick (and so renew) at least three times per lock lifetime.
        self.renew_every = settings.BEAT_LOCK_TTL_SECONDS / 3
        self._renewed_at = time.monotonic()
        # A lazy instance only describes the scheduler for the start-up banner:
        # it runs nothing and takes no lock. The real one locks first, so a
        # refused beat never even opens the schedule file.
        if not lazy:
            self.lock = beat_lock()
            self.lock.acquire()
            logger.info("beat: took the beat lock (%s)", type(self.lock).__name__)
        super().__init__(*args, lazy=lazy, **kwargs)
        self.max_interval = min(self.max_interval, self.renew_every)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if self.lock is not None and time.monotonic() - self._renewed_at >= self.renew_every / 2:
            if not self.lock.renew():
                # Another beat took over while we stalled: stop, or both would send.
                logger.critical("beat: lost the beat lock to another beat; stopping")
                raise SystemExit(1)
            self._renewed_at = time.monotonic()
        return min(super().tick(*args, **kwargs), self.renew_every)

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.lock is not None:
                self.lock.release()
