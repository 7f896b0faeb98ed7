"""Who may open a page: one policy for every view.

* A page for managers answers **403** to anyone else who is signed in (they
  know the page exists; it is not theirs), and sends the signed-out to log in.
* A row outside a rep's scope answers **404**, as if it did not exist: the
  views look rows up through ``owned_by(user)`` querysets and
  :func:`get_object_or_404`, so another rep's customer is indistinguishable
  from a missing one.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django_htmx.middleware import HtmxDetails

from aftersales.core.roles import Actor, is_manager


class AuthenticatedRequest(HttpRequest):
    """The request a view behind ``login_required`` or ``manager_required`` gets, for its annotations.

    Never built: Django hands every view a plain request. The decorator guarantees a signed-in user
    (not ``AnonymousUser``), and django-htmx's middleware (on for every request) sets ``htmx``.
    """

    user: Actor
    htmx: HtmxDetails


def manager_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Managers only: 403 for a signed-in rep, the login page for the signed-out."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_manager(request.user):
            raise PermissionDenied("This page is for managers.")
        return view(request, *args, **kwargs)

    return login_required(wrapper)
