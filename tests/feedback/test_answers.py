"""Recording an answer (feedback/services/answers.py): the service guards itself, whatever page or job calls it."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError

from feedback.models import BuyAgain, SurveyResponse
from feedback.services.answers import COMMENT_MAX_LENGTH, Answer, survey_response_record
from tests.factories import SurveyInvitationFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def invitation():
    with time_machine.travel(NOW, tick=False):
        return SurveyInvitationFactory(sent_at=NOW)


@pytest.mark.parametrize(
    ("answer", "fields"),
    [
        pytest.param(Answer(nps=11), {"nps"}, id="nps-11"),
        pytest.param(Answer(nps=-1), {"nps"}, id="nps-minus-1"),
        pytest.param(Answer(csat=0), {"csat"}, id="csat-0"),
        pytest.param(Answer(csat=6), {"csat"}, id="csat-6"),
        pytest.param(Answer(nps=8, would_buy_again="maybe"), {"would_buy_again"}, id="buy-again-maybe"),
        pytest.param(Answer(nps=8, comment="x" * (COMMENT_MAX_LENGTH + 1)), {"comment"}, id="comment-too-long"),
        pytest.param(
            Answer(nps=12, csat=9, would_buy_again="?", comment="x" * (COMMENT_MAX_LENGTH + 1)),
            {"nps", "csat", "would_buy_again", "comment"},
            id="everything-at-once",
        ),
    ],
)
def test_an_invalid_answer_is_refused_naming_each_field_and_nothing_is_recorded(invitation, answer, fields):
    with time_machine.travel(NOW, tick=False), pytest.raises(ValidationError) as error:
        survey_response_record(invitation=invitation, answer=answer)

    assert set(error.value.message_dict) == fields
    assert not SurveyResponse.objects.exists()
    invitation.refresh_from_db()
    assert invitation.responded_at is None


def test_the_edges_of_every_scale_and_the_longest_comment_are_accepted(invitation):
    answer = Answer(nps=0, csat=5, would_buy_again=BuyAgain.UNSURE, comment="x" * COMMENT_MAX_LENGTH)

    with time_machine.travel(NOW, tick=False):
        response = survey_response_record(invitation=invitation, answer=answer)

    assert (response.nps, response.csat, len(response.comment)) == (0, 5, COMMENT_MAX_LENGTH)


def test_an_expired_invitation_takes_no_answer(invitation):
    """The page refuses it first; a job or a second tab that kept the invitation gets the same answer."""
    with time_machine.travel(invitation.expires_at, tick=False), pytest.raises(ValidationError) as error:
        survey_response_record(invitation=invitation, answer=Answer(nps=9))

    assert error.value.code == "expired"
    assert not SurveyResponse.objects.exists()
