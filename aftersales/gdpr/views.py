"""Managers' GDPR actions on one customer: export everything held, or erase them.

Both are two steps: GET says what will happen and changes nothing; POST does
it. Erasure also asks the manager to type ERASE, so a stray click or a
replayed form cannot wipe a customer. The work is in aftersales/gdpr/services.py.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from aftersales.core.access import AuthenticatedRequest, manager_required
from aftersales.gdpr.services import SECTIONS, customer_erase, customer_export_file, customer_is_erased
from customers.models import Customer

ERASE_WORD = "ERASE"


class ExportForm(forms.Form):
    format = forms.ChoiceField(
        choices=[("json", "JSON (one file)"), ("csv", "CSV (a zip with one file per section)")],
        initial="json",
        widget=forms.RadioSelect,
    )


class EraseForm(forms.Form):
    confirm = forms.CharField(label=f"Type {ERASE_WORD} to confirm", max_length=20)

    def clean_confirm(self) -> str:
        value = self.cleaned_data["confirm"].strip()
        if value != ERASE_WORD:
            raise ValidationError(f"Type {ERASE_WORD} in capitals to erase this customer.")
        return value


@manager_required
@require_http_methods(["GET", "POST"])
def gdpr_export(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer.objects.owned_by(request.user), pk=pk)
    form = ExportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        filename, content_type, body = customer_export_file(
            customer=customer, fmt=form.cleaned_data["format"], by=request.user
        )
        response = HttpResponse(body, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["Cache-Control"] = "private, no-store"  # personal data: never in a shared cache
        return response
    sections = ["profile", *(name.replace("_", " ") for name in SECTIONS)]
    return render(request, "customers/gdpr_export.html", {"customer": customer, "form": form, "sections": sections})


@manager_required
@require_http_methods(["GET", "POST"])
def gdpr_erase(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer.objects.owned_by(request.user).select_related("owner"), pk=pk)
    erased = customer_is_erased(customer)
    form = EraseForm(request.POST or None)
    if request.method == "POST" and not erased and form.is_valid():
        try:
            customer_erase(customer=customer, by=request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Customer #{customer.pk} was erased. Their address will never be mailed again.")
            return redirect(customer.get_absolute_url())
    status = 400 if request.method == "POST" else 200
    return render(
        request, "customers/gdpr_erase.html", {"customer": customer, "form": form, "erased": erased}, status=status
    )
