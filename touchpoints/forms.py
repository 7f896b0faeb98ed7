"""Forms of the logging flow. They only parse the request: the rules (a date in
the past, a temperature of 9, notes too long) live in touchpoints.services,
whose ValidationError the view puts back next to the fields named here."""

from __future__ import annotations

from crispy_bootstrap5.bootstrap5 import Switch
from crispy_forms.bootstrap import InlineRadios
from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row
from django import forms
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from customers.models import Customer, RiskFlag
from touchpoints.models import Channel, Outcome, TouchPoint
from touchpoints.planning import local_today
from touchpoints.selectors import close_loop_flags
from touchpoints.services import CHECKUP_OUTCOMES

TEMPERATURE_CHOICES = [(1, "1 · cold"), (2, "2 · cool"), (3, "3 · neutral"), (4, "4 · warm"), (5, "5 · enthusiastic")]


def _date_input(customer: Customer) -> forms.DateInput:
    """A date picker that starts at the customer's today (the server checks again)."""
    return forms.DateInput(attrs={"type": "date", "min": local_today(customer.timezone).isoformat()}, format="%Y-%m-%d")


class _LaidOutForm(forms.Form):
    helper: FormHelper  # set by _set_layout, read when crispy renders the form


def _set_layout(form: _LaidOutForm, *fields, focus: str) -> None:
    """Crispy renders the fields (errors next to each); the templates write the <form>, htmx or plain."""
    form.helper = FormHelper()
    form.helper.form_tag = False
    form.helper.disable_csrf = True  # the templates add the token inside their own <form>
    form.helper.layout = Layout(*fields)
    # Opened inline, the form takes the focus, so a keyboard user continues right there.
    form.fields[focus].widget.attrs["autofocus"] = True


class LoopFlagsField(forms.ModelMultipleChoiceField):
    """The open flags a close-the-loop call is about, one checkbox each: the reason and what the customer said."""

    widget = forms.CheckboxSelectMultiple

    def label_from_instance(self, flag: RiskFlag) -> str:
        detail = Truncator(flag.detail).chars(120)
        return f"{flag.get_reason_display()}: {detail}" if detail else str(flag.get_reason_display())


class CheckupForm(_LaidOutForm):
    """Log a scheduled check-up; a close-the-loop call also offers to resolve the flags it is about."""

    outcome = forms.CharField(
        required=False,
        label="What happened",
        widget=forms.RadioSelect(choices=[(o, o.label) for o in CHECKUP_OUTCOMES]),
    )
    temperature = forms.IntegerField(
        required=False,
        label="Customer's temperature",
        help_text="How the customer feels about us, from 1 (cold) to 5 (enthusiastic).",
        widget=forms.RadioSelect(choices=TEMPERATURE_CHOICES),
    )
    notes = forms.CharField(required=False, strip=False, widget=forms.Textarea(attrs={"rows": 3}))
    next_step = forms.CharField(
        required=False, label="Next step", help_text="Creates the next touch point for the customer's rep."
    )
    next_step_due = forms.DateField(required=False, label="On")
    problem_reported = forms.BooleanField(
        required=False,
        label="Problem reported",
        help_text="Opens a follow-up due within one business day and flags the customer.",
    )

    def __init__(self, *args, customer: Customer, touchpoint: TouchPoint | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["next_step_due"].widget = _date_input(customer)
        flags = list(close_loop_flags(touchpoint)) if touchpoint is not None else []
        if flags:
            assert touchpoint is not None  # flags come from the touch point only
            # Ticked by default: reaching the customer is what settles them; the rep unticks what is not settled.
            self.fields["resolve_flags"] = LoopFlagsField(
                queryset=close_loop_flags(touchpoint),
                required=False,
                initial=[flag.pk for flag in flags],
                label=_("Resolve these flags"),
                help_text=_(
                    "Only if you reached the customer: the notes become the resolution. "
                    "Untick a flag that is not settled yet."
                ),
            )
        _set_layout(self, *self.layout_fields(), focus=self.layout_fields()[0].fields[0])

    def layout_fields(self) -> list:
        return [
            InlineRadios("outcome"),
            InlineRadios("temperature"),
            "notes",
            *(["resolve_flags"] if "resolve_flags" in self.fields else []),
            Row(Column("next_step", css_class="col-sm-8"), Column("next_step_due", css_class="col-sm-4")),
            Switch("problem_reported"),
        ]


class ContactForm(CheckupForm):
    """Log a contact nobody scheduled: an inbound call, an email, a visit."""

    channel = forms.CharField(required=False, label="How", widget=forms.RadioSelect(choices=Channel.choices))
    outcome = forms.CharField(required=False, label="What happened", widget=forms.RadioSelect(choices=Outcome.choices))

    def layout_fields(self) -> list:
        return [InlineRadios("channel"), *super().layout_fields()]


class RescheduleForm(_LaidOutForm):
    due_date = forms.DateField(required=False, label="New date")
    reason = forms.CharField(required=False, label="Why")

    def __init__(self, *args, customer: Customer, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["due_date"].widget = _date_input(customer)
        _set_layout(self, "due_date", "reason", focus="due_date")


class CancelForm(_LaidOutForm):
    reason = forms.CharField(required=False, label="Why")

    def __init__(self, *args, customer: Customer, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _set_layout(self, "reason", focus="reason")
