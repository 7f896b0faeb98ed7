"""The ``AFTERSALES`` setting: DESIGN.md's numbers, each overridable from the environment.

Read through ``settings.AFTERSALES`` (never by importing this module), so a test
can override one key with ``settings.AFTERSALES = {**settings.AFTERSALES, ...}``.
"""

from __future__ import annotations

from aftersales.core.env import AftersalesSettings, env_bool, env_int, env_str


def aftersales_defaults() -> AftersalesSettings:
    """The options, read from the environment now (settings call this once, at import)."""
    return {
        "QUIET_AFTER_DAYS": env_int("QUIET_AFTER_DAYS", 45, minimum=1),
        # Renewal sweep (aftersales/risk/sweeps.py): a renewal this close with no two-way contact
        # for this long is flagged.
        "RENEWAL_WINDOW_DAYS": env_int("RENEWAL_WINDOW_DAYS", 60, minimum=1),
        "RENEWAL_CONTACT_DAYS": env_int("RENEWAL_CONTACT_DAYS", 30, minimum=1),
        # Health score (aftersales/health/services.py): points each signal moves the score by, from a base of 80.
        # Managers adjust them in the app (customers.models.HealthWeights); keys not set there are these.
        "HEALTH_WEIGHTS": {
            "base": 80,
            "quiet": -30,  # quiet_after has passed: no two-way contact for the product's threshold
            "quiet_soon": -10,  # less than a third of the threshold left
            "overdue_each": -5,  # per scheduled check-up past its due time …
            "overdue_max": -15,  # … at most this much in all
            "missed_each": -10,  # per check-up marked missed in the last 180 days …
            "missed_max": -20,
            "temperature_cold": -20,  # last temperature 1–2
            "temperature_warm": 5,  # last temperature 4–5
            "temperature_falling": -10,  # strictly falling over the last three check-ups
            "nps_detractor": -25,
            "nps_passive": -5,
            "nps_promoter": 10,
            "csat_low": -15,  # latest CSAT 1–2
            "csat_high": 5,  # latest CSAT 4–5
            "problem_each": -15,  # per open "problem reported" flag …
            "problem_max": -30,
            "renewal_no_contact": -15,  # renewal within the window and no contact for RENEWAL_CONTACT_DAYS
            "renewal_near": -5,  # renewal within the window, contact recent
        },
        "SURVEY_DELAY_HOURS": env_int("SURVEY_DELAY_HOURS", 24, minimum=0),
        "SURVEY_EXPIRES_DAYS": env_int("SURVEY_EXPIRES_DAYS", 28, minimum=1),
        "SURVEY_THROTTLE_DAYS": env_int("SURVEY_THROTTLE_DAYS", 30, minimum=0),
        # Survey rules (feedback/rules.py): global defaults; a product's own survey overrides the delay.
        # 0 switches the delivery or relationship rule off for products without their own survey.
        "SURVEY_AFTER_DELIVERY_DAYS": env_int("SURVEY_AFTER_DELIVERY_DAYS", 14, minimum=0),
        "SURVEY_RELATIONSHIP_DAYS": env_int("SURVEY_RELATIONSHIP_DAYS", 90, minimum=0),
        "SURVEY_REMINDER_DAYS": env_int("SURVEY_REMINDER_DAYS", 3, minimum=1),
        # A trigger the jobs noticed this late (they were stopped) is too old to ask about.
        "SURVEY_CATCH_UP_DAYS": env_int("SURVEY_CATCH_UP_DAYS", 7, minimum=1),
        "OUTBOX_LEASE_SECONDS": env_int("OUTBOX_LEASE_SECONDS", 300, minimum=10),
        "OUTBOX_MAX_ATTEMPTS": env_int("OUTBOX_MAX_ATTEMPTS", 8, minimum=1),
        # Scheduled check-ups still open this many days after they fell due become "missed".
        "MISSED_GRACE_DAYS": env_int("MISSED_GRACE_DAYS", 7, minimum=1),
        # Public survey / unsubscribe pages (aftersales/core/http.py): requests per minute per client IP.
        "PUBLIC_RATE_LIMIT_PER_MINUTE": env_int("PUBLIC_RATE_LIMIT_PER_MINUTE", 30, minimum=1),
        # Proxies in front of gunicorn that append to X-Forwarded-For (0: use the socket's address).
        "TRUSTED_PROXY_COUNT": env_int("TRUSTED_PROXY_COUNT", 0, minimum=0),
        # Promoters (NPS 9–10) are invited to leave a review here; empty: no invitation.
        "REVIEW_URL": env_str("SURVEY_REVIEW_URL", ""),
        # Outbound webhooks (aftersales/webhooks/services.py): private/loopback targets only when explicitly allowed.
        "WEBHOOKS_ALLOW_PRIVATE": env_bool("WEBHOOKS_ALLOW_PRIVATE", False),
        "WEBHOOK_TIMEOUT_SECONDS": env_int("WEBHOOK_TIMEOUT_SECONDS", 10, minimum=1),
        "WEBHOOK_LEASE_SECONDS": env_int("WEBHOOK_LEASE_SECONDS", 60, minimum=10),
        "WEBHOOK_MAX_ATTEMPTS": env_int("WEBHOOK_MAX_ATTEMPTS", 8, minimum=1),
        # Retention (aftersales/retention/services.py, the hourly prune): how long done records are kept.
        # Pending mail and deliveries are never pruned; audit events are kept for good.
        "OUTBOX_KEEP_DAYS": env_int("OUTBOX_KEEP_DAYS", 90, minimum=1),
        "WEBHOOK_KEEP_DAYS": env_int("WEBHOOK_KEEP_DAYS", 90, minimum=1),
        "IDEMPOTENCY_KEEP_HOURS": env_int("IDEMPOTENCY_KEEP_HOURS", 48, minimum=1),
        "IMPORT_KEEP_DAYS": env_int("IMPORT_KEEP_DAYS", 30, minimum=1),
        # Spreadsheet imports (aftersales/imports/): a bigger file is refused before it is read, with the reason.
        "IMPORT_MAX_ROWS": env_int("IMPORT_MAX_ROWS", 200_000, minimum=1),
        "IMPORT_MAX_MB": env_int("IMPORT_MAX_MB", 50, minimum=1),  # the file, or an XLSX's members unpacked
        # A worker reading or importing a file holds the job this long, renewed as it makes progress; a job
        # whose worker died is handed to another after it, or marked failed after IMPORT_MAX_ATTEMPTS.
        "IMPORT_LEASE_SECONDS": env_int("IMPORT_LEASE_SECONDS", 120, minimum=5),
        "IMPORT_MAX_ATTEMPTS": env_int("IMPORT_MAX_ATTEMPTS", 3, minimum=1),
    }
