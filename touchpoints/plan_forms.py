"""Forms of the plan editor: the plan itself and its ordered steps."""

from __future__ import annotations

import re
from typing import cast

from django import forms
from django.forms import BaseFormSet, formset_factory
from django.utils.translation import gettext_lazy as _

from customers.models import Product
from touchpoints.models import CheckupPlan, PlanStep
from touchpoints.planning import StepData

MAX_STEPS = 30
MAX_OFFSET_DAYS = 3650


class RenewalOffsetsField(forms.CharField):
    """ "60, 14" ⇄ [60, 14]: days before a renewal date, typed as a list."""

    default_error_messages = {
        "invalid": _("Write whole numbers of days separated by commas, such as 60, 14."),
        "range": _("Each number of days must be between 1 and %(max)s."),
    }

    def prepare_value(self, value) -> str:
        if isinstance(value, list | tuple):
            return ", ".join(str(days) for days in value)
        return value or ""

    # A CharField whose value is the list the text stands for (its stub says the value is text).
    def to_python(self, value) -> list[int]:  # type: ignore[override]
        text = super().to_python(value)
        if not text:
            return []
        parts = [part for part in re.split(r"[\s,;]+", text) if part]
        if not all(part.isdigit() for part in parts):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        days = sorted({int(part) for part in parts}, reverse=True)
        if any(not 1 <= value <= MAX_OFFSET_DAYS for value in days):
            raise forms.ValidationError(self.error_messages["range"], code="range", params={"max": MAX_OFFSET_DAYS})
        return days


class ProductChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, product: Product) -> str:
        current = product.default_plan
        return f"{product.name} (now: {current.name})" if current else product.name


class CheckupPlanForm(forms.ModelForm):
    renewal_offsets_days = RenewalOffsetsField(
        label=_("Renewal check-ups (days before the renewal date)"),
        required=False,
        max_length=100,
        help_text=_("For example 60, 14. Empty means 60 and 14 days before."),
    )
    products = ProductChoiceField(
        queryset=Product.objects.select_related("default_plan"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Default plan of these products"),
        help_text=_("New purchases of a ticked product follow this plan unless the purchase names another."),
    )

    class Meta:
        model = CheckupPlan
        fields = ["name", "description", "skip_weekends", "renewal_offsets_days", "active"]
        labels = {"skip_weekends": _("Skip weekends"), "active": _("Active (offered for new purchases)")}
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["products"] = list(self.instance.products.values_list("pk", flat=True))

    def plan_fields(self) -> dict:
        """Keyword arguments of ``checkup_plan_save`` taken from this form."""
        data = self.cleaned_data
        keys = ("name", "description", "skip_weekends", "renewal_offsets_days", "active", "products")
        return {key: data[key] for key in keys}


class PlanStepForm(forms.ModelForm):
    step_id = forms.IntegerField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = PlanStep
        fields = ["offset_days", "channel", "objective", "survey_follows"]
        labels = {
            "offset_days": _("Day"),
            "objective": _("Objective (the customer reads it)"),
            "survey_follows": _("Survey follows"),
        }
        widgets = {"objective": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["offset_days"].widget.attrs.update({"min": "0", "max": str(MAX_OFFSET_DAYS)})


class BasePlanStepFormSet(BaseFormSet):
    default_error_messages = {
        "too_few_forms": _("A plan needs at least one step."),
        "too_many_forms": _("A plan can have at most %(num)d steps."),
    }

    def add_fields(self, form, index) -> None:
        super().add_fields(form, index)
        form.fields["ORDER"].label = _("Position")
        form.fields["ORDER"].widget.attrs.update({"min": "1", "class": "step-order"})
        form.fields["DELETE"].label = _("Remove")

    def steps(self) -> list[StepData]:
        """The kept steps in the order the manager set (blank positions last, in page order)."""
        return [
            StepData(
                offset_days=form.cleaned_data["offset_days"],
                channel=form.cleaned_data["channel"],
                objective=form.cleaned_data["objective"],
                survey_follows=form.cleaned_data["survey_follows"],
                step_id=form.cleaned_data.get("step_id"),
            )
            for form in self.ordered_forms
        ]


# formset_factory builds a subclass of the formset class it is given (its stub says only BaseFormSet).
PlanStepFormSet = cast(
    "type[BasePlanStepFormSet]",
    formset_factory(
        PlanStepForm,
        formset=BasePlanStepFormSet,
        extra=0,
        min_num=1,
        validate_min=True,
        max_num=MAX_STEPS,
        validate_max=True,
        can_order=True,
        can_delete=True,
    ),
)


def step_initial(plan: CheckupPlan | None) -> list[dict]:
    if plan is None:
        return []
    return [
        {
            "step_id": step.pk,
            "offset_days": step.offset_days,
            "channel": step.channel,
            "objective": step.objective,
            "survey_follows": step.survey_follows,
            "ORDER": number,
        }
        for number, step in enumerate(plan.steps.order_by("position"), start=1)
    ]
