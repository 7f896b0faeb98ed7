"""Merging two customers, the survey side's part: invitations, answers and the consent history move.

The merge itself is aftersales/customer_pages/merge.py; it calls these in its transaction.
"""

from __future__ import annotations

from customers.models import Customer
from feedback.models import EmailConsentEvent, SurveyInvitation, SurveyResponse


def invitations_move_customer(*, from_customer: Customer, to_customer: Customer) -> int:
    """Invitations keep their tokens: a link already in the customer's inbox still opens, now on the survivor."""
    return SurveyInvitation.objects.filter(customer=from_customer).update(customer=to_customer)


def answers_move_customer(*, from_customer: Customer, to_customer: Customer) -> int:
    return SurveyResponse.objects.filter(customer=from_customer).update(customer=to_customer)


def consent_move_customer(*, from_customer: Customer, to_customer: Customer) -> int:
    """The history of opt-outs moves; whether the survivor may be mailed is ``customer_mark_merged``'s business."""
    return EmailConsentEvent.objects.filter(customer=from_customer).update(customer=to_customer)
