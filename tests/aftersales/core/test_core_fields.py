"""field_max_length: the limits the services check are the columns' own."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from aftersales.core.fields import field_max_length
from customers.models import Customer, RiskFlag
from customers.services import FLAG_DETAIL_MAX_LENGTH
from touchpoints.models import TouchPoint
from touchpoints.services import NEXT_STEP_MAX_LENGTH, REASON_MAX_LENGTH


def test_reads_the_column_limit():
    """A CharField's max_length, as declared on the model."""
    assert field_max_length(RiskFlag, "detail") == 500
    assert field_max_length(Customer, "name") == 200


def test_service_limits_are_the_columns():
    """What the services refuse as too long is exactly what the column cannot hold."""
    assert RiskFlag._meta.get_field("detail").max_length == FLAG_DETAIL_MAX_LENGTH
    assert TouchPoint._meta.get_field("next_step").max_length == NEXT_STEP_MAX_LENGTH
    assert TouchPoint._meta.get_field("cancel_reason").max_length == REASON_MAX_LENGTH


def test_a_field_without_a_limit_is_a_configuration_error():
    """A text column without max_length has no limit to read: say which field, instead of returning None."""
    with pytest.raises(ImproperlyConfigured, match="customers.Customer.notes"):
        field_max_length(Customer, "notes")
