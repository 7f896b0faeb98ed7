"""Per-IP rate limit for the public (no login) pages: survey, thank-you, unsubscribe.

Tokens have 192 random bits, so guessing one is hopeless; the limit is there
so a script cannot hammer the database through these pages and a leaked link
cannot be replayed thousands of times. A fixed one-minute window counted in
the default cache. On Redis (``CACHE_URL``) one ``INCR`` counts (atomic,
shared by every gunicorn worker); the window's first request also gives the
key its expiry: the survey POST pays this on every answer, and a bare ``INCR``
is the cheapest way to count (docs/BENCHMARKS.md). (A worker killed between the
two commands leaves one window's key without expiry: a few bytes, never read
again, as the key names its minute.) Other caches (one machine, ``make run``:
per process, which is enough there) use ``cache.add`` to start the window
and ``cache.incr`` to count.

A cache outage must not take the survey down: the limit then fails open.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

import redis
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)
WINDOW_SECONDS = 60


def client_ip(request: HttpRequest) -> str:
    """The client's address: the socket's, or the one the Nth trusted proxy saw (X-Forwarded-For).

    Only the entries our own proxies appended can be trusted; anything left of
    them is whatever the client chose to send.
    """
    proxies = settings.AFTERSALES.get("TRUSTED_PROXY_COUNT", 0)
    if proxies:
        header: str = request.META.get("HTTP_X_FORWARDED_FOR", "")
        forwarded = [part.strip() for part in header.split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    address: str = request.META.get("REMOTE_ADDR", "")
    return address or "unknown"


def over_limit(request: HttpRequest, scope: str) -> bool:
    """Count this request; True once the client made more than the limit in the current minute."""
    limit = settings.AFTERSALES.get("PUBLIC_RATE_LIMIT_PER_MINUTE", 30)
    window = int(time.time() // WINDOW_SECONDS)
    try:
        return _count(f"rl:{scope}:{client_ip(request)}:{window}") > limit
    except Exception:  # noqa: BLE001 — the cache is down: serve the customer, log it
        logger.warning("Rate-limit cache unavailable; not limiting %s", scope, exc_info=True)
        return False


@functools.lru_cache(maxsize=16)
def _redis_client(pool: redis.ConnectionPool) -> redis.Redis:
    """One client per connection pool: building one per request (as ``get_client`` does) cost as much as the count."""
    return redis.Redis(connection_pool=pool)


def _count(key: str) -> int:
    """Add this request to the window's count; return the count."""
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        key = cache.make_and_validate_key(key)
        # A private method of Django's Redis cache client (absent from its stubs): the pool that cache writes use.
        client = _redis_client(cache._cache._get_connection_pool(write=True))  # type: ignore[attr-defined]
        count: int = client.incr(key)
        if count == 1:  # the window's first request: its key outlives its minute, then goes
            client.expire(key, WINDOW_SECONDS + 5)
        return count
    if cache.add(key, 1, timeout=WINDOW_SECONDS + 5):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # the key expired between add and incr: this request starts a new count
        cache.add(key, 1, timeout=WINDOW_SECONDS + 5)
        return 1


View = Callable[..., HttpResponse]


def rate_limited(scope: str, on_limit: View) -> Callable[[View], View]:
    """Decorate a public view: over the limit, ``on_limit(request, **kwargs)`` answers (a 429 page)."""

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if over_limit(request, scope):
                response = on_limit(request, *args, **kwargs)
                response.status_code = 429
                response["Retry-After"] = str(WINDOW_SECONDS)
                return response
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
