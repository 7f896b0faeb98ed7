"""Back-office views of customers, products, purchases and risk flags.

The admin is for support staff fixing data, not a second way to run the
business: no save hooks here. Fields a service owns (the owner, consent,
health, a flag's resolution) are read-only; changing them is an action that
calls the service, so it is checked and audited like anywhere else (the
"Reassign to…" action lives in touchpoints/admin.py, beside the check-ups it
moves). Changelists must stay fast at 100k customers, so foreign keys are
selected with the rows, pickers are autocompletes, and the big tables skip
the extra unfiltered COUNT(*).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from aftersales.core.admin_actions import action_form, action_page, apply_each
from customers.models import (
    Customer,
    CustomerQuerySet,
    HealthBand,
    HealthSnapshot,
    HealthWeights,
    Product,
    Purchase,
    RiskFlag,
    RiskFlagQuerySet,
)
from customers.services import RESOLUTION_MAX_LENGTH, riskflag_resolve


class HealthBandFilter(admin.SimpleListFilter):
    title = _("health band")
    parameter_name = "band"

    def lookups(self, request, model_admin):
        return [*HealthBand.choices, ("none", _("Not scored yet"))]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value == "none":
            return queryset.filter(health_score__isnull=True)
        if value in HealthBand.values:
            return cast(CustomerQuerySet, queryset).in_band(value)  # the admin's rows: Customer.objects
        return queryset


class QuietNowFilter(admin.SimpleListFilter):
    title = _("quiet")
    parameter_name = "quiet"

    def lookups(self, request, model_admin):
        return [("yes", _("Gone quiet now"))]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return cast(CustomerQuerySet, queryset).quiet()
        return queryset


class RiskFlagStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", _("Open")), ("visible", _("Open, not snoozed")), ("resolved", _("Resolved"))]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        value = self.value()
        flags = cast(RiskFlagQuerySet, queryset)  # the admin's rows: RiskFlag.objects
        if value == "open":
            return flags.open()
        if value == "visible":
            return flags.visible()
        if value == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "sku", "default_plan", "quiet_threshold_days", "active", "created_at"]
    list_filter = ["active", "default_plan"]
    list_select_related = ["default_plan"]
    search_fields = ["name", "=sku"]
    autocomplete_fields = ["default_plan"]
    readonly_fields = ["created_at"]


class PurchaseInline(admin.TabularInline):
    model = Purchase
    extra = 0
    fields = ["product", "ordered_at", "delivered_at", "amount", "currency", "renewal_date", "external_ref"]
    autocomplete_fields = ["product"]
    show_change_link = True


class RiskFlagInline(admin.TabularInline):
    """Shown, never written here: flags are raised by the sweeps and resolved with the flag page's action."""

    model = RiskFlag
    extra = 0
    fields = readonly_fields = ("reason", "detail", "raised_at", "resolved_at", "resolution", "snoozed_until")
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "company",
        "email",
        "owner",
        "language",
        "health_score",
        "band",
        "last_contact_at",
        "quiet_after",
        "email_opt_out",
    ]
    list_filter = [HealthBandFilter, QuietNowFilter, "owner", "language", "email_opt_out"]
    list_select_related = ["owner"]
    search_fields = ["name", "company", "email", "phone", "=external_ref"]
    autocomplete_fields = ["owner"]
    # Computed by the health and contact services; hand edits would be overwritten
    # (or worse, silently hide a quiet customer from the sweep). Consent changes
    # through the unsubscribe link and the customer page (feedback/unsubscribe.py),
    # which keep its trail and withdraw queued mail.
    readonly_fields = [
        "email_opt_out",
        "health_score",
        "health_explanation",
        "health_updated_at",
        "last_contact_at",
        "quiet_after",
        "email_opt_out_at",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["name", "company", "email", "phone", "owner", "external_ref", "notes"]}),
        (_("Preferences"), {"fields": ["language", "timezone", "email_opt_out", "email_opt_out_at"]}),
        (
            _("Health and contact"),
            {"fields": ["health_score", "health_explanation", "health_updated_at", "last_contact_at", "quiet_after"]},
        ),
        (_("Record"), {"fields": ["created_at", "updated_at"]}),
    ]
    inlines = [PurchaseInline, RiskFlagInline]
    show_full_result_count = False
    # Action names only: touchpoints/admin.py's CustomerAdmin adds "Reassign to…" to these.
    actions: Sequence[str] = ()

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        # The owner is chosen once; after that, "Reassign to…" hands over the customer with their check-ups.
        return [*self.readonly_fields, "owner"] if obj is not None else list(self.readonly_fields)

    @admin.display(description=_("band"), ordering="health_score")
    def band(self, obj: Customer) -> str:
        band = obj.health_band
        return str(HealthBand(band).label) if band else "—"


@admin.register(Purchase)
class PurchaseAdmin(admin.ModelAdmin):
    list_display = [
        "customer",
        "product",
        "ordered_at",
        "delivered_at",
        "amount",
        "currency",
        "renewal_date",
        "external_ref",
    ]
    list_filter = ["product", "currency", "ordered_at", "renewal_date"]
    list_select_related = ["customer", "product"]
    search_fields = ["customer__name", "customer__company", "customer__email", "=external_ref", "product__name"]
    autocomplete_fields = ["customer", "product", "plan"]
    readonly_fields = ["created_at"]
    date_hierarchy = "ordered_at"
    show_full_result_count = False


class ResolveForm(forms.Form):
    resolution = forms.CharField(
        label=_("Resolution"),
        max_length=RESOLUTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What settled it; kept on each flag and in the audit trail."),
    )


@admin.register(RiskFlag)
class RiskFlagAdmin(admin.ModelAdmin):
    list_display = ["customer", "reason", "raised_at", "resolved_at", "snoozed_until", "resolved_by"]
    list_filter = [RiskFlagStateFilter, "reason", "raised_at"]
    list_select_related = ["customer", "resolved_by"]
    search_fields = ["customer__name", "customer__company", "customer__email", "detail"]
    autocomplete_fields = ["customer"]
    # Resolving is the "Resolve…" action (riskflag_resolve: scoped, audited, health due);
    # snoozing is on the at-risk pages; the sweeps own the rest.
    readonly_fields = [
        "raised_at",
        "resolved_at",
        "resolved_by",
        "resolution",
        "snoozed_until",
        "owner_notified_at",
        "data",
    ]
    date_hierarchy = "raised_at"
    show_full_result_count = False
    actions = ["resolve"]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        # A flag stays the customer's and the reason it was raised for; only its detail can be corrected.
        return [*self.readonly_fields, "customer", "reason"] if obj is not None else list(self.readonly_fields)

    @admin.action(description=_("Resolve the selected flags…"), permissions=["change"])
    def resolve(self, request, queryset: QuerySet[RiskFlag]):
        form = action_form(request, ResolveForm)
        if not (form.is_bound and form.is_valid()):
            return action_page(self, request, queryset, form, title=_("Resolve flags"), submit=_("Resolve"))
        resolution = form.cleaned_data["resolution"]
        apply_each(
            self,
            request,
            queryset.select_related("customer"),
            lambda flag: riskflag_resolve(flag=flag, by=request.user, resolution=resolution),
            done=lambda count: (
                ngettext("%(count)d flag resolved.", "%(count)d flags resolved.", count) % {"count": count}
            ),
        )
        return None


class ReadOnlyAdmin(admin.ModelAdmin):
    """Written only by services (the weights page, the health sweep): the admin shows, never edits."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(HealthWeights)
class HealthWeightsAdmin(ReadOnlyAdmin):
    """Changed at /risk/weights/ so every customer is marked due for a rescore (customers.risk_services)."""

    list_display = ["__str__", "updated_at", "updated_by"]
    search_fields = ["updated_by__username"]
    list_select_related = ["updated_by"]


@admin.register(HealthSnapshot)
class HealthSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["customer", "taken_on", "score"]
    list_select_related = ["customer"]
    search_fields = ["customer__name", "customer__email"]
    autocomplete_fields = ["customer"]
    date_hierarchy = "taken_on"
    show_full_result_count = False
