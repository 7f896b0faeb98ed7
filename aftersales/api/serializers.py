"""What the API shows and accepts. Writes go through the services; serializers only shape data."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from aftersales.api.filters import MAX_ID
from aftersales.core import inputs
from aftersales.core.roles import Actor
from aftersales.webhooks.models import Webhook, WebhookDelivery, WebhookEvent
from customers.models import Customer, Product, Purchase, RiskFlag
from customers.phones import phone_normalise
from customers.services import RESOLUTION_MAX_LENGTH
from feedback.models import SurveyResponse
from touchpoints.models import CheckupPlan, TouchPoint


class IdField(serializers.PrimaryKeyRelatedField):
    """A related id; one too large for the database is simply an id that does not exist."""

    def to_internal_value(self, data):
        try:
            too_large = abs(int(data)) > MAX_ID
        except (TypeError, ValueError, OverflowError):
            too_large = False
        if too_large:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


class AmountField(serializers.DecimalField):
    """An amount checked by inputs.check_amount (with its message) before DRF counts the digits."""

    def validate_precision(self, value):
        try:
            inputs.check_amount(value, label=self.field_name)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None
        return super().validate_precision(value)


class CustomerSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(
        slug_field="username",
        queryset=get_user_model().objects.filter(is_active=True),
        required=False,
        help_text="The rep's username. Reps always create their own customers; managers may name a rep.",
    )
    health_band = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = Customer
        fields = [
            "id",
            "external_ref",
            "name",
            "company",
            "email",
            "phone",
            "owner",
            "language",
            "timezone",
            "email_opt_out",
            "health_score",
            "health_band",
            "last_contact_at",
            "quiet_after",
            "created_at",
        ]
        read_only_fields = [
            "id",
            "email_opt_out",
            "health_score",
            "health_band",
            "last_contact_at",
            "quiet_after",
            "created_at",
        ]
        # external_ref uniqueness is customer_create's business: the same reference again is a retry.
        extra_kwargs: dict[str, dict[str, Any]] = {
            "external_ref": {"validators": []},
            "phone": {"help_text": "With + and the country code (+34 612 345 678); answered in E.164 (+34612345678)."},
        }

    def validate_phone(self, value: str) -> str:
        """Checked here too, so a 400 names every bad field at once (the services check it again)."""
        if self.instance is not None and value.strip() == self.instance.phone:
            return value  # an old number sent back unchanged is not checked again (customer_update)
        try:
            return phone_normalise(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None


class CustomerUpdateSerializer(CustomerSerializer):
    """PATCH: the fields ``customer_update`` changes; the owner (a username) by managers only."""

    class Meta(CustomerSerializer.Meta):
        read_only_fields = [*CustomerSerializer.Meta.read_only_fields, "external_ref"]


class DuplicateSerializer(serializers.Serializer):
    id = serializers.IntegerField(
        allow_null=True, help_text="The customer's id when you may open it; null for another rep's customer."
    )
    name = serializers.CharField()
    owner = serializers.CharField(help_text="The rep's username.")
    matched = serializers.ListField(child=serializers.ChoiceField(choices=["email", "phone"]))


class DuplicatesSerializer(serializers.Serializer):
    detail = serializers.CharField()
    duplicates = DuplicateSerializer(many=True)


class MergeSerializer(serializers.Serializer):
    into = IdField(
        queryset=Customer.objects.none(), help_text="The id of the customer that stays; this one is merged into it."
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated:
            into = cast(IdField, self.fields["into"])
            into.queryset = Customer.objects.owned_by(request.user)  # type: ignore[arg-type]  # the DRF stubs type queryset as a manager descriptor


class MergeResultSerializer(serializers.Serializer):
    customer = CustomerSerializer(help_text="The customer that stays, after the merge.")
    merged_id = serializers.IntegerField(help_text="The id of the customer merged into it (its page redirects).")
    moved = serializers.DictField(child=serializers.IntegerField(), help_text="Rows moved, by kind.")


DATE_HELP = f"From {inputs.EARLIEST_DATE} to {inputs.YEARS_AHEAD} years from today."


class PurchaseSerializer(serializers.ModelSerializer):
    product = serializers.SlugRelatedField(slug_field="sku", queryset=Product.objects.all())
    customer = IdField(queryset=Customer.objects.none())
    plan = IdField(queryset=CheckupPlan.objects.filter(active=True), required=False)
    currency = serializers.CharField(default="EUR", help_text="ISO 4217 code, e.g. EUR.")
    # Optional like the model's column and the import's empty cell: a sale without an amount is worth 0.
    amount = AmountField(
        max_digits=12,
        decimal_places=2,
        default=Decimal("0"),
        help_text=f"From 0 to {inputs.MAX_AMOUNT}; 0 when left out.",
    )
    checkups_scheduled = serializers.SerializerMethodField()

    class Meta:
        model = Purchase
        fields = [
            "id",
            "external_ref",
            "customer",
            "product",
            "plan",
            "ordered_at",
            "delivered_at",
            "amount",
            "currency",
            "renewal_date",
            "checkups_scheduled",
            "created_at",
        ]
        read_only_fields = ["id", "created_at", "checkups_scheduled"]
        # Uniqueness of external_ref is purchase_record's business: the same reference again is a retry.
        extra_kwargs = {
            "external_ref": {"validators": []},
            **{
                name: {"validators": [inputs.DateWindowValidator(name)], "help_text": DATE_HELP}
                for name in ("ordered_at", "delivered_at", "renewal_date")
            },
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated:
            # A rep may record sales only for their own customers; anyone else's id reads as "does not exist".
            # The model's FK is a related field; the stub's type for its ``queryset`` includes a manager,
            # which mypy takes for a descriptor and refuses to assign through.
            customer = cast("serializers.RelatedField[Customer, Any, Any]", self.fields["customer"])
            customer.queryset = Customer.objects.owned_by(request.user)  # type: ignore[arg-type]

    def get_checkups_scheduled(self, purchase: Purchase) -> int:
        # One query per purchase: lists are paged (50), and the count is what an ERP wants to see.
        return purchase.touchpoints.count()

    def validate_currency(self, value: str) -> str:
        return inputs.check_currency(value, label="currency")

    def validate(self, attrs: dict) -> dict:
        delivered, ordered = attrs.get("delivered_at"), attrs.get("ordered_at")
        if delivered and ordered and delivered < ordered:
            raise serializers.ValidationError({"delivered_at": "Delivery cannot be before the order."})
        return attrs


class TouchPointSerializer(serializers.ModelSerializer):
    assignee = serializers.CharField(source="assignee.username", read_only=True)

    class Meta:
        model = TouchPoint
        fields = [
            "id",
            "customer",
            "purchase",
            "assignee",
            "kind",
            "channel",
            "objective",
            "due_at",
            "status",
            "completed_at",
            "outcome",
            "temperature",
            "notes",
            "next_step",
            "problem_reported",
        ]
        read_only_fields = fields


class SurveyAnswerSerializer(serializers.ModelSerializer):
    class Meta:
        model = SurveyResponse
        fields = ["id", "customer", "nps", "csat", "would_buy_again", "comment", "problem_reported", "submitted_at"]
        read_only_fields = fields


class RiskFlagSerializer(serializers.ModelSerializer):
    resolved_by: serializers.SlugRelatedField[Actor] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, help_text="Who resolved the flag (username); null while it is open."
    )

    class Meta:
        model = RiskFlag
        fields = [
            "id",
            "customer",
            "reason",
            "detail",
            "raised_at",
            "resolved_at",
            "resolved_by",
            "resolution",
            "snoozed_until",
        ]
        read_only_fields = fields


class RiskFlagResolveSerializer(serializers.Serializer):
    """The body of ``POST /api/flags/{id}/resolve/``."""

    resolution = serializers.CharField(
        max_length=RESOLUTION_MAX_LENGTH,
        help_text="How it was settled, in a few words; shown on the customer's timeline.",
    )


class WebhookSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEvent.choices), allow_empty=False)

    class Meta:
        model = Webhook
        fields = ["id", "url", "events", "description", "active", "secret", "created_at"]
        read_only_fields = ["id", "secret", "created_at", "active"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "delivery_id",
            "event",
            "status",
            "attempts",
            "last_status",
            "last_error",
            "send_after",
            "delivered_at",
            "failed_at",
            "created_at",
            "payload",
        ]
        read_only_fields = fields
