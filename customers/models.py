"""Customers, what they bought, and the flags raised when one slips away."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from datetime import timedelta
from typing import TYPE_CHECKING, Self

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import OuterRef, Q
from django.db.models.functions import Upper
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Models of this app kept in their own module; imported here so Django registers them with the rest.
from customers.health_models import HealthSnapshot, HealthWeights  # noqa: F401

if TYPE_CHECKING:
    from aftersales.core.roles import Visitor


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(value)s is not a known time zone (e.g. Europe/Madrid)."), params={"value": value})


class Language(models.TextChoices):
    EN = "en", "English"
    ES = "es", "Español"
    RU = "ru", "Русский"


class HealthBand(models.TextChoices):
    RED = "red", _("Red")
    YELLOW = "yellow", _("Yellow")
    GREEN = "green", _("Green")


# Bands of DESIGN.md: red 0–50, yellow 51–75, green 76–100 (inclusive).
HEALTH_BAND_RANGES = {HealthBand.RED: (0, 50), HealthBand.YELLOW: (51, 75), HealthBand.GREEN: (76, 100)}


def health_band_for(score: int | None) -> str | None:
    if score is None:
        return None
    for band, (low, high) in HEALTH_BAND_RANGES.items():
        if low <= score <= high:
            return band
    return None


class Product(models.Model):
    name = models.CharField(max_length=200)
    sku = models.CharField("SKU", max_length=64, unique=True)
    description = models.TextField(blank=True)
    default_plan = models.ForeignKey(
        "touchpoints.CheckupPlan",
        # Deleting a plan must not delete the catalogue; products fall back to no plan.
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="products",
    )
    quiet_threshold_days = models.PositiveSmallIntegerField(
        default=45,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text=_("A customer is 'quiet' after this many days without two-way contact."),
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(quiet_threshold_days__gte=1), name="product_quiet_threshold_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class CustomerQuerySet(models.QuerySet["Customer"]):
    def owned_by(self, user: Visitor) -> Self:
        """Row scoping of every rep-facing page: managers see all, reps their own; merged customers nobody."""
        from aftersales.core.roles import is_manager

        if is_manager(user):
            return self.not_merged()
        return self.not_merged().filter(owner_id=user.pk)

    def not_merged(self) -> Self:
        """Customers in their own right: one merged into another lives on only as a pointer to it."""
        return self.filter(merged_into__isnull=True)

    def at_risk(self, at: dt.datetime | None = None) -> Self:
        """*At risk*, defined once: an open flag that is not snoozed (the at-risk list, My day, every card)."""
        return self.filter(
            models.Exists(RiskFlag.objects.visible(at or timezone.now()).filter(customer=OuterRef("pk")))
        )

    def erased(self) -> Self:
        return self.filter(erased_at__isnull=False)

    def not_erased(self) -> Self:
        """Customers whose data is still theirs: an erased one's signed links open nothing."""
        return self.filter(erased_at__isnull=True)

    def quiet(self, at: dt.datetime | None = None) -> Self:
        return self.filter(quiet_after__lte=at or timezone.now())

    def in_band(self, band: str) -> Self:
        low, high = HEALTH_BAND_RANGES[HealthBand(band)]
        return self.filter(health_score__gte=low, health_score__lte=high)

    def mark_health_due(self) -> int:
        """Ask the health sweep to recompute these customers: call it from every write that changes a signal.

        Always the current time, never "only if not due yet": the sweep writes
        its result only if ``health_due_at`` is still the value it read, so a
        change made while it computed keeps the customer due (aftersales/risk/health.py).
        """
        return self.update(health_due_at=timezone.now())


# Customer has a field called ``timezone``, which hides the module inside its class body.
_now = timezone.now


def quiet_after(moment: dt.datetime, threshold_days: int | None) -> dt.datetime:
    """When a customer last heard from at ``moment`` goes quiet.

    ``threshold_days`` is the shortest quiet threshold of the products they
    bought (``Customer.quiet_after_from``), None when they bought none: then
    the default (DESIGN.md: 45 days, ``QUIET_AFTER_DAYS``).
    """
    return moment + timedelta(days=threshold_days or settings.AFTERSALES["QUIET_AFTER_DAYS"])


class Customer(models.Model):
    name = models.CharField(max_length=200)
    company = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        # A rep who leaves must hand over their customers first: never orphan them.
        on_delete=models.PROTECT,
        related_name="customers",
        db_index=False,  # customer_owner_name_idx below starts with it
    )
    language = models.CharField(max_length=8, choices=Language.choices, default=Language.EN)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    email_opt_out = models.BooleanField(default=False)
    email_opt_out_at = models.DateTimeField(null=True, blank=True)
    last_contact_at = models.DateTimeField(
        null=True, blank=True, help_text=_("Last two-way contact (a reached call, a meeting, an answered survey).")
    )
    quiet_after = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("When the customer counts as gone quiet; moved forward by every two-way contact."),
    )
    health_score = models.PositiveSmallIntegerField(null=True, blank=True)
    health_explanation = models.JSONField(default=list, blank=True)
    health_updated_at = models.DateTimeField(null=True, blank=True)
    # When the health score must be recomputed: now, set by the writes that
    # change a signal (Customer.objects.mark_health_due), or the next moment a
    # signal moves with time alone (quiet date near, a check-up falls due).
    health_due_at = models.DateTimeField(null=True, blank=True, default=_now)
    external_ref = models.CharField(max_length=100, unique=True, null=True, blank=True)
    # When the customer's personal data was erased (aftersales/gdpr/services.py); the row stays, anonymised.
    erased_at = models.DateTimeField(null=True, blank=True)
    # A duplicate merged into another customer (aftersales/customer_pages/merge.py): its history moved
    # there, its page redirects there, and it is in no list or search; the row stays for the audit trail.
    merged_into = models.ForeignKey(
        "self",
        # It holds nothing of its own any more: it goes with the customer it became part of.
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="merged_from",
        db_index=False,  # customer_merged_into_idx below
    )
    merged_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CustomerQuerySet.as_manager()

    # Not columns: what the at-risk list and its CSV (aftersales/risk) attach to the rows they show
    # (the first three by prefetch or annotation in aftersales/risk/selectors.py, the others in its view).
    risk_flags: list[RiskFlag]
    risk_purchases: list[Purchase]
    next_touch_at: dt.datetime | None
    days_silent: int | None
    product_names: list[str]

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(health_score__isnull=True) | Q(health_score__gte=0, health_score__lte=100),
                name="customer_health_score_0_100",
            ),
            models.CheckConstraint(condition=~Q(external_ref=""), name="customer_external_ref_not_blank"),
            models.CheckConstraint(condition=~Q(merged_into=models.F("pk")), name="customer_not_merged_into_itself"),
        ]
        indexes = [
            # Customer list and My day: a rep's customers by name.
            models.Index(fields=["owner", "name"], name="customer_owner_name_idx"),
            # Gone-quiet sweep (issue: background jobs): customers whose quiet_after has passed.
            models.Index(
                fields=["quiet_after"], name="customer_quiet_sweep_idx", condition=Q(quiet_after__isnull=False)
            ),
            # Health sweep (aftersales/risk/health.py): customers whose score must be recomputed.
            models.Index(
                fields=["health_due_at"], name="customer_health_due_idx", condition=Q(health_due_at__isnull=False)
            ),
            # At-risk dashboard: customers by health score, per owner.
            models.Index(fields=["health_score", "owner"], name="customer_health_idx"),
            # Search by email (customer list, import matching).
            models.Index(fields=["email"], name="customer_email_idx"),
            # Duplicate check on create (customers.selectors.customer_duplicates): email__iexact is UPPER(email) = …
            models.Index(Upper("email"), name="customer_email_upper_idx", condition=~Q(email="")),
            # … and the E.164 phone.
            models.Index(fields=["phone"], name="customer_phone_idx", condition=~Q(phone="")),
            # Customers merged into this one: the merge keeps chains flat, erasure clears their references.
            models.Index(
                fields=["merged_into"], name="customer_merged_into_idx", condition=Q(merged_into__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.company})" if self.company else self.name

    def get_absolute_url(self) -> str:
        return reverse("customers:detail", args=[self.pk])

    @property
    def health_band(self) -> str | None:
        return health_band_for(self.health_score)

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def quiet_after_from(self, moment: dt.datetime) -> dt.datetime:
        """quiet_after for a two-way contact at ``moment``, from the shortest threshold of what they bought."""
        return quiet_after(moment, self.purchases.aggregate(days=models.Min("product__quiet_threshold_days"))["days"])


class Purchase(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="purchases")
    # A product with sales on record cannot be deleted; deactivate it instead.
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="purchases")
    plan = models.ForeignKey(
        "touchpoints.CheckupPlan",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="purchases",
        help_text=_("Check-up plan for this purchase; empty means the product's default plan."),
    )
    ordered_at = models.DateField()
    delivered_at = models.DateField(null=True, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="EUR")
    renewal_date = models.DateField(null=True, blank=True)
    external_ref = models.CharField(max_length=100, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-ordered_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="purchase_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(delivered_at__isnull=True) | Q(delivered_at__gte=models.F("ordered_at")),
                name="purchase_delivered_after_ordered",
            ),
            models.CheckConstraint(condition=~Q(external_ref=""), name="purchase_external_ref_not_blank"),
        ]
        indexes = [
            # Customer page: a customer's purchases, newest first.
            models.Index(fields=["customer", "-ordered_at"], name="purchase_customer_idx"),
            # Renewal sweep: renewals coming up, with no contact.
            models.Index(fields=["renewal_date"], name="purchase_renewal_idx", condition=Q(renewal_date__isnull=False)),
            # Dashboard breakdowns by product.
            models.Index(fields=["product", "ordered_at"], name="purchase_product_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.product} for {self.customer} ({self.ordered_at})"

    def get_absolute_url(self) -> str:
        return self.customer.get_absolute_url()

    @property
    def plan_start(self) -> dt.date:
        """Plan offsets count from delivery, or from the order when nothing was delivered yet."""
        return self.delivered_at or self.ordered_at


class FlagReason(models.TextChoices):
    GONE_QUIET = "gone_quiet", _("Gone quiet")
    OVERDUE_CHECKUPS = "overdue_checkups", _("Overdue check-ups")
    DETRACTOR = "detractor", _("Detractor")
    LOW_CSAT = "low_csat", _("Low CSAT")
    COLD_TEMPERATURE = "cold_temperature", _("Cold temperature")
    RENEWAL_NO_CONTACT = "renewal_no_contact", _("Renewal near, no contact")
    PROBLEM_REPORTED = "problem_reported", _("Problem reported")


# The flags a low survey answer raises (feedback/services/loops.py), which its close-the-loop call settles.
LOOP_REASONS = (FlagReason.DETRACTOR, FlagReason.LOW_CSAT, FlagReason.PROBLEM_REPORTED)


class RiskFlagQuerySet(models.QuerySet["RiskFlag"]):
    def open(self) -> Self:
        return self.filter(resolved_at__isnull=True)

    def resolved(self) -> Self:
        return self.filter(resolved_at__isnull=False)

    def with_time_open(self) -> Self:
        """``time_open`` on every row: raised → resolved (None while open), for averages and percentiles in SQL."""
        return self.annotate(
            time_open=models.ExpressionWrapper(
                models.F("resolved_at") - models.F("raised_at"), output_field=models.DurationField()
            )
        )

    def visible(self, at: dt.datetime | None = None) -> Self:
        """Open and not snoozed."""
        moment = at or timezone.now()
        return self.open().filter(Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=moment))


class RiskFlag(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="flags")
    reason = models.CharField(max_length=32, choices=FlagReason.choices)
    detail = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    raised_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolution = models.CharField(max_length=500, blank=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    owner_notified_at = models.DateTimeField(null=True, blank=True)

    objects = RiskFlagQuerySet.as_manager()

    class Meta:
        ordering = ["-raised_at"]
        constraints = [
            # At most one open flag per customer and reason: sweeps that run
            # twice (or at once) cannot flag a customer twice.
            models.UniqueConstraint(
                fields=["customer", "reason"],
                condition=Q(resolved_at__isnull=True),
                name="riskflag_one_open_per_reason",
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=models.F("raised_at")),
                name="riskflag_resolved_after_raised",
            ),
        ]
        indexes = [
            # At-risk dashboard and My day: open flags by reason, newest first.
            models.Index(
                fields=["reason", "-raised_at"], name="riskflag_open_idx", condition=Q(resolved_at__isnull=True)
            ),
            # Owner notification pass of the sweeps (aftersales/risk/sweeps.py): open flags nobody was told about.
            models.Index(
                fields=["reason", "id"],
                name="riskflag_notify_idx",
                condition=Q(resolved_at__isnull=True, owner_notified_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()}: {self.customer}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    # Not a column: the reason's label, resolved once per page by the at-risk list (aftersales/risk/views.py).
    label: str

    @property
    def open_for(self) -> timedelta | None:
        """How long the flag was open, raised → resolved; None while it is open."""
        return None if self.resolved_at is None else self.resolved_at - self.raised_at
