"""Login lockout (django-axes) wired to the app's own pieces.

Axes counts wrong passwords per username and, past AXES_FAILURE_LIMIT, refuses
that account until the cool-off ends or a manager unlocks it (admin → Axes →
Access attempts → delete, or ``manage.py axes_reset_username NAME``).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.models import AccessAttempt
from django.http import HttpRequest

from aftersales.core.http import client_ip


class LockoutBackend(AxesStandaloneBackend):  # type: ignore[misc]  # django-axes ships no type information
    """Axes' lockout check, tolerant of ``authenticate()`` calls without a request.

    Every login over HTTP (the login page, the API token endpoint) passes the
    request and is checked. Only in-process callers — ``Client.login`` in
    tests, a shell — come without one; there is no client to lock out then,
    and the stock backend would raise instead of letting ModelBackend answer.
    """

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> None:
        # Axes' backend never returns a user: it raises when the account is locked out, and otherwise
        # answers None so that the next backend (ModelBackend) checks the password.
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)  # type: ignore[no-any-return]


def lockout_client_ip(request: HttpRequest) -> str | None:
    """The client address for axes' records: the rate limits' one, if it is a real IP address.

    Axes stores it in an inet column on PostgreSQL: a placeholder ("unknown", a request
    built in-process has no REMOTE_ADDR) or junk a client put in X-Forwarded-For would
    make the login itself fail. None is what axes expects when the address is unknown.
    """
    candidate = client_ip(request)
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def lockout_username(request: HttpRequest | None, credentials: dict[str, Any] | None) -> str | None:
    """The username axes records for a login: as typed, cut to the length of its column.

    A login form or the token endpoint passes on whatever was typed; a name of
    thousands of characters is no account's, but axes would store it in a
    varchar(255) column and the failed login would end in a database error.
    """
    if credentials:
        username = credentials.get("username")
    else:
        username = request.POST.get("username") if request is not None else None
    if username is None:
        return None
    return str(username)[: AccessAttempt._meta.get_field("username").max_length]
