"""Adding a customer, editing one, and (managers) merging a duplicate into the customer that stays."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from aftersales.core.access import AuthenticatedRequest
from aftersales.core.models import UserProfile
from aftersales.core.roles import Actor, is_manager
from aftersales.customer_pages.forms import CustomerForm, MergeTargetForm
from aftersales.customer_pages.merge import customers_merge, merge_check, merge_preview
from customers.models import Customer
from customers.phones import phone_or_none
from customers.selectors import customer_duplicates
from customers.services import customer_create
from touchpoints.services import customer_edit

MERGE_SEARCH_LIMIT = 20


def _add_errors(form, exc: ValidationError) -> None:
    """A service's ValidationError on the form: under its field where the form has one, above the form otherwise."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, errors in exc.error_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def duplicate_rows(
    user: Actor, *, email: str, phone: str | None, exclude_pk: int | None = None
) -> list[dict[str, Any]]:
    """The customers this one looks like, as the warning shows them: another rep's customer with no link.

    A rep learns that a colleague has the customer (name and rep, so they can
    talk), not their data: opening it would be a 404 anyway.
    """
    found = list(customer_duplicates(email=email, phone=phone or "", exclude_pk=exclude_pk))
    visible = set(Customer.objects.owned_by(user).filter(pk__in=[c.pk for c in found]).values_list("pk", flat=True))
    phone = phone_or_none(phone or "")
    rows = []
    for customer in found:
        same = []
        if email and customer.email.lower() == email.strip().lower():
            same.append(_("same e-mail"))
        if phone and customer.phone == phone:
            same.append(_("same phone"))
        rows.append(
            {
                "name": customer.name,
                "owner": _("yours")
                if customer.owner_id == user.pk
                else _("%(rep)s’s customer") % {"rep": customer.owner.get_full_name() or customer.owner.get_username()},
                "mine": customer.owner_id == user.pk,
                "url": customer.get_absolute_url() if customer.pk in visible else "",
                "same": ", ".join(same),
            }
        )
    return rows


def _new_customer_initial(user) -> dict:
    zone = UserProfile.objects.filter(user=user).values_list("timezone", flat=True).first()
    return {"language": "en", "timezone": zone or "UTC", "owner": user.pk}


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def customer_new(request: AuthenticatedRequest) -> HttpResponse:
    """A new customer; when the e-mail or phone is already on file, the form comes back listing who has it."""
    manager = is_manager(request.user)
    duplicates: list[dict] = []
    if request.method == "POST":
        form = CustomerForm(request.POST, manager=manager, creating=True)
        if form.is_valid():
            data = form.changes()
            owner = data.pop("owner", None) or request.user
            duplicates = duplicate_rows(request.user, email=data["email"], phone=data["phone"])
            if not duplicates or form.cleaned_data["create_anyway"]:
                try:
                    customer, _created = customer_create(owner=owner, by=request.user, **data)
                except ValidationError as exc:
                    _add_errors(form, exc)
                else:
                    messages.success(request, _("%(name)s was added.") % {"name": customer.name})
                    return redirect(customer)
    else:
        form = CustomerForm(initial=_new_customer_initial(request.user), manager=manager, creating=True)
    return render(request, "customers/customer_form.html", {"form": form, "customer": None, "duplicates": duplicates})


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def customer_edit_page(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """A rep edits their own customers (anyone else's is a 404); a manager also gives one to another rep."""
    customer = get_object_or_404(Customer.objects.owned_by(request.user).select_related("owner"), pk=pk)
    if customer.erased_at is not None:
        messages.error(request, _("An erased customer's data cannot be edited."))
        return redirect(customer)
    manager = is_manager(request.user)
    initial = CustomerForm.initial_for(customer)
    if request.method == "POST":
        form = CustomerForm(request.POST, initial=initial, manager=manager, creating=False)
        if form.is_valid():
            try:
                customer = customer_edit(customer=customer, by=request.user, **form.changes())
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, _("The details of %(name)s were saved.") % {"name": customer.name})
                return redirect(customer)
    else:
        form = CustomerForm(initial=initial, manager=manager, creating=False)
    return render(request, "customers/customer_form.html", {"form": form, "customer": customer, "duplicates": []})


def merge_candidates(user, *, merged: Customer, q: str) -> list[Customer]:
    """Customers a manager may keep instead of ``merged``: by name, company, e-mail, phone or id."""
    match = Q(name__icontains=q) | Q(company__icontains=q) | Q(email__icontains=q)
    if phone := phone_or_none(q):
        match |= Q(phone=phone)
    if q.isdigit() and len(q) < 19:
        match |= Q(pk=int(q))
    found = Customer.objects.owned_by(user).filter(match).exclude(pk=merged.pk).select_related("owner")
    return list(found.order_by("name", "pk")[:MERGE_SEARCH_LIMIT])


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def customer_merge_page(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Managers: find the customer to keep, see what moves, confirm. The duplicate's page then redirects there."""
    if not is_manager(request.user):
        raise PermissionDenied(_("Only managers merge customers."))
    merged = get_object_or_404(Customer.objects.owned_by(request.user).select_related("owner"), pk=pk)
    form = MergeTargetForm(request.POST if request.method == "POST" else request.GET)
    form.is_valid()
    q, into = form.cleaned_data.get("q") or "", form.cleaned_data.get("into")
    survivor = None
    if into is not None:
        survivor = Customer.objects.owned_by(request.user).select_related("owner").filter(pk=into).first()
        if survivor is None:
            form.add_error(None, _("There is no customer #%(pk)s to merge into.") % {"pk": into})
        else:
            try:
                merge_check(survivor=survivor, merged=merged, by=request.user)
            except ValidationError as exc:
                form.add_error(None, exc)
                survivor = None
    if request.method == "POST" and survivor is not None:
        try:
            moved = customers_merge(survivor=survivor, merged=merged, by=request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            total = sum(count for _label, count in moved.lines())
            text = ngettext(
                "Customer #%(merged)s was merged into %(name)s: %(count)s record moved.",
                "Customer #%(merged)s was merged into %(name)s: %(count)s records moved.",
                total,
            )
            messages.success(request, text % {"merged": merged.pk, "name": survivor.name, "count": total})
            return redirect(survivor)
    context = {
        "merged": merged,
        "survivor": survivor,
        "form": form,
        "q": q,
        "candidates": merge_candidates(request.user, merged=merged, q=q) if q and survivor is None else [],
        "suggested": [] if q or survivor else _suggestions(merged),
        "moved": merge_preview(survivor=survivor, merged=merged).lines() if survivor is not None else [],
    }
    return render(request, "customers/customer_merge.html", context)


def _suggestions(merged: Customer) -> list[Customer]:
    """The duplicates of the customer by e-mail or phone: the likely customers to keep."""
    return list(customer_duplicates(email=merged.email, phone=merged.phone, exclude_pk=merged.pk))
