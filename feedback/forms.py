"""The public survey form: the questions the survey asks, in the customer's language."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from feedback.models import BuyAgain, Survey, SurveyResponse
from feedback.services.answers import COMMENT_MAX_LENGTH, Answer, Questions

NPS_CHOICES = [(score, str(score)) for score in range(11)]
CSAT_CHOICES = [
    (1, _("Very dissatisfied")),
    (2, _("Dissatisfied")),
    (3, _("Neutral")),
    (4, _("Satisfied")),
    (5, _("Very satisfied")),
]


class SurveyForm(forms.Form):
    """Every question is optional except the recommendation score, when the survey asks it.

    The customer may answer only the score they clicked in the email and
    submit: one click plus one submit.
    """

    nps = forms.TypedChoiceField(
        label=_("How likely are you to recommend us to a friend or colleague?"),
        choices=NPS_CHOICES,
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": _("Please choose a score from 0 to 10.")},
    )
    csat = forms.TypedChoiceField(
        label=_("How satisfied are you with the product and our service?"),
        choices=CSAT_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
        widget=forms.RadioSelect,
    )
    would_buy_again = forms.ChoiceField(
        label=_("Would you buy from us again?"), choices=BuyAgain.choices, required=False, widget=forms.RadioSelect
    )
    comment = forms.CharField(
        label=_("What could we do better?"),
        required=False,
        max_length=COMMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4, "class": "form-control"}),
    )
    problem_reported = forms.BooleanField(
        label=_("I have a problem and would like someone to contact me"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )

    def __init__(self, *args, survey: Survey | Questions, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        asked = {
            "nps": survey.asks_nps,
            "csat": survey.asks_csat,
            "would_buy_again": survey.asks_buy_again,
            "comment": survey.asks_comment,
        }
        for name, asks in asked.items():
            if not asks:
                del self.fields[name]

    @staticmethod
    def initial_from(response: SurveyResponse | None, score: str | None) -> dict:
        """Prefill with the answer being amended, or with the score clicked in the email (?score=N)."""
        if response is not None:
            return {
                "nps": response.nps,
                "csat": response.csat,
                "would_buy_again": response.would_buy_again,
                "comment": response.comment,
                "problem_reported": response.problem_reported,
            }
        if score is not None and len(score) <= 2 and score.isdigit() and 0 <= int(score) <= 10:
            return {"nps": int(score)}
        return {}

    def answer(self) -> Answer:
        data = self.cleaned_data
        return Answer(
            nps=data.get("nps"),
            csat=data.get("csat"),
            would_buy_again=data.get("would_buy_again") or "",
            comment=(data.get("comment") or "").strip(),
            problem_reported=bool(data.get("problem_reported")),
        )
