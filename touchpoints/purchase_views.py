"""Recording a purchase from the customer's page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from aftersales.core.access import AuthenticatedRequest
from aftersales.mail.models import OutboxEmail
from customers.models import Customer
from touchpoints.purchase_forms import PurchaseForm
from touchpoints.services import purchase_record


@login_required
def purchase_create(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """A rep records sales for their own customers only; anyone else's customer is a 404 and nothing is written."""
    customer = get_object_or_404(Customer.objects.owned_by(request.user).select_related("owner"), pk=pk)
    if request.method == "POST":
        form = PurchaseForm(request.POST)
        if form.is_valid():
            try:
                purchase, created = purchase_record(customer=customer, recorded_by=request.user, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                _report(request, purchase, created)
                return redirect(customer)
    else:
        form = PurchaseForm(initial={"ordered_at": timezone.now().astimezone(customer.tz).date(), "currency": "EUR"})
    return render(request, "customers/purchase_form.html", {"customer": customer, "form": form})


def _report(request: HttpRequest, purchase, created: bool) -> None:
    if not created:
        messages.info(request, _("This order was already recorded; nothing was scheduled twice."))
        return
    count = purchase.touchpoints.count()
    text = ngettext(
        "Purchase recorded: %(count)d check-up scheduled.",
        "Purchase recorded: %(count)d check-ups scheduled.",
        count,
    ) % {"count": count}
    if (
        OutboxEmail.objects.filter(customer=purchase.customer, kind=OutboxEmail.Kind.CARE_PLAN)
        .filter(created_at__gte=purchase.created_at)
        .exists()
    ):
        text += " " + _("The care plan is on its way to %(email)s.") % {"email": purchase.customer.email}
    messages.success(request, text)
