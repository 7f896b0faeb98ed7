"""Logging, rescheduling and cancelling a touch point, and logging an ad hoc contact.

Each page works twice over. With htmx (``HX-Request``), a My day row opens its
form in place and the answer is a fragment: the row with the form (and the
errors next to the fields), or the row saying what was done. Without
JavaScript the same URLs are plain pages: GET shows the form, a valid POST
redirects back (``next``, My day by default) with a message.

Every object is looked up in the user's scope (their customers' touch points,
or all for a manager): another rep's touch point answers 404 and nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRefresh

from aftersales.core.access import AuthenticatedRequest
from customers.models import Customer, RiskFlag
from touchpoints.forms import CancelForm, CheckupForm, ContactForm, RescheduleForm
from touchpoints.models import Channel, Status, TouchPoint
from touchpoints.selectors import Day, user_timezone, with_days_overdue
from touchpoints.services import (
    OPEN_STATUSES,
    touchpoint_cancel,
    touchpoint_complete,
    touchpoint_log_adhoc,
    touchpoint_reschedule,
)


@dataclass(frozen=True)
class Action:
    url_name: str
    title: str
    submit: str
    form_class: Callable[..., forms.Form]  # a form class of touchpoints.forms: built with ``customer=``
    service: Callable[..., TouchPoint]


ACTIONS = {
    "log": Action("touchpoint_log", "Log the check-up", "Save", CheckupForm, touchpoint_complete),
    "reschedule": Action("touchpoint_reschedule", "Reschedule", "Move it", RescheduleForm, touchpoint_reschedule),
    "cancel": Action("touchpoint_cancel", "Cancel the check-up", "Cancel check-up", CancelForm, touchpoint_cancel),
}


def _next_url(request: AuthenticatedRequest, default: str) -> str:
    """Where to go back to: a same-site path from ``next``, else ``default``."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    # A path only: redirect() would read "-1" or "home" as a view name to reverse.
    if candidate.startswith("/") and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=False
    ):
        return candidate
    return default


def _scoped_touchpoint(request: AuthenticatedRequest, pk: int) -> TouchPoint:
    return get_object_or_404(TouchPoint.objects.owned_by(request.user).select_related("customer"), pk=pk)


def _row(request: AuthenticatedRequest, touchpoint: TouchPoint, **context) -> HttpResponse:
    """A My day row (``touchpoints/partials/row.html``), optionally with a form open in it."""
    tz = user_timezone(request)
    with_days_overdue([touchpoint], Day.of(timezone.now(), tz))
    return render(request, "touchpoints/partials/row.html", {"tp": touchpoint, "user_tz": tz, **context})


def _touchpoint_action(request: AuthenticatedRequest, pk: int, name: str) -> HttpResponse:
    action = ACTIONS[name]
    touchpoint = _scoped_touchpoint(request, pk)
    next_url = _next_url(request, reverse("my_day"))
    # Logging a close-the-loop call offers to resolve the flags it is about.
    about = {"touchpoint": touchpoint} if name == "log" else {}
    form = action.form_class(
        request.POST if request.method == "POST" else None, customer=touchpoint.customer, prefix=f"tp{pk}", **about
    )
    if request.method == "POST" and form.is_valid():
        try:
            touchpoint = action.service(touchpoint=touchpoint, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
            touchpoint.refresh_from_db()  # a double submit finds it done: show that, not the form
        else:
            resolved = _resolved(touchpoint, form.cleaned_data.get("resolve_flags") or [])
            if request.htmx:
                return render(
                    request,
                    "touchpoints/partials/row_result.html",
                    {**_result_context(request, touchpoint), "resolved_flags": resolved},
                )
            messages.success(request, _result_message(touchpoint, resolved))
            return redirect(next_url)
    url = reverse(action.url_name, args=[pk])
    context = {
        "form": form,
        "title": action.title,
        "submit_label": action.submit,
        "action_url": url,
        "target_id": f"touchpoint-{pk}",
        "close_url": reverse("touchpoint_row", args=[pk]),
        "next": next_url,
        "closed": touchpoint.status not in OPEN_STATUSES,
    }
    if request.htmx:
        return _row(request, touchpoint, **context)
    return render(
        request,
        "touchpoints/action_page.html",
        {"tp": touchpoint, "customer": touchpoint.customer, "user_tz": user_timezone(request), **context},
    )


def _result_context(request: AuthenticatedRequest, touchpoint: TouchPoint) -> dict:
    followups = list(touchpoint.followed_by.order_by("due_at", "pk")) if touchpoint.status == Status.DONE else []
    return {
        "tp": touchpoint,
        "customer": touchpoint.customer,
        "followups": followups,
        "user_tz": user_timezone(request),
    }


def _resolved(touchpoint: TouchPoint, ticked: list[RiskFlag]) -> list[RiskFlag]:
    """The ticked flags the logged call resolved (a reached call resolves them; another outcome leaves them open)."""
    if not ticked:
        return []
    return list(RiskFlag.objects.resolved().filter(pk__in=[flag.pk for flag in ticked]).order_by("raised_at", "pk"))


def _result_message(touchpoint: TouchPoint, resolved: Sequence[RiskFlag] = ()) -> str:
    name = touchpoint.customer.name
    if touchpoint.status == Status.DONE:
        outcome = touchpoint.get_outcome_display().lower()
        logged = f"Logged: {touchpoint.get_channel_display().lower()} with {name}, {outcome}."
        if resolved:
            labels = ", ".join(str(flag.get_reason_display()) for flag in resolved)
            logged += " " + gettext("Resolved: %(flags)s.") % {"flags": labels}
        return logged
    if touchpoint.status == Status.CANCELLED:
        return f"Cancelled the check-up with {name}."
    day = date_format(touchpoint.due_at.astimezone(touchpoint.customer.tz), "D j M Y")
    return f"Moved the check-up with {name} to {day}."


@login_required
@require_http_methods(["GET", "POST"])
def touchpoint_log(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Outcome, temperature, notes, next step and "problem reported" for a scheduled check-up."""
    return _touchpoint_action(request, pk, "log")


@login_required
@require_http_methods(["GET", "POST"])
def touchpoint_reschedule_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _touchpoint_action(request, pk, "reschedule")


@login_required
@require_http_methods(["GET", "POST"])
def touchpoint_cancel_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _touchpoint_action(request, pk, "cancel")


@login_required
@require_GET
def touchpoint_row(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The row as My day shows it ("Close" on an open form); a plain GET goes to the customer's page."""
    touchpoint = _scoped_touchpoint(request, pk)
    if not request.htmx:
        return redirect(touchpoint.get_absolute_url())
    return _row(request, touchpoint)


@login_required
@require_http_methods(["GET", "POST"])
def touchpoint_log_contact(request: AuthenticatedRequest, customer_pk: int) -> HttpResponse:
    """An ad hoc contact with one of the user's customers, from My day or the customer's page."""
    customer = get_object_or_404(Customer.objects.owned_by(request.user), pk=customer_pk)
    url = reverse("touchpoint_log_contact", args=[customer.pk])
    next_url = _next_url(request, customer.get_absolute_url())
    if request.htmx and request.GET.get("close"):
        return render(request, "touchpoints/partials/contact_button.html", {"customer": customer, "next": next_url})
    form = ContactForm(
        request.POST if request.method == "POST" else None,
        customer=customer,
        prefix=f"contact{customer.pk}",
        initial={"channel": Channel.CALL},
    )
    if request.method == "POST" and form.is_valid():
        try:
            touchpoint = touchpoint_log_adhoc(customer=customer, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            on_customer_page = urlsplit(request.htmx.current_url or "").path == customer.get_absolute_url()
            if request.htmx and not on_customer_page:
                return render(request, "touchpoints/partials/contact_result.html", _result_context(request, touchpoint))
            messages.success(request, _result_message(touchpoint))
            if request.htmx:
                # Opened on the customer's page: reload it, so the timeline shows the new entry.
                return HttpResponseClientRefresh()
            return redirect(next_url)
    context = {
        "form": form,
        "customer": customer,
        "title": "Log a contact",
        "submit_label": "Save",
        "action_url": url,
        "target_id": f"log-contact-{customer.pk}",
        "close_url": f"{url}?{urlencode({'close': '1', 'next': next_url})}",
        "next": next_url,
    }
    if request.htmx:
        return render(request, "touchpoints/partials/contact_form.html", context)
    return render(request, "touchpoints/action_page.html", {"user_tz": user_timezone(request), **context})
