"""The demo catalogue: products, their check-up plans and the surveys.

Created idempotently by natural key (SKU, plan name, survey name) so that
running seed_demo again reuses them instead of adding copies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from customers.models import Product
from feedback.models import Survey, Trigger
from touchpoints.models import Channel, CheckupPlan, PlanStep

CALL, EMAIL, MEETING, VISIT = Channel.CALL, Channel.EMAIL, Channel.MEETING, Channel.VISIT


@dataclass(frozen=True)
class StepSpec:
    offset_days: int
    channel: str
    objective: str
    survey_follows: bool = False


@dataclass(frozen=True)
class PlanSpec:
    name: str
    description: str
    steps: tuple[StepSpec, ...]
    renewal_offsets_days: tuple[int, ...] = ()


@dataclass(frozen=True)
class ProductSpec:
    sku: str
    name: str
    description: str
    kind: str  # "subscription", "machine", "service" or "addon": drives delivery delay and renewals
    price_eur: int
    quiet_threshold_days: int
    plan: PlanSpec
    weight: int  # relative share of purchases of main products; 0 for add-ons
    addon_sku: str = ""  # what a customer who owns this product typically buys next


SOFTWARE_ONBOARDING = PlanSpec(
    name="Software onboarding (annual subscription)",
    description="First quarter of a new subscription: everyone can log in, the team uses it, it pays off.",
    renewal_offsets_days=(60, 14),
    steps=(
        StepSpec(3, CALL, "Confirm every user can log in and that your first real task was done in the product."),
        StepSpec(
            14,
            EMAIL,
            "Share three tips for the reports your team uses most and ask what is still done outside the tool.",
            survey_follows=True,
        ),
        StepSpec(45, MEETING, "Review adoption together: active users, automations, open tickets; agree on one fix."),
        StepSpec(90, CALL, "Quarterly check: is the subscription paying off? Set goals for the next quarter.", True),
    ),
)
ENTERPRISE_ROLLOUT = PlanSpec(
    name="Enterprise rollout",
    description="Staged rollout across departments with an executive review at three months.",
    renewal_offsets_days=(60, 14),
    steps=(
        StepSpec(3, MEETING, "Kick-off: confirm the rollout calendar, the admins and the single sign-on setup."),
        StepSpec(14, CALL, "Check the first department is live and that data import errors are resolved.", True),
        StepSpec(30, EMAIL, "Send the adoption report per department and the training dates for the next wave."),
        StepSpec(90, MEETING, "Executive review: usage against the goals agreed at kick-off, next year's plan.", True),
    ),
)
ESPRESSO_CARE = PlanSpec(
    name="Commercial espresso machine care",
    description="Installation check, staff training follow-up and the first preventive maintenance.",
    steps=(
        StepSpec(3, CALL, "Check the installation: water pressure, grinder setting and that staff can descale."),
        StepSpec(30, VISIT, "On-site inspection: grinder calibration, group head seals and the water filter.", True),
        StepSpec(120, CALL, "Remind about the filter change and book the first preventive maintenance."),
    ),
)
CNC_CARE = PlanSpec(
    name="CNC router commissioning",
    description="From commissioning to a stable production rhythm, with the first service visit.",
    steps=(
        StepSpec(7, VISIT, "Commissioning visit: level the bed, calibrate the spindle and train two operators."),
        StepSpec(30, CALL, "Ask about spindle hours, scrap rate and any alarms since commissioning.", True),
        StepSpec(90, VISIT, "First service: lubrication, belt tension, backup of the machine parameters.", True),
        StepSpec(180, CALL, "Six-month review: throughput against the quote and the tooling you are short of."),
    ),
)
FORKLIFT_CARE = PlanSpec(
    name="Electric forklift care",
    description="Battery care and the safety inspection that keep the warranty valid.",
    steps=(
        StepSpec(3, CALL, "Confirm delivery, charger installation and that drivers had the safety briefing."),
        StepSpec(45, CALL, "Check battery charging habits and hours of use; answer questions on the warranty.", True),
        StepSpec(180, VISIT, "Six-month safety inspection: brakes, mast chains, battery cells, certificate issued."),
    ),
)
MANAGED_IT = PlanSpec(
    name="Managed IT support onboarding",
    description="From handover to a quiet helpdesk: inventory, monitoring, quarterly service review.",
    renewal_offsets_days=(60, 14),
    steps=(
        StepSpec(3, CALL, "Confirm the device inventory is complete and monitoring alerts reach the right people."),
        StepSpec(14, EMAIL, "Send the first helpdesk report: tickets, response times and recurring issues.", True),
        StepSpec(90, MEETING, "Quarterly service review: incidents, security patches, what to improve next.", True),
    ),
)
TRAINING = PlanSpec(
    name="Training follow-up",
    description="Make sure what was learnt in the workshop is used at work.",
    steps=(
        StepSpec(3, EMAIL, "Send the slides, the exercises and the certificate of attendance.", True),
        StepSpec(30, CALL, "Ask whether the team applies what they learnt and which topics need a refresher.", True),
    ),
)
NEW_SEATS = PlanSpec(
    name="New users check",
    description="Extra seats are only worth it when the new people actually use them.",
    steps=(StepSpec(7, EMAIL, "Check the new users are set up and invite them to the next onboarding webinar."),),
)
MAINTENANCE_KIT = PlanSpec(
    name="Maintenance kit follow-up",
    description="Consumables ordered: make sure they were fitted correctly.",
    steps=(StepSpec(14, CALL, "Check the kit arrived and that the filter and seals were changed without trouble."),),
)
TOOLING = PlanSpec(
    name="Tooling follow-up",
    description="New tooling: clean cuts and the right feeds and speeds from the first job.",
    steps=(StepSpec(10, CALL, "Ask whether the new tooling cuts cleanly and the feeds-and-speeds sheet helps."),),
)

PRODUCTS: tuple[ProductSpec, ...] = (
    ProductSpec(
        "LDG-BUS-12",
        "Ledgerly Cloud Business (12 months)",
        "Accounting software subscription for small teams, 10 seats.",
        "subscription",
        2400,
        45,
        SOFTWARE_ONBOARDING,
        30,
        "LDG-SEAT-5",
    ),
    ProductSpec(
        "LDG-ENT-12",
        "Ledgerly Cloud Enterprise (12 months)",
        "Accounting and planning suite with single sign-on and priority support.",
        "subscription",
        18000,
        30,
        ENTERPRISE_ROLLOUT,
        8,
        "LDG-SEAT-5",
    ),
    ProductSpec(
        "ESP-PRO-X2",
        "Espresso Pro X2 commercial machine",
        "Two-group espresso machine with integrated grinder for cafés and offices.",
        "machine",
        7800,
        60,
        ESPRESSO_CARE,
        18,
        "ESP-KIT",
    ),
    ProductSpec(
        "CNC-1325",
        "CNC router 1325",
        "Industrial CNC router, 1300 × 2500 mm bed, 6 kW spindle.",
        "machine",
        32000,
        60,
        CNC_CARE,
        7,
        "CNC-TOOL",
    ),
    ProductSpec(
        "FLT-EL25",
        "Electric forklift EL-25",
        "2.5 t electric forklift with lithium battery and fast charger.",
        "machine",
        24000,
        60,
        FORKLIFT_CARE,
        9,
    ),
    ProductSpec(
        "SRV-MIT-12",
        "Managed IT support (12 months)",
        "Helpdesk, monitoring and patching for up to 50 devices.",
        "subscription",
        9600,
        45,
        MANAGED_IT,
        16,
    ),
    ProductSpec(
        "SRV-TRN-1D",
        "On-site training workshop (1 day)",
        "A day of hands-on training for up to 12 people at the customer's site.",
        "service",
        1500,
        45,
        TRAINING,
        12,
    ),
    ProductSpec(
        "LDG-SEAT-5",
        "Ledgerly extra seats (5 users)",
        "Five more users on an existing Ledgerly subscription, co-terminous with it.",
        "addon",
        900,
        45,
        NEW_SEATS,
        0,
    ),
    ProductSpec(
        "ESP-KIT",
        "Espresso maintenance kit",
        "Water filter, group head seals and descaler for one year.",
        "addon",
        240,
        60,
        MAINTENANCE_KIT,
        0,
    ),
    ProductSpec(
        "CNC-TOOL",
        "CNC tooling set",
        "Twenty router bits and collets with a feeds-and-speeds sheet.",
        "addon",
        1800,
        60,
        TOOLING,
        0,
    ),
)

AFTER_CHECKUP_SURVEY = "After a check-up"
RELATIONSHIP_SURVEY = "Relationship pulse (every two months)"
RELATIONSHIP_EVERY_DAYS = 61


@dataclass
class Catalogue:
    """Database ids of the catalogue, in the order of PRODUCTS."""

    product_ids: list[int] = field(default_factory=list)
    plan_step_ids: list[list[int]] = field(default_factory=list)  # per product, in step order
    quiet_threshold_days: list[int] = field(default_factory=list)  # per product, as stored (may be edited)
    after_checkup_survey_id: int = 0
    relationship_survey_id: int = 0
    relationship_every_days: int = RELATIONSHIP_EVERY_DAYS


def _ensure_plan(spec: PlanSpec) -> CheckupPlan:
    plan, _ = CheckupPlan.objects.get_or_create(
        name=spec.name,
        defaults={"description": spec.description, "renewal_offsets_days": list(spec.renewal_offsets_days)},
    )
    for position, step in enumerate(spec.steps, start=1):
        PlanStep.objects.get_or_create(
            plan=plan,
            position=position,
            defaults={
                "offset_days": step.offset_days,
                "channel": step.channel,
                "objective": step.objective,
                "survey_follows": step.survey_follows,
            },
        )
    return plan


def ensure_catalogue() -> Catalogue:
    """Create (or find) the demo products, plans and surveys; return their ids."""
    catalogue = Catalogue()
    for spec in PRODUCTS:
        plan = _ensure_plan(spec.plan)
        product, _ = Product.objects.get_or_create(
            sku=spec.sku,
            defaults={
                "name": spec.name,
                "description": spec.description,
                "default_plan": plan,
                "quiet_threshold_days": spec.quiet_threshold_days,
            },
        )
        catalogue.product_ids.append(product.pk)
        catalogue.quiet_threshold_days.append(product.quiet_threshold_days)
        steps = PlanStep.objects.filter(plan=plan).order_by("position").values_list("pk", flat=True)
        catalogue.plan_step_ids.append(list(steps)[: len(spec.plan.steps)])
    catalogue.after_checkup_survey_id = Survey.objects.get_or_create(
        name=AFTER_CHECKUP_SURVEY, defaults={"trigger": Trigger.AFTER_CHECKUP}
    )[0].pk
    # For a relationship survey, delay_days is the time between two invitations.
    relationship, _ = Survey.objects.get_or_create(
        name=RELATIONSHIP_SURVEY,
        defaults={"trigger": Trigger.RELATIONSHIP, "delay_days": RELATIONSHIP_EVERY_DAYS, "asks_csat": False},
    )
    catalogue.relationship_survey_id = relationship.pk
    catalogue.relationship_every_days = relationship.delay_days or RELATIONSHIP_EVERY_DAYS
    return catalogue
