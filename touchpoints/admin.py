"""Back-office views of check-up plans and touch points, and the customer admin's "Reassign to…".

Touch points are the biggest table (≈10 per customer): rows come with their
customer and assignee in one query, and there is no unfiltered COUNT(*).
What happened on a check-up (status, outcome, notes…) and when it is due are
the services' to change: the admin shows them and offers the "Cancel…" and
"Reschedule…" actions, which call ``touchpoint_cancel`` and
``touchpoint_reschedule`` (checked, audited, the customer told of a new date).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from aftersales.core.admin_actions import action_form, action_page, apply_each, error_text
from aftersales.core.roles import MANAGERS, REPS
from customers.admin import CustomerAdmin as BaseCustomerAdmin
from customers.models import Customer
from touchpoints.models import CheckupPlan, PlanStep, TouchPoint, TouchPointQuerySet
from touchpoints.services import REASON_MAX_LENGTH, customers_reassign, touchpoint_cancel, touchpoint_reschedule

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _StepTotal(TypedDict):
    step_total: int


class PlanStepInline(admin.TabularInline):
    model = PlanStep
    extra = 1
    fields = ["position", "offset_days", "channel", "objective", "survey_follows"]


@admin.register(CheckupPlan)
class CheckupPlanAdmin(admin.ModelAdmin):
    list_display = ["name", "step_count", "skip_weekends", "active", "updated_at"]
    list_filter = ["active", "skip_weekends"]
    search_fields = ["name", "description"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [PlanStepInline]

    def get_queryset(self, request) -> QuerySet:
        # The step count is a column: count in the same query as the rows.
        return super().get_queryset(request).annotate(step_total=Count("steps"))

    @admin.display(description=_("steps"), ordering="step_total")
    def step_count(self, obj: WithAnnotations[CheckupPlan, _StepTotal]) -> int:
        return obj.step_total


class OverdueFilter(admin.SimpleListFilter):
    title = _("due")
    parameter_name = "due"

    def lookups(self, request, model_admin):
        return [("overdue", _("Overdue (scheduled, due in the past)"))]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        if self.value() == "overdue":
            return cast(TouchPointQuerySet, queryset).overdue()  # the admin's own rows: TouchPoint.objects
        return queryset


@admin.register(TouchPoint)
class TouchPointAdmin(admin.ModelAdmin):
    list_display = [
        "customer",
        "assignee",
        "kind",
        "channel",
        "due_at",
        "status",
        "outcome",
        "temperature",
    ]
    list_filter = [OverdueFilter, "status", "kind", "channel", "outcome", "temperature", "assignee"]
    list_select_related = ["customer", "assignee"]
    search_fields = ["customer__name", "customer__company", "customer__email", "objective", "notes"]
    autocomplete_fields = ["customer", "assignee"]
    # Purchases, plan steps and earlier touch points number in the hundreds of
    # thousands: an id box, not a dropdown.
    raw_id_fields = ["purchase", "plan_step", "follows"]
    # The services' bookkeeping: logging, cancelling and moving a check-up write these.
    readonly_fields = [
        "status",
        "completed_at",
        "outcome",
        "temperature",
        "notes",
        "next_step",
        "problem_reported",
        "cancel_reason",
        "reminder_sent_at",
        "created_by",
        "created_at",
        "updated_at",
    ]
    # Fixed once the touch point exists: the due date moves with "Reschedule…", the
    # assignee with the customer ("Reassign to…" on customers).
    readonly_once_created = ["customer", "purchase", "plan_step", "follows", "assignee", "kind", "due_at"]
    date_hierarchy = "due_at"
    show_full_result_count = False
    actions = ["cancel", "reschedule"]
    fieldsets = [
        (None, {"fields": ["customer", "purchase", "plan_step", "follows", "assignee", "kind", "channel"]}),
        (_("Plan"), {"fields": ["objective", "survey_follows", "due_at", "reminder_sent_at"]}),
        (
            _("Result"),
            {
                "fields": [
                    "status",
                    "completed_at",
                    "outcome",
                    "temperature",
                    "notes",
                    "next_step",
                    "problem_reported",
                    "cancel_reason",
                ]
            },
        ),
        (_("Record"), {"fields": ["created_by", "created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [*self.readonly_fields, *self.readonly_once_created] if obj is not None else list(self.readonly_fields)

    @admin.action(description=_("Cancel the selected check-ups…"), permissions=["change"])
    def cancel(self, request, queryset: QuerySet[TouchPoint]):
        form = action_form(request, CancelForm)
        if not (form.is_bound and form.is_valid()):
            return action_page(self, request, queryset, form, title=_("Cancel check-ups"), submit=_("Cancel them"))
        reason = form.cleaned_data["reason"]
        apply_each(
            self,
            request,
            queryset.select_related("customer"),
            lambda touchpoint: touchpoint_cancel(touchpoint=touchpoint, by=request.user, reason=reason),
            done=lambda count: (
                ngettext("%(count)d check-up cancelled.", "%(count)d check-ups cancelled.", count) % {"count": count}
            ),
        )
        return None

    @admin.action(description=_("Reschedule the selected check-ups…"), permissions=["change"])
    def reschedule(self, request, queryset: QuerySet[TouchPoint]):
        form = action_form(request, RescheduleForm)
        if not (form.is_bound and form.is_valid()):
            return action_page(self, request, queryset, form, title=_("Reschedule check-ups"), submit=_("Move them"))
        due_date, reason = form.cleaned_data["due_date"], form.cleaned_data["reason"]
        apply_each(
            self,
            request,
            queryset.select_related("customer"),
            lambda touchpoint: touchpoint_reschedule(
                touchpoint=touchpoint, by=request.user, due_date=due_date, reason=reason
            ),
            done=lambda count: (
                ngettext("%(count)d check-up moved.", "%(count)d check-ups moved.", count) % {"count": count}
            ),
        )
        return None


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), max_length=REASON_MAX_LENGTH, help_text=_("Kept on each check-up and in the audit trail.")
    )


class RescheduleForm(forms.Form):
    due_date = forms.DateField(
        label=_("New date"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("Due at 10:00 on that day, in each customer's time zone."),
    )
    reason = forms.CharField(
        label=_("Reason"), max_length=REASON_MAX_LENGTH, help_text=_("Added to each check-up's notes.")
    )


# --- Customers: the admin of customers/admin.py, with the action that needs check-ups too ------------


def _assignable_users() -> QuerySet:
    """Who can own customers: active reps and managers (customers_reassign checks it again)."""
    return (
        get_user_model()
        .objects.filter(Q(groups__name__in=[REPS, MANAGERS]) | Q(is_superuser=True), is_active=True)
        .distinct()
        .order_by("username")
    )


class ReassignForm(forms.Form):
    to_rep = forms.ModelChoiceField(
        label=_("New owner"),
        queryset=_assignable_users(),
        help_text=_("Their scheduled check-ups go with them; done and cancelled ones stay as history."),
    )


admin.site.unregister(Customer)


@admin.register(Customer)
class CustomerAdmin(BaseCustomerAdmin):
    actions = [*BaseCustomerAdmin.actions, "reassign"]

    @admin.action(description=_("Reassign to…"), permissions=["change"])
    def reassign(self, request, queryset: QuerySet[Customer]):
        form = action_form(request, ReassignForm)
        if not (form.is_bound and form.is_valid()):
            return action_page(self, request, queryset, form, title=_("Reassign customers"), submit=_("Reassign"))
        to_rep = form.cleaned_data["to_rep"]
        try:
            moved = customers_reassign(
                customer_ids=queryset.values_list("pk", flat=True), to_rep=to_rep, by=request.user
            )
        except (ValidationError, PermissionDenied) as exc:
            self.message_user(request, error_text(exc), messages.ERROR)
            return None
        self.message_user(
            request,
            ngettext("%(count)d customer reassigned to %(rep)s.", "%(count)d customers reassigned to %(rep)s.", moved)
            % {"count": moved, "rep": to_rep.get_full_name() or to_rep.get_username()},
            messages.SUCCESS,
        )
        return None
