"""Staff pages about surveys: resubscribing a customer, and response rates for managers."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from aftersales.core.access import AuthenticatedRequest, manager_required
from customers.models import Customer
from feedback.selectors import loop_times, response_rates_by
from feedback.services.unsubscribe import customer_resubscribe

RATE_WINDOW_DAYS = (30, 90, 365)


@login_required
@require_POST
def resubscribe(request: AuthenticatedRequest, customer_pk: int) -> HttpResponse:
    """Undo an unsubscribe from the customer page; the reason is required and kept."""
    customer = get_object_or_404(Customer.objects.owned_by(request.user), pk=customer_pk)
    try:
        customer_resubscribe(customer=customer, by=request.user, reason=request.POST.get("reason", ""))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{customer.name} will get survey and care-plan email again.")
    return redirect(customer.get_absolute_url() + "#surveys-heading")


@manager_required
@require_safe
def response_rates(request: HttpRequest) -> HttpResponse:
    """Survey response rates per product and per rep, and how fast low answers get a call back."""
    try:
        days = int(request.GET.get("days", 90))
    except ValueError:
        days = 90
    days = days if days in RATE_WINDOW_DAYS else 90
    now = timezone.now()
    since = now - timedelta(days=days)
    return render(
        request,
        "feedback/response_rates.html",
        {
            "days": days,
            "windows": RATE_WINDOW_DAYS,
            "by_product": response_rates_by("product", since=since, now=now),
            "by_rep": response_rates_by("rep", since=since, now=now),
            "loops": loop_times(since=since),
        },
    )
