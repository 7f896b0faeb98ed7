"""What one chunk of generated rows, and one customer's rows so far, add up to."""

from __future__ import annotations

from datetime import datetime

# A touch point's status as the rows spell it (touchpoints.models.Status).
SCHEDULED, DONE, MISSED, CANCELLED = "scheduled", "done", "missed", "cancelled"


class Rows:
    """Row buffers for one chunk, one list per table."""

    def __init__(self) -> None:
        self.customers: list[tuple] = []
        self.purchases: list[tuple] = []
        self.touchpoints: list[tuple] = []
        self.invitations: list[tuple] = []
        self.responses: list[tuple] = []
        self.flags: list[tuple] = []

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in vars(self).items()}


class CustomerState:
    """Who the customer is (fixed) and what their rows so far add up to."""

    __slots__ = (
        "cid", "owner", "tz", "language", "mood", "cutoff", "last_contact", "temperatures", "warm", "problems",
        "overdue", "survey_moments", "last_answer", "open_flags",
    )  # fmt: skip

    def __init__(self, *, cid: int, owner: int, tz: str, language: str, mood: int, cutoff: int) -> None:
        self.cid, self.owner, self.tz, self.language, self.mood, self.cutoff = cid, owner, tz, language, mood, cutoff
        self.last_contact = datetime.min
        self.temperatures: list[tuple[datetime, int]] = []  # (completed_at, temperature), in generation order
        self.warm: list[datetime] = []  # two-way contacts at temperature 3–5 (a reported problem is over)
        self.problems: list[tuple[datetime, int]] = []  # (completed_at, touch point id) of reported problems
        self.overdue: list[datetime] = []
        self.survey_moments: list[tuple[datetime, int | None]] = []
        self.last_answer: tuple[int | None, int | None] = (None, None)
        self.open_flags: dict[str, tuple[int, datetime]] = {}  # reason -> (index in rows.flags, raised_at)

    def contact(self, moment: datetime) -> None:
        if moment > self.last_contact:
            self.last_contact = moment
