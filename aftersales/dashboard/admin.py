"""The dashboard's rollups in the admin: read-only, the refresh job writes them."""

from __future__ import annotations

from django.contrib import admin

from aftersales.dashboard.models import DailyRollup


@admin.register(DailyRollup)
class DailyRollupAdmin(admin.ModelAdmin):
    list_display = ["day", "at_risk", "computed_at", "backfilled"]
    list_filter = ["backfilled"]
    search_fields = ["day"]
    date_hierarchy = "day"
    readonly_fields = ["day", "at_risk", "data", "computed_at", "backfilled"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        # The change page still opens (to read the stored snapshot); nothing can be saved.
        return request.method in ("GET", "HEAD") and super().has_change_permission(request, obj)
