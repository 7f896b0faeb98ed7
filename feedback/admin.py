"""Back-office views of surveys, invitations and answers.

Invitations and answers are records of what was sent and what a customer
said: they are made by the survey services (an invitation needs a token
whose clear text is mailed once and never stored), so they cannot be added
here, and an answer cannot be edited — a changed score would quietly rewrite
the NPS. Staff may still delete them (a customer's erasure request).
"""

from __future__ import annotations

from typing import cast

from django.contrib import admin
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from feedback.models import (
    EmailConsentEvent,
    Survey,
    SurveyInvitation,
    SurveyInvitationQuerySet,
    SurveyResponse,
    SurveyResponseQuerySet,
)
from feedback.scores import PASSIVES


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "trigger",
        "product",
        "delay_days",
        "asks_nps",
        "asks_csat",
        "asks_buy_again",
        "asks_comment",
        "active",
    ]
    list_filter = ["active", "trigger", "product"]
    list_select_related = ["product"]
    search_fields = ["name"]
    autocomplete_fields = ["product"]
    readonly_fields = ["created_at"]


class InvitationStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            ("unsent", _("Not sent yet")),
            ("pending", _("Awaiting an answer")),
            ("responded", _("Answered")),
            ("expired", _("Expired unanswered")),
        ]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value == "unsent":
            return queryset.filter(sent_at__isnull=True)
        if value == "pending":
            return cast(SurveyInvitationQuerySet, queryset).pending().filter(sent_at__isnull=False)
        if value == "responded":
            return queryset.filter(responded_at__isnull=False)
        if value == "expired":
            return queryset.filter(responded_at__isnull=True, expires_at__lte=timezone.now())
        return queryset


@admin.register(SurveyInvitation)
class SurveyInvitationAdmin(admin.ModelAdmin):
    list_display = ["customer", "survey", "language", "send_at", "sent_at", "reminded_at", "responded_at", "expires_at"]
    list_filter = [InvitationStateFilter, "survey", "language"]
    list_select_related = ["customer", "survey"]
    search_fields = ["customer__name", "customer__company", "customer__email", "survey__name"]
    autocomplete_fields = ["customer", "survey"]
    raw_id_fields = ["touchpoint"]
    # The hash only identifies the row; the clear token exists only in the mail.
    # Delivery and answer times are the services' bookkeeping.
    readonly_fields = ["token_hash", "sent_at", "reminded_at", "opened_at", "responded_at", "created_at"]
    date_hierarchy = "send_at"
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False


class NpsGroupFilter(admin.SimpleListFilter):
    title = _("NPS group")
    parameter_name = "nps_group"

    def lookups(self, request, model_admin):
        return [
            ("promoter", _("Promoters (9–10)")),
            ("passive", _("Passives (7–8)")),
            ("detractor", _("Detractors (0–6)")),
        ]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value == "promoter":
            return cast(SurveyResponseQuerySet, queryset).promoters()  # the admin's rows: SurveyResponse.objects
        if value == "passive":
            return queryset.filter(PASSIVES)
        if value == "detractor":
            return cast(SurveyResponseQuerySet, queryset).detractors()
        return queryset


@admin.register(SurveyResponse)
class SurveyResponseAdmin(admin.ModelAdmin):
    list_display = ["customer", "nps", "csat", "would_buy_again", "problem_reported", "submitted_at"]
    list_filter = [NpsGroupFilter, "csat", "would_buy_again", "problem_reported", "invitation__survey"]
    list_select_related = ["customer"]
    search_fields = ["customer__name", "customer__company", "customer__email", "comment"]
    date_hierarchy = "submitted_at"
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(EmailConsentEvent)
class EmailConsentEventAdmin(admin.ModelAdmin):
    """The consent audit trail: written by the unsubscribe page and the staff resubscribe action, never by hand."""

    list_display = ["customer", "action", "at", "by", "reason"]
    list_filter = ["action"]
    list_select_related = ["customer", "by"]
    search_fields = ["customer__name", "customer__email", "reason"]
    raw_id_fields = ["customer"]
    date_hierarchy = "at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
