"""Forms of the customer pages: recording a purchase."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.validators import DecimalValidator
from django.utils.translation import gettext_lazy as _

from aftersales.core import inputs
from customers.models import Product, Purchase
from touchpoints.models import CheckupPlan


class DateInput(forms.DateInput):
    """The browser's date picker; it needs ISO dates whatever the locale."""

    input_type = "date"

    def __init__(self, attrs=None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class PurchaseForm(forms.ModelForm):
    """What a rep types after a sale; ``purchase_record`` does the rest."""

    class Meta:
        model = Purchase
        fields = ["product", "plan", "ordered_at", "delivered_at", "amount", "currency", "renewal_date", "external_ref"]
        labels = {
            "ordered_at": _("Ordered on"),
            "delivered_at": _("Delivered on"),
            "renewal_date": _("Renewal date"),
            "plan": _("Check-up plan"),
            "external_ref": _("Order reference"),
        }
        help_texts = {
            "delivered_at": _(
                "Check-ups count from delivery; leave empty if not delivered yet (they count from the order)."
            ),
            "renewal_date": _("Renewal check-ups are scheduled ahead of it."),
            "plan": _("Leave empty to use the product's default plan."),
            "external_ref": _("The order number in the shop or ERP. Recording the same number again changes nothing."),
        }
        widgets = {"ordered_at": DateInput(), "delivered_at": DateInput(), "renewal_date": DateInput()}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        product = cast(forms.ModelChoiceField, self.fields["product"])  # the form fields of the model's FKs
        product.queryset = Product.objects.filter(active=True).select_related("default_plan")
        # Replacing the method on the instance is how Django documents it; its stub declares it on the class.
        product.label_from_instance = _product_label  # type: ignore[assignment]
        plan = cast(forms.ModelChoiceField, self.fields["plan"])
        plan.queryset = CheckupPlan.objects.filter(active=True)
        plan.empty_label = _("The product's default plan")
        # The dates, the amount and the currency follow aftersales.core.inputs, like the API and the import.
        earliest, latest = inputs.EARLIEST_DATE.isoformat(), inputs.latest_date().isoformat()
        for name in ("ordered_at", "delivered_at", "renewal_date"):
            field = self.fields[name]
            field.validators.append(inputs.DateWindowValidator(str(field.label or name)))
            field.widget.attrs.update({"min": earliest, "max": latest})
        amount = self.fields["amount"]
        # The range has one message (the rule's); only the two decimal places are the column's own check.
        amount.validators = [DecimalValidator(None, 2), inputs.AmountValidator(str(amount.label or "amount"))]
        amount.widget.attrs.update({"min": "0", "max": str(inputs.MAX_AMOUNT)})
        self.fields["currency"].widget.attrs.update({"maxlength": "3", "pattern": "[A-Za-z]{3}", "size": "4"})

    def clean_currency(self) -> str:
        return inputs.check_currency(
            self.cleaned_data["currency"], label=str(self.fields["currency"].label or "currency")
        )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data  # what ModelForm.clean returns
        ordered, delivered, renewal = (cleaned.get(key) for key in ("ordered_at", "delivered_at", "renewal_date"))
        if ordered and delivered and delivered < ordered:
            self.add_error("delivered_at", _("Delivery cannot come before the order."))
        if ordered and renewal and renewal <= ordered:
            self.add_error("renewal_date", _("The renewal date must come after the order."))
        return cleaned

    def validate_unique(self) -> None:
        """The same order reference again is a harmless retry, not a form error: the service decides."""


def _product_label(product: Product) -> str:
    plan = product.default_plan
    return f"{product.name} — {plan.name}" if plan else f"{product.name} — {_('no plan')}"
