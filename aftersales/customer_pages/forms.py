"""Forms of the customer pages: a customer's details (new or edited) and picking the customer to merge into."""

from __future__ import annotations

import zoneinfo
from functools import cache
from typing import cast

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from aftersales.core.roles import MANAGERS, REPS
from customers.models import Customer, Language
from customers.phones import EXAMPLE, default_region, phone_display, phone_normalise


@cache
def timezone_choices() -> list[tuple[str, str]]:
    """Every IANA zone, by name (a select of ~600: the browser's type-ahead finds "Europe/Madrid")."""
    return [(name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())]


class LongSelect(forms.Select):
    """A select of hundreds of options (the time zones) rendered in one pass: Django's template per
    option costs ~18 ms for 600 of them, a third of the form's page."""

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            ((key, " selected" if str(key) == str(value) else "", label) for key, label in self.choices),
        )
        return format_html(
            '<select name="{}"{}>{}</select>', name, flatatt(self.build_attrs(self.attrs, attrs)), options
        )


class OwnerField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.get_full_name() or obj.get_username()


def owner_queryset():
    """Who may own customers: active reps and managers, by name."""
    return (
        get_user_model()
        .objects.filter(Q(groups__name=REPS) | Q(groups__name=MANAGERS), is_active=True)
        .distinct()
        .order_by("first_name", "last_name", "pk")
    )


class CustomerForm(forms.Form):
    """What a rep types about a customer; ``customer_create`` / ``customer_edit`` check it again and save it.

    ``owner`` is there for managers only. ``create_anyway`` is read on a new
    customer once a duplicate was shown (the page renders it inside that warning).
    """

    name = forms.CharField(label=_("Name"), max_length=200)
    company = forms.CharField(label=_("Company"), max_length=200, required=False)
    email = forms.EmailField(label=_("E-mail"), max_length=254, required=False)
    phone = forms.CharField(
        label=_("Phone"), max_length=40, required=False, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    language = forms.ChoiceField(
        label=_("Language"), choices=Language.choices, help_text=_("The customer's mail and pages are in it.")
    )
    timezone = forms.ChoiceField(
        label=_("Time zone"),
        help_text=_("Check-ups are scheduled at 10:00 in the customer's time zone."),
        widget=LongSelect,
    )
    owner = OwnerField(label=_("Rep"), queryset=get_user_model().objects.none(), empty_label=None)
    create_anyway = forms.BooleanField(label=_("Create anyway: this is a different customer"), required=False)

    def __init__(self, *args, manager: bool, creating: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["timezone"]).choices = timezone_choices()
        self.fields["phone"].widget.input_type = "tel"
        region = default_region()
        self.fields["phone"].help_text = (
            _("With + and the country code (%(example)s), or a number of %(region)s.")
            % {"example": EXAMPLE, "region": region}
            if region
            else _("With + and the country code, e.g. %(example)s.") % {"example": EXAMPLE}
        )
        if manager:
            cast(forms.ModelChoiceField, self.fields["owner"]).queryset = owner_queryset()
        else:
            del self.fields["owner"]  # a rep's new customers are their own; only managers hand customers over
        if not creating:
            del self.fields["create_anyway"]

    @classmethod
    def initial_for(cls, customer: Customer) -> dict:
        return {
            "name": customer.name,
            "company": customer.company,
            "email": customer.email,
            "phone": phone_display(customer.phone),
            "language": customer.language,
            "timezone": customer.timezone,
            "owner": customer.owner_id,
        }

    def clean_phone(self) -> str:
        """E.164, so the duplicate check compares like with like; a number left as it was is not re-checked."""
        value = self.cleaned_data["phone"].strip()
        if value and value == (self.initial.get("phone") or "").strip():
            return value
        return phone_normalise(value)

    def changes(self) -> dict:
        """The cleaned fields the services take (``create_anyway`` is the page's business)."""
        return {key: value for key, value in self.cleaned_data.items() if key != "create_anyway"}


class MergeTargetForm(forms.Form):
    """The merge page's search for the customer that stays: a name, an e-mail, a phone or an id."""

    q = forms.CharField(label=_("Find the customer to keep"), max_length=100, required=False, strip=True)
    into = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput)
