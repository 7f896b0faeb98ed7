"""Back-office views of check-up plans and touch points.

Touch points are the biggest table (≈10 per customer): rows come with their
customer and assignee in one query, and there is no unfiltered COUNT(*).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict, cast

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.utils.translation import gettext_lazy as _

from touchpoints.models import CheckupPlan, PlanStep, TouchPoint, TouchPointQuerySet

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
    readonly_fields = ["reminder_sent_at", "created_by", "created_at", "updated_at"]
    date_hierarchy = "due_at"
    show_full_result_count = False
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
