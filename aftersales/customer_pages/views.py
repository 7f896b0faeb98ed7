"""The customer list and a customer's page, always scoped to what the user may see."""

from __future__ import annotations

from typing import cast

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_safe

from aftersales.core import inputs
from aftersales.core.roles import is_manager
from aftersales.customer_pages.selectors import (
    DEFAULT_SORT,
    NPS_SEGMENTS,
    SORT_LABELS,
    CustomerFilters,
    customer_page,
    customer_search,
    customer_timeline,
    customer_upcoming,
    health_moves,
    sort_choices,
)
from aftersales.health.services import health_current
from customers.models import Customer, HealthBand, Product

PAGE_SIZE = 25
# Above this many matches the list says "more than 10,000" instead of counting
# them all: an exact COUNT(*) of a broad search is the slowest part of a page.
COUNT_CAP = 10_000
# The customer page is bounded: years of history must not turn one page view
# into thousands of rows.
TIMELINE_LIMIT = 100
DETAIL_LIMIT = 50


SELECT = forms.Select(attrs={"class": "form-select"})


class MonthField(forms.CharField):
    """A "YYYY-MM" month inside the input window, kept as that text."""

    def clean(self, value) -> str:
        text = super().clean(value)
        if text:
            inputs.parse_month(text, label=str(self.label or "month"))
        return text


class CustomerFilterForm(forms.Form):
    """The list's query string. Invalid values are dropped, never an error page: links get edited by hand."""

    q = forms.CharField(required=False, max_length=100, strip=True)
    owner = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Rep", widget=SELECT)
    product = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Bought", widget=SELECT)
    band = forms.ChoiceField(
        required=False, choices=[("", "Any health"), *HealthBand.choices], label="Health", widget=SELECT
    )
    quiet = forms.BooleanField(
        required=False, label="Quiet now", widget=forms.CheckboxInput(attrs={"class": "form-check-input"})
    )
    sort = forms.ChoiceField(required=False, choices=sort_choices(), label="Sort by", widget=SELECT)
    # Drill-downs from the dashboard's charts: set by its links, not shown in the form. Months and days
    # outside the input window (aftersales.core.inputs) are dropped like any other bad value.
    answered = MonthField(required=False)
    nps = forms.ChoiceField(required=False, choices=[("", ""), *((key, key) for key in NPS_SEGMENTS)])
    invited = MonthField(required=False)
    # From a rep's scorecard: an ISO 8601 instant (its period's start), inside the input window.
    answered_since = forms.DateTimeField(required=False, validators=[inputs.DateWindowValidator("answered_since")])
    invited_since = forms.DateTimeField(required=False, validators=[inputs.DateWindowValidator("invited_since")])
    overdue = forms.BooleanField(required=False)
    overdue_for = forms.IntegerField(required=False, min_value=1)
    flagged_on = forms.DateField(
        required=False, input_formats=["%Y-%m-%d"], validators=[inputs.DateWindowValidator("flagged_on")]
    )

    def __init__(self, *args, owners: list | None, products: list, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["product"]).choices = [("", "Any product"), *products]
        if owners is None:  # reps: their own customers only, no owner filter
            del self.fields["owner"]
        else:
            cast(forms.ChoiceField, self.fields["owner"]).choices = [("", "Every rep"), *owners]

    def filters(self) -> CustomerFilters:
        self.is_valid()
        data = self.cleaned_data  # only the fields that validated
        return CustomerFilters(
            q=data.get("q") or "",
            owner_id=data.get("owner"),
            product_id=data.get("product"),
            band=data.get("band") or "",
            quiet=bool(data.get("quiet")),
            sort=data.get("sort") or DEFAULT_SORT,
            answered=data.get("answered") or "",
            nps=data.get("nps") or "",
            invited=data.get("invited") or "",
            answered_since=data.get("answered_since"),
            invited_since=data.get("invited_since"),
            overdue=bool(data.get("overdue")),
            overdue_for=data.get("overdue_for"),
            flagged_on=data.get("flagged_on"),
        )


def _owner_choices() -> list[tuple[int, str]]:
    """Users who own at least one customer, by name (one query)."""
    owners = (
        get_user_model()
        .objects.filter(Exists(Customer.objects.filter(owner=OuterRef("pk"))))
        .order_by("first_name", "last_name", "username")
    )
    return [(user.pk, user.get_full_name() or user.get_username()) for user in owners]


def _drilldown_text(filters: CustomerFilters) -> str:
    """What a dashboard link narrowed the list to, in words."""
    parts = []
    if filters.answered:
        parts.append(f"answered a survey in {filters.answered}" + (f" as a {filters.nps}" if filters.nps else ""))
    if filters.invited:
        parts.append(f"were invited to a survey in {filters.invited}")
    if filters.answered_since:
        parts.append(f"answered a survey since {timezone.localtime(filters.answered_since):%Y-%m-%d %H:%M}")
    if filters.invited_since:
        parts.append(f"were invited to a survey since {timezone.localtime(filters.invited_since):%Y-%m-%d %H:%M}")
    if filters.overdue or filters.overdue_for:
        parts.append("have an overdue check-up" + (" assigned to the chosen rep" if filters.overdue_for else ""))
    if filters.flagged_on:
        parts.append(f"had an open risk flag on {filters.flagged_on.isoformat()}")
    return "Customers who " + " and ".join(parts) + "."


def _page_number(value: str | None) -> int:
    try:
        return max(1, min(int(value or 1), 1_000_000))
    except ValueError:
        return 1


@login_required
@require_safe
def customer_list(request: HttpRequest) -> HttpResponse:
    """Reps see their own customers, managers everyone (and may filter by rep)."""
    manager = is_manager(request.user)
    products = list(Product.objects.order_by("name", "pk").values_list("pk", "name"))
    form = CustomerFilterForm(request.GET, owners=_owner_choices() if manager else None, products=products)
    filters = form.filters()
    page = customer_page(
        customer_search(user=request.user, filters=filters),
        number=_page_number(request.GET.get("page")),
        size=PAGE_SIZE,
        count_cap=COUNT_CAP,
    )
    sort_key = filters.sort.removeprefix("-")
    drilldown = any(
        (
            filters.answered,
            filters.invited,
            filters.answered_since,
            filters.invited_since,
            filters.overdue,
            filters.overdue_for,
            filters.flagged_on,
        )
    )
    # beyond the search box
    narrowed = any((filters.owner_id, filters.product_id, filters.band, filters.quiet)) or drilldown
    return render(
        request,
        "customers/customer_list.html",
        {
            "form": form,
            "filters": filters,
            "filtered": bool(filters.q) or narrowed,
            "narrowed": narrowed,
            "page_obj": page,
            "customers": page.object_list,
            "q": filters.q,
            "show_owner": manager,
            "sort_key": sort_key,
            "sort_descending": filters.sort.startswith("-"),
            "sort_labels": SORT_LABELS,
            "drilldown": _drilldown_text(filters) if drilldown else "",
        },
    )


@login_required
@require_safe
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Another rep's customer is a 404, not a 403: we do not confirm it exists. A merged one opens the survivor."""
    customer = Customer.objects.owned_by(request.user).select_related("owner").filter(pk=pk).first()
    if customer is None:
        survivor = Customer.objects.filter(pk=pk).values_list("merged_into_id", flat=True).first()
        if survivor is not None and Customer.objects.owned_by(request.user).filter(pk=survivor).exists():
            return redirect("customers:detail", pk=survivor)
        raise Http404
    now = timezone.now()
    # A flag raised or resolved, a check-up logged: show the band as it is now, not the sweep's last one.
    health_current([customer], now=now)
    days_since_contact = (now - customer.last_contact_at).days if customer.last_contact_at else None
    return render(
        request,
        "customers/customer_detail.html",
        {
            "customer": customer,
            "now": now,
            "days_since_contact": days_since_contact,
            "is_quiet": bool(customer.quiet_after and customer.quiet_after <= now),
            "open_flags": list(customer.flags.open().order_by("-raised_at", "pk")[:DETAIL_LIMIT]),
            "purchases": list(
                customer.purchases.select_related("product__default_plan", "plan").order_by("-ordered_at", "-pk")[
                    :DETAIL_LIMIT
                ]
            ),
            "timeline": customer_timeline(customer=customer, limit=TIMELINE_LIMIT, now=now),
            "timeline_limit": TIMELINE_LIMIT,
            "upcoming": customer_upcoming(customer=customer, limit=DETAIL_LIMIT, now=now),
            "health_moves": health_moves(customer),
            "limit": DETAIL_LIMIT,
        },
    )
