"""The plan editor: managers list, create and edit check-up plans in the app.

Reps get a 404, as for any object that is not theirs: the pages do not
announce that they exist.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from aftersales.core.access import AuthenticatedRequest, manager_required
from customers.models import Product
from touchpoints.models import CheckupPlan
from touchpoints.plan_forms import CheckupPlanForm, PlanStepFormSet, step_initial
from touchpoints.planning import checkup_plan_save

STEPS_PREFIX = "steps"


@manager_required
def plan_list(request: AuthenticatedRequest) -> HttpResponse:
    plans = CheckupPlan.objects.annotate(step_count=Count("steps", distinct=True)).order_by("-active", "name")
    products = Product.objects.filter(default_plan__isnull=False).order_by("name").values_list("default_plan", "name")
    by_plan: dict[int, list[str]] = {}
    for plan_id, name in products:
        by_plan.setdefault(plan_id, []).append(name)
    rows = [(plan, by_plan.get(plan.pk, [])) for plan in plans]
    return render(request, "touchpoints/plans/plan_list.html", {"rows": rows})


@manager_required
def plan_create(request: AuthenticatedRequest) -> HttpResponse:
    return _edit(request, None)


@manager_required
def plan_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _edit(request, get_object_or_404(CheckupPlan, pk=pk))


def _edit(request: AuthenticatedRequest, plan: CheckupPlan | None) -> HttpResponse:
    if request.method != "POST":
        form = CheckupPlanForm(instance=plan)
        formset = PlanStepFormSet(prefix=STEPS_PREFIX, initial=step_initial(plan))
        return _render(request, plan, form, formset)

    form = CheckupPlanForm(request.POST, instance=plan)
    if "add_step" in request.POST:
        # Without JavaScript, "Add a step" posts the page back with one more
        # empty row; nothing is saved until "Save the plan".
        data = request.POST.copy()
        total_key = f"{STEPS_PREFIX}-TOTAL_FORMS"
        data[total_key] = str(int(data.get(total_key) or 0) + 1)
        return _render(request, plan, form, PlanStepFormSet(data, prefix=STEPS_PREFIX), adding=True)

    formset = PlanStepFormSet(request.POST, prefix=STEPS_PREFIX)
    form_ok, formset_ok = form.is_valid(), formset.is_valid()  # both, so every error shows at once
    if form_ok and formset_ok:
        try:
            saved = checkup_plan_save(plan=plan, steps=formset.steps(), by=request.user, **form.plan_fields())
        except ValidationError as exc:
            _attach(form, exc)
        else:
            messages.success(request, f"Plan “{saved.name}” saved.")
            return redirect("plan_edit", pk=saved.pk)
    return _render(request, plan, form, formset)


def _attach(form: CheckupPlanForm, exc: ValidationError) -> None:
    """Errors raised by the service go next to the field they name, or on top of the form."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def _render(request, plan, form, formset, *, adding: bool = False) -> HttpResponse:
    return render(
        request,
        "touchpoints/plans/plan_form.html",
        {"plan": plan, "form": form, "formset": formset, "adding": adding},
    )
