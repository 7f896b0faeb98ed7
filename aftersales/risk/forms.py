"""Forms of the at-risk pages: the list's filters, bulk reassign, snooze, resolve, and the health weights."""

from __future__ import annotations

import datetime as dt
from typing import cast

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from aftersales.core.roles import MANAGERS, REPS
from aftersales.customer_pages.selectors import sort_choices
from aftersales.risk.scorecards import DEFAULT_PERIOD, PERIODS
from aftersales.risk.selectors import RISK_DEFAULT_SORT, RiskFilters
from customers.models import FlagReason, HealthBand, Language
from customers.services import RESOLUTION_MAX_LENGTH, SNOOZE_MAX_DAYS, WEIGHT_RANGE

SELECT = forms.Select(attrs={"class": "form-select"})


def rep_choices() -> list[tuple[int, str]]:
    """Active reps by name (one query): the owners a customer can be given to, and the rep filter."""
    reps = get_user_model().objects.filter(groups__name=REPS, is_active=True).order_by("first_name", "last_name", "pk")
    return [(user.pk, user.get_full_name() or user.get_username()) for user in reps]


def scorecard_rep_choices() -> list[tuple[int, str]]:
    """Active reps and managers by name (one query): whose scorecard a manager may pick."""
    people = (
        get_user_model()
        .objects.filter(groups__name__in=[REPS, MANAGERS], is_active=True)
        .distinct()
        .order_by("first_name", "last_name", "pk")
    )
    return [(user.pk, user.get_full_name() or user.get_username()) for user in people]


class ScorecardForm(forms.Form):
    """The scorecard's query string: the period, and for managers another rep. Bad values are dropped."""

    period = forms.ChoiceField(required=False, choices=list(PERIODS.items()), label=_("Period"), widget=SELECT)
    rep = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label=_("Rep"), widget=SELECT)

    def __init__(self, *args, reps: list | None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if reps is None:  # a rep sees only their own scorecard: no picker
            del self.fields["rep"]
        else:
            cast(forms.ChoiceField, self.fields["rep"]).choices = reps

    def chosen_period(self) -> str:
        self.is_valid()
        return self.cleaned_data.get("period") or DEFAULT_PERIOD

    def picked_rep(self) -> int | None:
        self.is_valid()
        return self.cleaned_data.get("rep")


class RiskFilterForm(forms.Form):
    """The at-risk list's query string; invalid values are dropped (links get edited by hand)."""

    rep = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Rep", widget=SELECT)
    product = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Bought", widget=SELECT)
    reason = forms.ChoiceField(
        required=False, choices=[("", "Any reason"), *FlagReason.choices], label="Reason", widget=SELECT
    )
    band = forms.ChoiceField(
        required=False, choices=[("", "Any health"), *HealthBand.choices], label="Health", widget=SELECT
    )
    language = forms.ChoiceField(
        required=False, choices=[("", "Any language"), *Language.choices], label="Language", widget=SELECT
    )
    # The default (worst health first) leads, so the select shows it when no sort is asked for.
    sort = forms.ChoiceField(
        required=False,
        choices=sorted(sort_choices(), key=lambda choice: choice[0] != RISK_DEFAULT_SORT),
        label="Sort by",
        widget=SELECT,
    )

    def __init__(self, *args, reps: list | None, products: list, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["product"]).choices = [("", "Any product"), *products]
        if reps is None:  # a rep sees their own customers: no rep filter
            del self.fields["rep"]
        else:
            cast(forms.ChoiceField, self.fields["rep"]).choices = [("", "Every rep"), *reps]

    def filters(self) -> RiskFilters:
        self.is_valid()
        data = self.cleaned_data  # only the fields that validated
        return RiskFilters(
            rep_id=data.get("rep"),
            product_id=data.get("product"),
            reason=data.get("reason") or "",
            band=data.get("band") or "",
            language=data.get("language") or "",
            sort=data.get("sort") or RISK_DEFAULT_SORT,
        )


class ReassignForm(forms.Form):
    """The rep to give the ticked customers to; the ids come as ``customer`` values (see ``selected_ids``)."""

    to_rep = forms.TypedChoiceField(coerce=int, label="Give to", widget=SELECT)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["to_rep"]).choices = [("", "Pick a rep"), *rep_choices()]


def selected_ids(values: list[str], *, limit: int = 1000) -> list[int]:
    """The ticked customer ids, as integers; anything else is dropped (the service scopes and locks them)."""
    return sorted({int(value) for value in values if value.isdigit()})[:limit]


class SnoozeForm(forms.Form):
    until = forms.DateField(
        label="Snooze until", widget=forms.DateInput(attrs={"type": "date", "class": "form-control"})
    )
    reason = forms.CharField(
        max_length=500, label="Why it can wait", widget=forms.TextInput(attrs={"class": "form-control"})
    )

    def until_moment(self) -> dt.datetime:
        """The start of the chosen day in the server's time zone: the flag is back that morning."""
        day = self.cleaned_data["until"]
        return timezone.make_aware(dt.datetime.combine(day, dt.time.min))

    def clean_until(self) -> dt.date:
        day = self.cleaned_data["until"]
        today = timezone.localdate()
        if day <= today:
            raise forms.ValidationError("Pick a day after today.")
        if day > today + dt.timedelta(days=SNOOZE_MAX_DAYS):
            raise forms.ValidationError(f"At most {SNOOZE_MAX_DAYS} days ahead; resolve the flag if it is over.")
        return day


class ResolveForm(forms.Form):
    """The note a resolved flag keeps; empty or too long is refused by ``riskflag_resolve``, with its message."""

    resolution = forms.CharField(
        required=False,
        label=_("How was it settled?"),
        help_text=_("A short note for the timeline, e.g. “Called back; replacement part sent.”"),
        widget=forms.TextInput(attrs={"class": "form-control", "maxlength": RESOLUTION_MAX_LENGTH}),
    )


class HealthWeightsForm(forms.Form):
    """One integer per weight of settings.AFTERSALES["HEALTH_WEIGHTS"], initially the current values."""

    def __init__(self, *args, current: dict[str, int], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        low, high = WEIGHT_RANGE
        for key, default in settings.AFTERSALES["HEALTH_WEIGHTS"].items():
            self.fields[key] = forms.IntegerField(
                min_value=low,
                max_value=high,
                initial=current.get(key, default),
                label=key.replace("_", " ").capitalize(),
                help_text=f"Default {default}",
                widget=forms.NumberInput(attrs={"class": "form-control"}),
            )
