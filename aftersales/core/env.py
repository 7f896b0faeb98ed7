"""Settings from the environment, through helpers that fail loudly.

django-environ parses URLs (database, cache, email); these wrappers add the
strictness it lacks: ``DEBUG=flase`` or ``EMAIL_PORT=25x`` stop the process
with a message naming the variable instead of silently meaning something else.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, TypedDict

import environ
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f", ""}


class AftersalesSettings(TypedDict):
    """The shape of ``settings.AFTERSALES`` (the domain numbers of DESIGN.md), so its readers are type-checked."""

    QUIET_AFTER_DAYS: int
    RENEWAL_WINDOW_DAYS: int
    RENEWAL_CONTACT_DAYS: int
    HEALTH_WEIGHTS: dict[str, int]
    SURVEY_DELAY_HOURS: int
    SURVEY_EXPIRES_DAYS: int
    SURVEY_THROTTLE_DAYS: int
    SURVEY_AFTER_DELIVERY_DAYS: int
    SURVEY_RELATIONSHIP_DAYS: int
    SURVEY_REMINDER_DAYS: int
    SURVEY_CATCH_UP_DAYS: int
    OUTBOX_LEASE_SECONDS: int
    OUTBOX_MAX_ATTEMPTS: int
    MISSED_GRACE_DAYS: int
    PUBLIC_RATE_LIMIT_PER_MINUTE: int
    TRUSTED_PROXY_COUNT: int
    REVIEW_URL: str
    WEBHOOKS_ALLOW_PRIVATE: bool
    WEBHOOK_TIMEOUT_SECONDS: int
    WEBHOOK_LEASE_SECONDS: int
    WEBHOOK_MAX_ATTEMPTS: int
    OUTBOX_KEEP_DAYS: int
    WEBHOOK_KEEP_DAYS: int
    IDEMPOTENCY_KEEP_HOURS: int
    IMPORT_KEEP_DAYS: int
    IMPORT_MAX_ROWS: int
    IMPORT_MAX_MB: int
    IMPORT_LEASE_SECONDS: int
    IMPORT_MAX_ATTEMPTS: int


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    return None if value is None else value.strip()


def env_str(name: str, default: str | None = None) -> str:
    value = _raw(name)
    if value is None or value == "":
        if default is None:
            raise ImproperlyConfigured(f"Set the {name} environment variable.")
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean; use true/false, 1/0, yes/no or on/off.")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is below the minimum of {minimum}.")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_db(name: str, default: str) -> dict[str, Any]:
    url = env_str(name, default)
    try:
        config: dict[str, Any] = environ.Env.db_url_config(url)
    except Exception as exc:  # django-environ raises several types for bad URLs
        raise ImproperlyConfigured(f"{name} is not a usable database URL: {exc}") from None
    return config


def env_email(name: str) -> dict[str, Any] | None:
    url = _raw(name)
    if not url:
        return None
    try:
        config: dict[str, Any] = environ.Env.email_url_config(url)
    except Exception as exc:
        raise ImproperlyConfigured(f"{name} is not a usable email URL: {exc}") from None
    return config


def dev_secret_key(var_dir: Path) -> str:
    """The key of one machine's development setup: random, made once, kept in var_dir (not in the repository).

    Written aside and linked into place, so processes starting together (web, worker, beat, a
    command) all read the one complete key that won.
    """
    path = var_dir / "dev-secret-key"
    if not path.exists():
        draft = var_dir / f".dev-secret-key.{os.getpid()}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(50))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process was first: use its key
        finally:
            draft.unlink()
    return path.read_text().strip()
