from __future__ import annotations

from django.conf import settings

from .roles import is_manager, is_rep


def roles(request) -> dict:
    user = request.user
    return {
        "is_manager": is_manager(user),
        "is_rep": is_rep(user),
        "dev_mailbox_enabled": settings.DEV_MAILBOX_ENABLED,
    }
