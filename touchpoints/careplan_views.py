"""The care plan's public page, reached from the link in the care-plan email.

No login: the signed token in the URL is the key. A GET only reads (a mail
scanner or a preview that follows the link changes nothing). Anything wrong
with the token gets the same friendly "link not valid" page with a 404, so
the page tells nobody whether a customer exists.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from aftersales.core.http import rate_limited
from touchpoints.careplan import careplan_checkups, careplan_context, careplan_customer


def _too_many(request: HttpRequest, token: str) -> HttpResponse:
    """The same friendly "wait a minute" page as the survey's (status 429 set by the decorator)."""
    return render(request, "feedback/rate_limited.html")


@never_cache
@require_safe
@rate_limited("public", _too_many)
def careplan_page(request: HttpRequest, token: str) -> HttpResponse:
    customer = careplan_customer(token)
    if customer is None:
        response = render(request, "careplan/invalid.html", status=404)
    else:
        # The customer's language and clock, whatever the browser says.
        with translation.override(customer.language), timezone.override(customer.tz):
            response = render(request, "careplan/page.html", careplan_context(customer, careplan_checkups(customer)))
        response["Content-Language"] = customer.language
    # A personal page: keep it out of search engines and out of Referer headers.
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response
