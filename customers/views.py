"""The customer list and a customer's page, always scoped to what the user may see."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from aftersales.roles import is_manager

from .models import Customer

PAGE_SIZE = 25
# Lists on the customer page are bounded: a customer with years of history
# must not turn one page view into thousands of rows.
DETAIL_LIMIT = 50


@login_required
def customer_list(request: HttpRequest) -> HttpResponse:
    """Reps see their own customers, managers everyone; ``?q=`` searches name, company and email."""
    query = request.GET.get("q", "").strip()[:100]
    customers = (
        Customer.objects.owned_by(request.user)
        .select_related("owner")
        .annotate(open_flag_count=Count("flags", filter=Q(flags__resolved_at__isnull=True)))
        .order_by("name", "pk")
    )
    if query:
        customers = customers.filter(Q(name__icontains=query) | Q(company__icontains=query) | Q(email__icontains=query))
    page = Paginator(customers, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "customers/customer_list.html",
        {"page_obj": page, "customers": page.object_list, "q": query, "show_owner": is_manager(request.user)},
    )


@login_required
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Another rep's customer is a 404, not a 403: we do not confirm it exists."""
    customer = get_object_or_404(Customer.objects.owned_by(request.user).select_related("owner"), pk=pk)
    return render(
        request,
        "customers/customer_detail.html",
        {
            "customer": customer,
            "open_flags": customer.flags.open().order_by("-raised_at")[:DETAIL_LIMIT],
            "purchases": customer.purchases.select_related("product")[:DETAIL_LIMIT],
            "touchpoints": customer.touchpoints.select_related("assignee").order_by("-due_at", "-pk")[:DETAIL_LIMIT],
            "responses": customer.survey_responses.select_related("invitation__survey")[:DETAIL_LIMIT],
            "limit": DETAIL_LIMIT,
        },
    )
