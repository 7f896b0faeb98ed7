"""The at-risk list, its CSV, bulk reassign, snoozing a flag, and the health weights.

URL contract (other pages, e.g. the dashboard's charts, link here with these):

* ``/risk/`` (``risk:list``) — GET filters ``rep=<user id>`` (managers only),
  ``product=<product id>``, ``reason=<FlagReason value>``,
  ``band=red|yellow|green``, ``language=en|es|ru``, ``sort=`` (a sort key of
  the customer list: ``name``, ``last_contact``, ``health``, ``quiet_after``,
  ``-`` prefix for descending; default ``health``), ``page=``.
* ``/risk/export.csv`` (``risk:export``) — the same filters, every matching row.
* ``/customers/export.csv`` (``customers:export``) — the customer list's
  filters (``q``, ``owner``, ``product``, ``band``, ``quiet``, ``sort``).
* ``/risk/reassign/`` (``risk:reassign``, POST, managers) — ``customer`` (repeated
  ids), ``to_rep``, optional ``next`` (a local URL to go back to).
* ``/risk/flags/<id>/snooze/`` (``risk:snooze``) — ``until`` (a date), ``reason``.
* ``/risk/flags/<id>/resolve/`` (``risk:resolve``) — ``resolution`` (a short note), optional ``next``.
  From the customer page, My day and this list: a page without JavaScript; with htmx
  the form opens in the flag's slot (``#resolve-flag-<id>``), ``?close=1`` empties it.
* ``/risk/weights/`` (``risk:weights``, managers) — the health-score weights.
* ``/reps/<id>/scorecard/`` (``rep_scorecard``) — one rep's figures; a rep only their own.
  ``period=30|90|365|quarter`` (default 90, the dashboard's window); managers may pass
  ``rep=<user id>`` (the picker) and are sent to that rep's scorecard.

Reps see only their own customers everywhere (``Customer.objects.owned_by``).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_htmx.http import HttpResponseClientRefresh

from aftersales.core.access import AuthenticatedRequest, manager_required
from aftersales.core.csv import csv_response
from aftersales.core.roles import is_manager
from aftersales.customer_pages.exports import CUSTOMER_HEADER, customer_rows
from aftersales.customer_pages.selectors import SORT_LABELS, customer_page, customer_search
from aftersales.customer_pages.views import PAGE_SIZE, CustomerFilterForm, _owner_choices, _page_number
from aftersales.health.services import health_refresh, health_weights
from aftersales.risk.exports import RISK_HEADER, risk_rows
from aftersales.risk.forms import (
    HealthWeightsForm,
    ReassignForm,
    ResolveForm,
    RiskFilterForm,
    ScorecardForm,
    SnoozeForm,
    rep_choices,
    scorecard_rep_choices,
    selected_ids,
)
from aftersales.risk.scorecards import rep_scorecard
from aftersales.risk.selectors import attach_next_touch, days_since, risk_search, with_next_touch
from customers.models import Customer, FlagReason, Product, RiskFlag
from customers.services import healthweights_update, riskflag_resolve, riskflag_snooze
from touchpoints.services import customers_reassign

# "More than 1,000 at risk" is all a manager needs to know; counting to 10,000 as the
# customer list does is the page's costliest query (docs/BENCHMARKS.md, "At-risk list").
RISK_COUNT_CAP = 1_000


def _filter_form(request: HttpRequest) -> RiskFilterForm:
    products = list(Product.objects.order_by("name", "pk").values_list("pk", "name"))
    reps = rep_choices() if is_manager(request.user) else None
    return RiskFilterForm(request.GET, reps=reps, products=products)


@login_required
@require_safe
def risk_list(request: AuthenticatedRequest) -> HttpResponse:
    """Every customer with a visible flag, worst health first; managers can reassign a selection."""
    manager = is_manager(request.user)
    form = _filter_form(request)
    filters = form.filters()
    now = timezone.now()
    page = customer_page(
        risk_search(user=request.user, filters=filters, now=now),
        number=_page_number(request.GET.get("page")),
        size=PAGE_SIZE,
        count_cap=RISK_COUNT_CAP,
    )
    attach_next_touch(page.object_list)
    # Labels resolved once per page: get_reason_display() on a lazily translated
    # choice is slow enough to show in the page's time (docs/BENCHMARKS.md, "At-risk list").
    labels = {value: str(label) for value, label in FlagReason.choices}
    for customer in page.object_list:
        for flag in customer.risk_flags:
            flag.label = labels.get(flag.reason, flag.reason)
        customer.days_silent = days_since(customer.last_contact_at, now)
        customer.product_names = sorted({purchase.product.name for purchase in customer.risk_purchases})
    return render(
        request,
        "risk/list.html",
        {
            "form": form,
            "filters": filters,
            "page_obj": page,
            "customers": page.object_list,
            "manager": manager,
            "reassign_form": ReassignForm() if manager else None,
            "sort_key": filters.sort.removeprefix("-"),
            "sort_descending": filters.sort.startswith("-"),
            "sort_labels": SORT_LABELS,
            "export_query": request.GET.urlencode(),
        },
    )


@login_required
@require_safe
def risk_export(request: AuthenticatedRequest) -> StreamingHttpResponse:
    """The at-risk list as CSV, every page of it, streamed."""
    now = timezone.now()
    customers = risk_search(user=request.user, filters=_filter_form(request).filters(), now=now)
    return csv_response(
        f"at-risk-{now:%Y%m%d}.csv", RISK_HEADER, risk_rows(with_next_touch(customers).select_related("owner"), now=now)
    )


@login_required
@require_safe
def customer_export(request: AuthenticatedRequest) -> StreamingHttpResponse:
    """The customer list as CSV with the list's own filters (the customer list's ``CustomerFilterForm``), streamed."""
    products = list(Product.objects.order_by("name", "pk").values_list("pk", "name"))
    owners = _owner_choices() if is_manager(request.user) else None
    filters = CustomerFilterForm(request.GET, owners=owners, products=products).filters()
    customers = customer_search(user=request.user, filters=filters)
    return csv_response(f"customers-{timezone.now():%Y%m%d}.csv", CUSTOMER_HEADER, customer_rows(customers))


@manager_required
@require_POST
def risk_reassign(request: AuthenticatedRequest) -> HttpResponse:
    """Give the ticked customers (and their scheduled check-ups) to another rep. Managers only."""
    form = ReassignForm(request.POST)
    ids = selected_ids(request.POST.getlist("customer"))
    back = request.POST.get("next", "")
    # A path on this site only: anything else ("-1", a view name) is not where the manager came from.
    if not back.startswith("/") or not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = ""
    if not ids or not form.is_valid():
        messages.error(request, "Tick at least one customer and pick the rep to give them to.")
        return redirect(back or "risk:list")
    to_rep = get_object_or_404(get_user_model(), pk=form.cleaned_data["to_rep"], is_active=True)
    try:
        moved = customers_reassign(customer_ids=ids, to_rep=to_rep, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        name = to_rep.get_full_name() or to_rep.get_username()
        messages.success(request, f"{moved} customer{'' if moved == 1 else 's'} given to {name}.")
    return redirect(back or "risk:list")


@login_required
def riskflag_snooze_view(request: AuthenticatedRequest, flag_pk: int) -> HttpResponse:
    """Snooze one open flag of a customer the user may see (another rep's flag: 404)."""
    flag = get_object_or_404(
        RiskFlag.objects.open().select_related("customer").filter(customer__in=Customer.objects.owned_by(request.user)),
        pk=flag_pk,
    )
    form = SnoozeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            riskflag_snooze(flag=flag, until=form.until_moment(), reason=form.cleaned_data["reason"], by=request.user)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request, f"“{flag.get_reason_display()}” snoozed until {form.cleaned_data['until']:%-d %b %Y}."
            )
            return redirect("risk:list")
    return render(request, "risk/snooze.html", {"flag": flag, "customer": flag.customer, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def riskflag_resolve_view(request: AuthenticatedRequest, flag_pk: int) -> HttpResponse:
    """Resolve one flag of a customer the user may see (another rep's flag: 404) with a short note.

    Saved, the customer's health is recomputed at once (the service marked it
    due), so the page shown next has the band without the flag; with htmx that
    page is the current one, reloaded; without, ``next`` (the at-risk list by default).
    """
    flag = get_object_or_404(
        RiskFlag.objects.select_related("customer", "resolved_by").filter(
            customer__in=Customer.objects.owned_by(request.user)
        ),
        pk=flag_pk,
    )
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}, require_https=False):
        next_url = reverse("risk:list")
    if request.htmx and request.GET.get("close"):
        return HttpResponse("")  # "Close": the flag's slot is empty again
    form = ResolveForm(request.POST if request.method == "POST" else None, prefix=f"flag{flag.pk}")
    if request.method == "POST" and form.is_valid():
        try:
            riskflag_resolve(flag=flag, by=request.user, resolution=form.cleaned_data["resolution"])
        except ValidationError as error:
            form.add_error(None, error)
            flag.refresh_from_db()  # resolved meanwhile: say by whom
        else:
            health_refresh(customer_ids=[flag.customer_id])
            messages.success(
                request,
                _("“%(reason)s” resolved for %(customer)s.")
                % {"reason": flag.get_reason_display(), "customer": flag.customer.name},
            )
            return HttpResponseClientRefresh() if request.htmx else redirect(next_url)
    context = {"flag": flag, "customer": flag.customer, "form": form, "next": next_url, "inline": bool(request.htmx)}
    return render(request, "risk/_resolve_form.html" if request.htmx else "risk/resolve.html", context)


@manager_required
def health_weights_view(request: AuthenticatedRequest) -> HttpResponse:
    """Managers tune the weights of the health score; every customer is then rescored by the health sweep."""
    form = HealthWeightsForm(request.POST or None, current=health_weights())
    if request.method == "POST" and form.is_valid():
        try:
            healthweights_update(weights=form.cleaned_data, by=request.user)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Weights saved. Every customer will be rescored within minutes.")
            return redirect("risk:weights")
    return render(request, "risk/weights.html", {"form": form})


@login_required
@require_safe
def rep_scorecard_view(request: AuthenticatedRequest, rep_pk: int) -> HttpResponse:
    """One rep's figures over a period. A rep opens only their own (another rep's: 404, as for their customers);
    a manager picks any active rep or manager."""
    manager = is_manager(request.user)
    users = get_user_model().objects.all()
    if not manager:
        users = users.filter(pk=request.user.pk)
    rep = get_object_or_404(users, pk=rep_pk)
    reps = scorecard_rep_choices() if manager else None
    asked = ScorecardForm(request.GET, reps=reps)
    period = asked.chosen_period()
    picked = asked.picked_rep()
    if picked is not None and picked != rep.pk:
        return redirect(f"{reverse('rep_scorecard', args=[picked])}?period={period}")
    # Shown as it applies (an invalid value replaced by the default), not as it was typed.
    form = ScorecardForm(initial={"period": period, "rep": rep.pk}, reps=reps)
    return render(
        request,
        "risk/scorecard.html",
        {"card": rep_scorecard(rep, period=period), "rep": rep, "form": form, "manager": manager},
    )
