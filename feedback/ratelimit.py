"""Per-IP rate limit for the public (no login) pages: survey, thank-you, unsubscribe.

Tokens have 192 random bits, so guessing one is hopeless; the limit is there
so a script cannot hammer the database through these pages and a leaked link
cannot be replayed thousands of times. A fixed one-minute window counted in
the default cache: ``cache.add`` starts the window, ``cache.incr`` counts —
both atomic on Redis (``CACHE_URL``), so every gunicorn worker shares the
count. Without Redis (one machine, ``make run``) the count is per process,
which is enough there.

A cache outage must not take the survey down: the limit then fails open.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
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
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def over_limit(request: HttpRequest, scope: str) -> bool:
    """Count this request; True once the client made more than the limit in the current minute."""
    limit = settings.AFTERSALES.get("PUBLIC_RATE_LIMIT_PER_MINUTE", 30)
    window = int(time.time() // WINDOW_SECONDS)
    key = f"rl:{scope}:{client_ip(request)}:{window}"
    try:
        if cache.add(key, 1, timeout=WINDOW_SECONDS + 5):
            return False
        return cache.incr(key) > limit
    except ValueError:  # the key expired between add and incr: this request starts a new count
        cache.add(key, 1, timeout=WINDOW_SECONDS + 5)
        return False
    except Exception:  # noqa: BLE001 — the cache is down: serve the customer, log it
        logger.warning("Rate-limit cache unavailable; not limiting %s", scope, exc_info=True)
        return False


def rate_limited(scope: str, on_limit: Callable[..., HttpResponse]) -> Callable:
    """Decorate a public view: over the limit, ``on_limit(request, **kwargs)`` answers (a 429 page)."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if over_limit(request, scope):
                response = on_limit(request, *args, **kwargs)
                response.status_code = 429
                response["Retry-After"] = str(WINDOW_SECONDS)
                return response
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
