"""API endpoints. Every queryset starts from the same ``owned_by`` scoping as the web pages.

Another rep's object is simply not in the queryset: it answers 404, and
naming it in a write ("customer": 17) fails validation as if it did not exist.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from aftersales.models import Webhook
from aftersales.roles import is_manager
from aftersales.webhooks import webhook_register
from customers.models import HEALTH_BAND_RANGES, Customer, FlagReason, Purchase, RiskFlag
from customers.services import customer_create, purchase_record
from feedback.models import SurveyResponse
from touchpoints.models import Status, TouchPoint

from . import filters
from .idempotency import HEADER, idempotent
from .permissions import IsManager
from .serializers import (
    CustomerSerializer,
    PurchaseSerializer,
    RiskFlagSerializer,
    SurveyAnswerSerializer,
    TouchPointSerializer,
    WebhookDeliverySerializer,
    WebhookSerializer,
)

CUSTOMER_PARAM = OpenApiParameter("customer", OpenApiTypes.INT, description="Only this customer's rows.")


def _scoped(view, model):
    """The model's queryset for this user; empty while drf-spectacular builds the schema (no user then)."""
    if getattr(view, "swagger_fake_view", False):
        return model.objects.none()
    return None


def _field_errors(exc: DjangoValidationError) -> ValidationError:
    """A service's ValidationError as the API's 400: field → messages, whatever shape it was raised in."""
    if hasattr(exc, "error_dict"):
        return ValidationError(exc.message_dict)
    return ValidationError({"non_field_errors": exc.messages})


def _customer_filter(request, queryset, field: str = "customer_id"):
    customer = filters.int_param(request, "customer")
    return queryset if customer is None else queryset.filter(**{field: customer})


@extend_schema(
    parameters=[
        OpenApiParameter("q", OpenApiTypes.STR, description="Name, company, email or external reference contains."),
        OpenApiParameter("external_ref", OpenApiTypes.STR, description="Exact external reference."),
        OpenApiParameter("band", OpenApiTypes.STR, enum=[str(band) for band in HEALTH_BAND_RANGES]),
    ]
)
class CustomerViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """POST creates a customer (idempotent by external_ref, 200 when it is already on file)."""

    serializer_class = CustomerSerializer
    lookup_value_regex = filters.ID_REGEX

    def get_queryset(self):
        if (fake := _scoped(self, Customer)) is not None:
            return fake
        queryset = Customer.objects.owned_by(self.request.user).select_related("owner").order_by("name", "pk")
        request = self.request
        if query := filters.text_param(request, "q"):
            queryset = queryset.filter(
                Q(name__icontains=query)
                | Q(company__icontains=query)
                | Q(email__icontains=query)
                | Q(external_ref__icontains=query)
            )
        if external_ref := filters.text_param(request, "external_ref"):
            queryset = queryset.filter(external_ref=external_ref)
        if band := filters.choice_param(request, "band", [str(band) for band in HEALTH_BAND_RANGES]):
            queryset = queryset.in_band(band)
        return queryset

    def create(self, request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        owner = data.pop("owner", None)
        if not is_manager(request.user) or owner is None:
            owner = request.user  # a rep's customers are their own, whatever the body says
        try:
            customer, created = customer_create(owner=owner, by=request.user, **data)
        except DjangoValidationError as exc:
            raise _field_errors(exc) from None
        if not created and not self.get_queryset().filter(pk=customer.pk).exists():
            raise ValidationError({"external_ref": ["This reference is already used by another rep's customer."]})
        body = self.get_serializer(customer).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


@extend_schema(
    parameters=[
        CUSTOMER_PARAM,
        OpenApiParameter(HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, description="Replay-safe POST."),
    ]
)
class PurchaseViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """A shop or ERP records each sale with POST; its check-ups are scheduled as from the form."""

    serializer_class = PurchaseSerializer
    lookup_value_regex = filters.ID_REGEX

    def get_queryset(self):
        if (fake := _scoped(self, Purchase)) is not None:
            return fake
        queryset = Purchase.objects.filter(customer__in=Customer.objects.owned_by(self.request.user))
        queryset = queryset.select_related("product", "customer").order_by("-ordered_at", "-pk")
        return _customer_filter(self.request, queryset)

    def create(self, request, *args, **kwargs) -> Response:
        return idempotent(request, lambda: self._record(request))

    def _record(self, request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            purchase, created = purchase_record(recorded_by=request.user, **serializer.validated_data)
        except DjangoValidationError as exc:
            raise _field_errors(exc) from None
        body = self.get_serializer(purchase).data
        # 200 for a sale already recorded under this external_ref: nothing was scheduled twice.
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


@extend_schema(
    parameters=[
        CUSTOMER_PARAM,
        OpenApiParameter("status", OpenApiTypes.STR, enum=Status.values),
        OpenApiParameter("due_before", OpenApiTypes.DATE),
        OpenApiParameter("due_after", OpenApiTypes.DATE),
    ]
)
class TouchPointViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = TouchPointSerializer
    lookup_value_regex = filters.ID_REGEX

    def get_queryset(self):
        if (fake := _scoped(self, TouchPoint)) is not None:
            return fake
        request = self.request
        queryset = TouchPoint.objects.owned_by(request.user).select_related("assignee").order_by("due_at", "pk")
        queryset = _customer_filter(request, queryset)
        if value := filters.choice_param(request, "status", Status.values):
            queryset = queryset.filter(status=value)
        if day := filters.date_param(request, "due_before"):
            queryset = queryset.filter(due_at__date__lt=day)
        if day := filters.date_param(request, "due_after"):
            queryset = queryset.filter(due_at__date__gte=day)
        return queryset


@extend_schema(parameters=[CUSTOMER_PARAM, OpenApiParameter("detractor", OpenApiTypes.BOOL)])
class SurveyAnswerViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = SurveyAnswerSerializer
    lookup_value_regex = filters.ID_REGEX

    def get_queryset(self):
        if (fake := _scoped(self, SurveyResponse)) is not None:
            return fake
        request = self.request
        queryset = SurveyResponse.objects.filter(customer__in=Customer.objects.owned_by(request.user))
        queryset = _customer_filter(request, queryset.order_by("-submitted_at", "-pk"))
        detractor = filters.bool_param(request, "detractor")
        if detractor is True:
            queryset = queryset.detractors()
        elif detractor is False:
            queryset = queryset.exclude(pk__in=SurveyResponse.objects.detractors().values("pk"))
        return queryset


@extend_schema(
    parameters=[
        CUSTOMER_PARAM,
        OpenApiParameter("open", OpenApiTypes.BOOL),
        OpenApiParameter("reason", OpenApiTypes.STR, enum=FlagReason.values),
    ]
)
class RiskFlagViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = RiskFlagSerializer
    lookup_value_regex = filters.ID_REGEX

    def get_queryset(self):
        if (fake := _scoped(self, RiskFlag)) is not None:
            return fake
        request = self.request
        queryset = RiskFlag.objects.filter(customer__in=Customer.objects.owned_by(request.user))
        queryset = _customer_filter(request, queryset.order_by("-raised_at", "-pk"))
        is_open = filters.bool_param(request, "open")
        if is_open is not None:
            queryset = queryset.filter(resolved_at__isnull=is_open)
        if reason := filters.choice_param(request, "reason", FlagReason.values):
            queryset = queryset.filter(reason=reason)
        return queryset


class WebhookViewSet(mixins.CreateModelMixin, mixins.DestroyModelMixin, viewsets.ReadOnlyModelViewSet):
    """Managers register endpoints and read their delivery log; the secret is shown to them for verifying."""

    serializer_class = WebhookSerializer
    lookup_value_regex = filters.ID_REGEX
    permission_classes = [IsAuthenticated, IsManager]
    queryset = Webhook.objects.order_by("pk")

    def perform_create(self, serializer) -> None:
        data = serializer.validated_data
        try:
            serializer.instance = webhook_register(
                url=data["url"], events=data["events"], description=data.get("description", ""), by=self.request.user
            )
        except DjangoValidationError as exc:
            raise _field_errors(exc) from None

    @extend_schema(responses=WebhookDeliverySerializer(many=True))
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None, format=None) -> Response:  # format: the .json suffix route
        webhook = get_object_or_404(Webhook, pk=pk)
        page = self.paginate_queryset(webhook.deliveries.order_by("-created_at", "-pk"))
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)
