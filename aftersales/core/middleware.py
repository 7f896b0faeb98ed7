"""An address with a NUL character is a 400 before any view runs, with a message naming the parameter.

PostgreSQL can neither store nor compare a NUL (``%00`` in the path or the
query string): any lookup with it raises ValueError, a 500 in whichever view
passed it on (the admin's list filters, for one). No address of this site
has one, so none gets past here.

Browsers get a page; a client that asks for JSON gets the API's shape,
``{"parameter": ["message"]}``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


def query_problem(request: HttpRequest) -> tuple[str, str] | None:
    """(parameter, message) for the first part of the address with a NUL, or None."""
    if "\x00" in request.path_info:
        return "path", _("The address contains a null character.")
    for name, values in request.GET.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            return name, _("%(field)s: the value contains a null character.") % {"field": name}
    return None


class QueryInputsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        problem = query_problem(request)
        if problem is None:
            return self.get_response(request)
        name, message = problem
        if request.accepts("application/json") and not request.accepts("text/html"):
            return JsonResponse({name: [message]}, status=400)
        return render(request, "400.html", {"message": message}, status=400)
