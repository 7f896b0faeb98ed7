"""Scheduling call-backs another part of the app asks for (a low survey answer's close-the-loop call)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from customers.models import Customer
from touchpoints.models import Channel, Kind, TouchPoint


@dataclass(frozen=True)
class CallBack:
    customer: Customer
    objective: str
    due_at: dt.datetime


def close_loop_calls_schedule(*, calls: list[CallBack]) -> list[TouchPoint]:
    """One close-the-loop call per item, for the customer's owner, in one INSERT; in the order given."""
    return TouchPoint.objects.bulk_create(
        [
            TouchPoint(
                customer=call.customer,
                assignee_id=call.customer.owner_id,
                kind=Kind.CLOSE_LOOP,
                channel=Channel.CALL,
                objective=call.objective,
                due_at=call.due_at,
            )
            for call in calls
        ]
    )
