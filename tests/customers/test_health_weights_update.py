"""The health weights service (customers/services/health.py) guards itself, whatever form or script calls it."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from customers.models import Customer, HealthWeights
from customers.services import healthweights_update
from customers.services.health import WEIGHT_RANGE
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        pytest.param({"nps_detractor": -25, "shoe_size": 3}, "Unknown weights: shoe_size.", id="unknown-name"),
        pytest.param({"base": WEIGHT_RANGE[1] + 1}, "Every weight is between -100 and 100.", id="above"),
        pytest.param({"quiet": WEIGHT_RANGE[0] - 1}, "Every weight is between -100 and 100.", id="below"),
    ],
)
def test_unknown_names_and_out_of_range_weights_are_refused_and_nothing_changes(mary, alice, weights, message):
    customer = CustomerFactory(owner=alice)
    Customer.objects.update(health_due_at=None)

    with pytest.raises(ValidationError, match=message):
        healthweights_update(weights=weights, by=mary)

    assert not HealthWeights.objects.exists()
    assert Customer.objects.get(pk=customer.pk).health_due_at is None, "no recompute for weights never saved"


def test_the_range_ends_are_accepted(mary):
    low, high = WEIGHT_RANGE

    row = healthweights_update(weights={"quiet": low, "base": high}, by=mary)

    assert HealthWeights.objects.get(pk=row.pk).weights == {"quiet": low, "base": high}
    assert row.updated_by == mary
