from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from aftersales.core.roles import is_manager, is_rep
from touchpoints.selectors import Day, due_counts, user_timezone


def roles(request) -> dict:
    user = request.user
    return {
        "is_manager": is_manager(user),
        "is_rep": is_rep(user),
        "dev_mailbox_enabled": settings.DEV_MAILBOX_ENABLED,
    }


def my_day_counts(request) -> dict:
    """The My day badge in the navigation: due today and overdue for the signed-in user.

    Lazy: the query runs only when a template shows the badge (full pages of
    reps, htmx answers that refresh it), not for every fragment or manager page.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"nav_counts": SimpleLazyObject(lambda: due_counts(user, Day.of(timezone.now(), user_timezone(request))))}


def csp_nonce(request) -> dict:
    """``csp_nonce`` for templates: django-htmx's {% htmx_script %} and any inline <script nonce>.

    django-csp adds the nonce to the header only when something reads it, so pages
    without inline scripts keep a nonce-free policy.
    """
    return {"csp_nonce": getattr(request, "csp_nonce", "")}
