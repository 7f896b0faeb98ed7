"""Hand-written SQL kept for speed (docs/BENCHMARKS.md) stays in step with the models it writes.

A model that gains a NOT NULL column without a database default breaks an
INSERT that does not name it, and only once a migration has added it; an
``auto_now`` column an UPDATE forgets goes stale silently. These tests read
the column lists out of the SQL itself and compare them with the models.
"""

from __future__ import annotations

import re

import pytest
from django.db import models
from django.db.models.fields import NOT_PROVIDED, AutoFieldMixin

from aftersales.risk import sweep_sql
from customers.models import Customer, RiskFlag
from customers.services import contact
from feedback.models import SurveyInvitation, SurveyResponse
from feedback.services import answers as responses


def inserted_columns(sql: str, table: str) -> list[str]:
    match = re.search(rf"INSERT INTO {table}\s*\(([^)]*)\)", sql)
    assert match, f"no INSERT INTO {table} in the statement"
    return [name.strip() for name in match.group(1).split(",")]


def updated_columns(sql: str, table: str) -> list[str]:
    match = re.search(rf"UPDATE {table}\s+SET\s+(.*?)\s+WHERE", sql, re.DOTALL)
    assert match, f"{table}: no SET list found in the statement"
    return [assignment.split("=")[0].strip() for assignment in match.group(1).split(",")]


def columns_of(model: type[models.Model]) -> dict[str, models.Field]:
    return {field.column: field for field in model._meta.concrete_fields}


def required_columns(model: type[models.Model]) -> set[str]:
    """Columns an INSERT must name: NOT NULL, no default in the database, not the generated primary key.

    A Python-side ``default`` does not count: hand-written SQL never sees it.
    """
    return {
        column
        for column, field in columns_of(model).items()
        if not field.null and field.db_default is NOT_PROVIDED and not isinstance(field, AutoFieldMixin)
    }


def auto_now_columns(model: type[models.Model]) -> set[str]:
    return {column for column, field in columns_of(model).items() if getattr(field, "auto_now", False)}


INSERTS = [
    pytest.param(responses.RESPONSE_INSERT_SQL, SurveyResponse, id="survey answer"),
    pytest.param(sweep_sql.INSERT_FLAGS, RiskFlag, id="risk sweeps' flags"),
]
UPDATES = [
    pytest.param(contact.CONTACT_MOVE_SQL, Customer, id="contact clock"),
    pytest.param(responses.INVITATION_RESPONDED_SQL, SurveyInvitation, id="invitation answered"),
    pytest.param(sweep_sql.claim(2), RiskFlag, id="risk sweeps' notification claim"),
]


@pytest.mark.parametrize(("sql", "model"), INSERTS)
def test_a_hand_written_insert_fills_every_column_the_model_requires(sql, model):
    named = inserted_columns(sql, model._meta.db_table)
    assert len(named) == len(set(named)), f"a column named twice: {named}"
    assert set(named) <= set(columns_of(model)), f"no such column: {sorted(set(named) - set(columns_of(model)))}"
    assert required_columns(model) <= set(named), (
        f"{model.__name__} has NOT NULL columns without a database default that this INSERT leaves out: "
        f"{sorted(required_columns(model) - set(named))}"
    )


@pytest.mark.parametrize(("sql", "model"), UPDATES)
def test_a_hand_written_update_names_real_columns_and_keeps_auto_now_fresh(sql, model):
    named = updated_columns(sql, model._meta.db_table)
    assert set(named) <= set(columns_of(model)), f"no such column: {sorted(set(named) - set(columns_of(model)))}"
    if model is not RiskFlag:  # the claim records a notification, not an edit of the flag
        assert auto_now_columns(model) <= set(named), f"{model.__name__}'s auto_now columns must move too"


def test_the_check_catches_a_column_the_insert_forgot():
    """The check is not vacuous: leaving out a required column of the answer's INSERT is reported."""
    trimmed = responses.RESPONSE_INSERT_SQL.replace("customer_id, ", "")
    missing = required_columns(SurveyResponse) - set(inserted_columns(trimmed, "feedback_surveyresponse"))
    assert missing == {"customer_id"}
