"""API endpoints. Every queryset starts from the same ``owned_by`` scoping as the web pages.

Another rep's object is simply not in the queryset: it answers 404, and
naming it in a write ("customer": 17) fails validation as if it did not exist.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, cast

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from aftersales.api import filters
from aftersales.api.idempotency import HEADER, idempotent
from aftersales.api.permissions import IsManager
from aftersales.api.serializers import (
    CustomerSerializer,
    CustomerUpdateSerializer,
    DuplicatesSerializer,
    MergeResultSerializer,
    MergeSerializer,
    PurchaseSerializer,
    RiskFlagResolveSerializer,
    RiskFlagSerializer,
    SurveyAnswerSerializer,
    TouchPointSerializer,
    WebhookDeliverySerializer,
    WebhookSerializer,
)
from aftersales.core.roles import Actor, is_manager
from aftersales.customer_pages.merge import customers_merge
from aftersales.webhooks.models import Webhook
from aftersales.webhooks.services import webhook_register
from customers.models import HEALTH_BAND_RANGES, Customer, FlagReason, Purchase, RiskFlag
from customers.phones import phone_or_none
from customers.selectors import customer_duplicates
from customers.services import customer_create, riskflag_resolve
from feedback.models import SurveyResponse
from touchpoints.models import Status, TouchPoint
from touchpoints.services import customer_edit, purchase_record

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


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, description="Name, company, email or external reference contains."),
            OpenApiParameter("external_ref", OpenApiTypes.STR, description="Exact external reference."),
            OpenApiParameter("band", OpenApiTypes.STR, enum=[str(band) for band in HEALTH_BAND_RANGES]),
        ]
    ),
    create=extend_schema(
        parameters=[
            OpenApiParameter(
                "force", OpenApiTypes.BOOL, description="Create even when the e-mail or phone is already on file."
            )
        ],
        responses={
            201: CustomerSerializer,
            200: OpenApiResponse(CustomerSerializer, description="The external_ref is already on file: that customer."),
            409: OpenApiResponse(
                DuplicatesSerializer, description="The e-mail or phone is already on file; repeat with ?force=true."
            ),
        },
    ),
    partial_update=extend_schema(request=CustomerUpdateSerializer, responses=CustomerSerializer),
)
class CustomerViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """POST creates a customer (idempotent by external_ref, 200 when it is already on file; 409 on a
    duplicate e-mail or phone unless ``?force=true``); PATCH changes one; managers merge one into another."""

    serializer_class = CustomerSerializer
    lookup_value_regex = filters.ID_REGEX
    http_method_names = ["get", "post", "patch", "head", "options"]

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
        force = filters.bool_param(request, "force")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        owner = data.pop("owner", None)
        if not is_manager(request.user) or owner is None:
            owner = request.user  # a rep's customers are their own, whatever the body says
        external_ref = (data.get("external_ref") or "").strip()
        known_ref = bool(external_ref) and Customer.objects.filter(external_ref=external_ref).exists()
        if not force and not known_ref:
            duplicates = _duplicates(request.user, email=data.get("email", ""), phone=data.get("phone", ""))
            if duplicates:
                detail = "A customer with this e-mail or phone is already on file; send ?force=true to add another."
                return Response({"detail": detail, "duplicates": duplicates}, status=status.HTTP_409_CONFLICT)
        try:
            customer, created = customer_create(owner=owner, by=request.user, **data)
        except DjangoValidationError as exc:
            raise _field_errors(exc) from None
        if not created and not self.get_queryset().filter(pk=customer.pk).exists():
            raise ValidationError({"external_ref": ["This reference is already used by another rep's customer."]})
        body = self.get_serializer(customer).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    def partial_update(self, request, *args, **kwargs) -> Response:
        """Another rep's id is a 404 (get_object is scoped); a rep naming another owner is a 403."""
        customer = self.get_object()
        serializer = CustomerUpdateSerializer(
            customer, data=request.data, partial=True, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        try:
            customer = customer_edit(customer=customer, by=request.user, **serializer.validated_data)
        except DjangoValidationError as exc:
            detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
            raise ValidationError(detail) from None
        return Response(CustomerSerializer(customer, context=self.get_serializer_context()).data)

    @extend_schema(request=MergeSerializer, responses=MergeResultSerializer)
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated, IsManager])
    def merge(self, request, pk=None) -> Response:
        """Managers: merge this customer into ``into`` (everything moves there; this one's id redirects)."""
        merged = self.get_object()
        serializer = MergeSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        try:
            moved = customers_merge(survivor=serializer.validated_data["into"], merged=merged, by=request.user)
        except DjangoValidationError as exc:
            raise ValidationError({"into": exc.messages}) from None
        survivor = Customer.objects.select_related("owner").get(pk=serializer.validated_data["into"].pk)
        body = {
            "customer": CustomerSerializer(survivor, context=self.get_serializer_context()).data,
            "merged_id": merged.pk,
            "moved": asdict(moved),
        }
        return Response(body)


def _duplicates(user: Actor, *, email: str, phone: str | None) -> list[dict[str, Any]]:
    """The 409's list: another rep's customer by name and rep only (its id would be a 404 for this token)."""
    found = list(customer_duplicates(email=email, phone=phone or ""))
    visible = set(Customer.objects.owned_by(user).filter(pk__in=[c.pk for c in found]).values_list("pk", flat=True))
    phone = phone_or_none(phone or "")
    return [
        {
            "id": customer.pk if customer.pk in visible else None,
            "name": customer.name,
            "owner": customer.owner.get_username(),
            "matched": [
                field
                for field, same in (
                    ("email", bool(email) and customer.email.lower() == email.strip().lower()),
                    ("phone", bool(phone) and customer.phone == phone),
                )
                if same
            ],
        }
        for customer in found
    ]


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
        queryset = queryset.select_related("resolved_by").order_by("-raised_at", "-pk")
        if self.action == "resolve":
            return queryset  # found by its id alone: the list's filters do not apply to a write
        queryset = _customer_filter(request, queryset)
        is_open = filters.bool_param(request, "open")
        if is_open is not None:
            queryset = queryset.filter(resolved_at__isnull=is_open)
        if reason := filters.choice_param(request, "reason", FlagReason.values):
            queryset = queryset.filter(reason=reason)
        return queryset

    @extend_schema(
        summary="Resolve a flag",
        description=(
            "Close an open flag with a short note of how it was settled, as the customer page does: the customer "
            "leaves the at-risk lists and their health is recomputed. A rep resolves flags of their own customers "
            "(another rep's flag is a 404 and nothing changes); a manager any. A flag already resolved is a 400."
        ),
        parameters=[OpenApiParameter(name, exclude=True) for name in ("customer", "open", "reason")],
        request=RiskFlagResolveSerializer,
        responses={
            200: RiskFlagSerializer,
            400: OpenApiResponse(
                response=OpenApiTypes.OBJECT,
                description='A missing, empty or too long note (`{"resolution": ["…"]}`), or a flag already '
                'resolved (`{"non_field_errors": ["…"]}`). Nothing is changed.',
                examples=[
                    OpenApiExample("Empty note", value={"resolution": ["This field may not be blank."]}),
                    OpenApiExample(
                        "Already resolved",
                        value={"non_field_errors": ["“Detractor” was already resolved by rep2; nothing was changed."]},
                    ),
                ],
            ),
            404: OpenApiResponse(description="No such flag among the token user's customers."),
        },
        examples=[
            OpenApiExample(
                "After the call-back",
                value={"resolution": "Called back: the technician fixed the leak, customer happy again."},
                request_only=True,
            ),
            OpenApiExample(
                "Resolved",
                value={
                    "id": 812,
                    "customer": 42,
                    "reason": "detractor",
                    "detail": "Survey 6 Mar 2026: NPS 3, problem reported",
                    "raised_at": "2026-03-06T14:00:05Z",
                    "resolved_at": "2026-03-09T09:40:12Z",
                    "resolved_by": "rep1",
                    "resolution": "Called back: the technician fixed the leak, customer happy again.",
                    "snoozed_until": None,
                },
                response_only=True,
                status_codes=["200"],
            ),
        ],
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None) -> Response:
        flag = self.get_object()
        body = RiskFlagResolveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            flag = riskflag_resolve(flag=flag, by=request.user, resolution=body.validated_data["resolution"])
        except DjangoValidationError as exc:
            detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
            raise ValidationError(detail) from None
        return Response(RiskFlagSerializer(flag).data)


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
                url=data["url"],
                events=data["events"],
                description=data.get("description", ""),
                by=cast(Actor, self.request.user),  # IsAuthenticated let the request in
            )
        except DjangoValidationError as exc:
            raise _field_errors(exc) from None

    @extend_schema(responses=WebhookDeliverySerializer(many=True))
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None, format=None) -> Response:  # format: the .json suffix route
        webhook = get_object_or_404(Webhook, pk=pk)
        page = self.paginate_queryset(webhook.deliveries.order_by("-created_at", "-pk"))
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)
