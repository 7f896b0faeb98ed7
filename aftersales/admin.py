"""Back-office views of the email outbox, the dev mailbox and staff profiles.

Outbox rows are written by services in the same transaction as the change
that caused them, and their delivery bookkeeping (lease, attempts, sent or
failed) belongs to the delivery job: staff can read it, fix an address or a
subject of a pending mail, but not fake a delivery or add mail by hand; a
sent or failed mail is a record and reads only. Webhook endpoints are checked
by the API's rules in their form; their deliveries are the sweep's.
"""

from __future__ import annotations

from typing import cast

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from aftersales.api.models import IdempotentRequest
from aftersales.audit.models import AuditEvent
from aftersales.core.models import UserProfile
from aftersales.imports.models import ImportJob
from aftersales.mail.models import EmailSuppression, MailboxMessage, OutboxEmail, OutboxQuerySet
from aftersales.webhooks.models import Webhook, WebhookDelivery, WebhookEvent
from aftersales.webhooks.services import webhook_url_errors


class DeliveryFilter(admin.SimpleListFilter):
    title = _("delivery")
    parameter_name = "delivery"

    def lookups(self, request, model_admin):
        return [("pending", _("Pending")), ("sent", _("Sent")), ("failed", _("Failed"))]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value == "pending":
            return cast(OutboxQuerySet, queryset).pending()  # the admin's rows: OutboxEmail.objects
        if value == "sent":
            return queryset.filter(sent_at__isnull=False)
        if value == "failed":
            return queryset.filter(failed_at__isnull=False)
        return queryset


@admin.register(OutboxEmail)
class OutboxEmailAdmin(admin.ModelAdmin):
    list_display = ["to", "subject", "kind", "status", "attempts", "sent_at", "failed_at", "error", "created_at"]
    list_filter = [DeliveryFilter, "kind", "created_at"]
    search_fields = ["to", "subject", "=message_id", "customer__name", "customer__email"]
    autocomplete_fields = ["customer"]
    readonly_fields = [
        "message_id",
        "send_after",
        "leased_until",
        "attempts",
        "last_error",
        "sent_at",
        "failed_at",
        "created_at",
    ]
    fieldsets = [
        (None, {"fields": ["kind", "customer", "from_email", "to", "reply_to", "subject"]}),
        (_("Content"), {"fields": ["body_text", "body_html", "headers"]}),
        (
            _("Delivery"),
            {
                "fields": [
                    "message_id",
                    "send_after",
                    "leased_until",
                    "attempts",
                    "last_error",
                    "sent_at",
                    "failed_at",
                    "created_at",
                ]
            },
        ),
    ]
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        # Sent or failed, the row is the record of what went out: nothing left to fix.
        if obj is not None and obj.status != "pending":
            return flatten_fieldsets(self.fieldsets)
        return list(self.readonly_fields)

    @admin.display(description=_("status"))
    def status(self, obj: OutboxEmail) -> str:
        return obj.status

    @admin.display(description=_("last error"))
    def error(self, obj: OutboxEmail) -> str:
        return Truncator(obj.last_error).chars(80)


@admin.register(MailboxMessage)
class MailboxMessageAdmin(admin.ModelAdmin):
    """Read-only: these are copies of mail already "sent" by the dev backend."""

    list_display = ["subject", "to", "from_email", "received_at", "open_link"]
    search_fields = ["subject", "to", "=message_id"]
    date_hierarchy = "received_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("dev mailbox"))
    def open_link(self, obj: MailboxMessage) -> str:
        return format_html('<a href="{}">{}</a>', reverse("mailbox:detail", args=[obj.pk]), _("open"))


class UserProfileInline(admin.StackedInline):
    model = UserProfile
    can_delete = False
    max_num = 1
    verbose_name_plural = _("profile")


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class AftersalesUserAdmin(UserAdmin):
    inlines = [*UserAdmin.inlines, UserProfileInline]


# --- Webhooks, API idempotency and imports (written by services; staff read them) -------------


class WebhookForm(forms.ModelForm):
    """The rules of ``webhook_register`` as form errors: a refused URL or an unknown event is shown, never a 500."""

    url = forms.URLField(label=_("URL"), max_length=Webhook._meta.get_field("url").max_length, assume_scheme="https")
    events = forms.MultipleChoiceField(
        label=_("events"), choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Webhook
        fields = ["url", "events", "active", "description"]

    def clean_url(self) -> str:
        # The same URL rule as the API: no private or loopback targets unless the setting allows them.
        url = self.cleaned_data["url"]
        problem = webhook_url_errors(url)
        if problem:
            raise forms.ValidationError(problem, code="url_refused")
        return url

    def clean_events(self) -> list[str]:
        return sorted(set(self.cleaned_data["events"]))


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    """Endpoints are registered with ``webhook_register`` (API or here); the secret is shown for receivers."""

    form = WebhookForm
    list_display = ("url", "events", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("url", "description")
    readonly_fields = ("secret", "created_by", "created_at")

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """The delivery log: every event sent to an endpoint, its attempts and the last answer (the sweep's to write)."""

    list_display = ("event", "webhook", "status", "attempts", "last_status", "created_at", "delivered_at")
    list_filter = ("event",)
    list_select_related = ("webhook",)
    search_fields = ("=delivery_id", "webhook__url", "last_error")
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ("filename", "status", "total_rows", "created_by", "created_at", "finished_at")
    list_filter = ("status",)
    list_select_related = ("created_by",)
    search_fields = ("filename",)
    readonly_fields = [field.name for field in ImportJob._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(IdempotentRequest)
class IdempotentRequestAdmin(admin.ModelAdmin):
    list_display = ("key", "user", "status_code", "created_at")
    list_select_related = ("user",)
    search_fields = ("key",)
    readonly_fields = [field.name for field in IdempotentRequest._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The trail is evidence: it can be read and searched here, never written or edited."""

    list_display = ("created_at", "actor", "action", "object_type", "object_id", "customer")
    list_filter = ("action", "object_type")
    list_select_related = ("actor", "customer")
    search_fields = ("object_type", "customer__name", "actor__username")
    readonly_fields = [field.name for field in AuditEvent._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # an erasure event is also what keeps an erased customer's old links dead


@admin.register(EmailSuppression)
class EmailSuppressionAdmin(admin.ModelAdmin):
    """Hashed addresses of erased customers; search with the sha256 of the lowercased address."""

    list_display = ("email_hash", "reason", "created_at")
    search_fields = ("=email_hash", "reason")
    readonly_fields = [field.name for field in EmailSuppression._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
