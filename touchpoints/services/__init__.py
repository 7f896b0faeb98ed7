"""Writes on touch points and the sales that schedule them: ``<entity>_<verb>(*, ...)``, atomic.

One module per job (checks and the claim, logging check-ups, recording a
sale, handing customers over); the names are gathered here so callers import
them from ``touchpoints.services``.
"""

from touchpoints.services.callbacks import CallBack, close_loop_calls_schedule
from touchpoints.services.checks import (
    CHECKUP_OUTCOMES,
    MAX_DAYS_AHEAD,
    NEXT_STEP_MAX_LENGTH,
    NOTES_MAX_LENGTH,
    OPEN_STATUSES,
    REASON_MAX_LENGTH,
    Contact,
)
from touchpoints.services.checkups import (
    touchpoint_cancel,
    touchpoint_complete,
    touchpoint_log_adhoc,
    touchpoint_reschedule,
    touchpoints_survey_checked,
)
from touchpoints.services.erasure import touchpoints_erase_customer
from touchpoints.services.merge import touchpoints_move_customer
from touchpoints.services.owners import customer_edit, customers_reassign
from touchpoints.services.sales import purchase_record

__all__ = [
    "CHECKUP_OUTCOMES",
    "MAX_DAYS_AHEAD",
    "NEXT_STEP_MAX_LENGTH",
    "NOTES_MAX_LENGTH",
    "OPEN_STATUSES",
    "REASON_MAX_LENGTH",
    "CallBack",
    "Contact",
    "close_loop_calls_schedule",
    "customer_edit",
    "customers_reassign",
    "purchase_record",
    "touchpoint_cancel",
    "touchpoint_complete",
    "touchpoint_log_adhoc",
    "touchpoint_reschedule",
    "touchpoints_erase_customer",
    "touchpoints_move_customer",
    "touchpoints_survey_checked",
]
