"""When a survey goes out: the three rules, configured globally and per product.

Global configuration is ``settings.AFTERSALES`` (the numbers of DESIGN.md, from
the environment) plus one global ``Survey`` row per trigger (``product`` empty),
which is the questionnaire the invitations point at. A product overrides a
trigger with a ``Survey`` row of its own:

* ``delay_days`` set: the product's own delay (after a check-up, in days;
  after delivery, the N days); empty: the global default;
* ``active`` unticked: that trigger is off for the product, even if the
  global survey is on.

The global row is created on first use, so a fresh install sends surveys
without any setup; to switch a trigger off everywhere, untick ``active`` on the
global row (deleting it would only bring it back) or set its setting to 0.

A relationship survey is about the customer, not one purchase: only the
global rule applies to it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction

from feedback.models import Survey, Trigger

DEFAULT_NAMES = {
    Trigger.AFTER_CHECKUP: "After a check-up",
    Trigger.AFTER_DELIVERY: "After delivery",
    Trigger.RELATIONSHIP: "Relationship (periodic)",
}


@dataclass(frozen=True)
class Rule:
    """One trigger's survey and how long after the trigger it goes out."""

    survey: Survey
    delay: dt.timedelta


def global_delay(trigger: str) -> dt.timedelta:
    """The settings default; zero means "off" for the delivery and relationship rules."""
    config = settings.AFTERSALES
    if trigger == Trigger.AFTER_CHECKUP:
        return dt.timedelta(hours=config["SURVEY_DELAY_HOURS"])
    if trigger == Trigger.AFTER_DELIVERY:
        return dt.timedelta(days=config["SURVEY_AFTER_DELIVERY_DAYS"])
    return dt.timedelta(days=config["SURVEY_RELATIONSHIP_DAYS"])


def _switched_off(trigger: str, delay: dt.timedelta) -> bool:
    # "0 days after delivery" or "every 0 days" means nothing sensible: off.
    # 0 hours after a check-up is a real choice (send at the next sweep).
    return trigger != Trigger.AFTER_CHECKUP and delay <= dt.timedelta(0)


def global_survey(trigger: str) -> Survey:
    """The global survey of a trigger, created with the defaults the first time it is needed."""
    survey = Survey.objects.filter(trigger=trigger, product__isnull=True).order_by("pk").first()
    if survey is not None:
        return survey
    try:
        with transaction.atomic():
            return Survey.objects.create(name=DEFAULT_NAMES[Trigger(trigger)], trigger=trigger)
    except IntegrityError:  # pragma: no cover - only a constraint added later could refuse it
        survey = Survey.objects.filter(trigger=trigger, product__isnull=True).order_by("pk").first()
        if survey is None:
            raise
        return survey


def _rule(survey: Survey) -> Rule | None:
    if not survey.active:
        return None
    trigger = survey.trigger
    delay = dt.timedelta(days=survey.delay_days) if survey.delay_days is not None else global_delay(trigger)
    return None if _switched_off(trigger, delay) else Rule(survey=survey, delay=delay)


def rule_for(trigger: str, product_id: int | None = None) -> Rule | None:
    """The rule of ``trigger`` for a product (its own survey first, then the global one); None when off."""
    if product_id is not None and trigger != Trigger.RELATIONSHIP:
        own = Survey.objects.filter(trigger=trigger, product_id=product_id).order_by("pk").first()
        if own is not None:
            return _rule(own)
    return _rule(global_survey(trigger))


def product_rules(trigger: str) -> tuple[dict[int, Rule | None], Rule | None]:
    """Every product override of ``trigger`` (None: switched off for that product) and the global rule.

    A sweep runs one query per distinct rule instead of resolving a rule per row.
    """
    overrides: dict[int, Rule | None] = {}
    for survey in Survey.objects.filter(trigger=trigger, product__isnull=False).order_by("product_id", "pk"):
        assert survey.product_id is not None  # (the filter above)
        overrides.setdefault(survey.product_id, _rule(survey))
    return overrides, _rule(global_survey(trigger))
