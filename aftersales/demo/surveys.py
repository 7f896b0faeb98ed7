"""One demo customer's surveys: invitations, answers, and the call-back a low answer gets.

Part of the generator (generator.py), which owns the random source, the rows
and the check-ups (``touchpoint``). Here: the invitations that follow a
check-up or the relationship's rhythm, throttled and reminded as the app's
jobs would (feedback/invitations.py), the answers, and for a low one the
call-back and its flags (feedback/loops.py)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from aftersales.demo import risk, rules, texts
from aftersales.demo.clock import HOUR, MINUTE
from aftersales.demo.state import DONE, CustomerState, Rows
from feedback.scores import is_detractor, is_low_csat

if TYPE_CHECKING:
    from aftersales.demo.catalogue import Catalogue


class StoryTeller(Protocol):
    """What ``SurveyStory`` uses of the ``Generator`` it is mixed into (set in generator.py, or its LocalCalendar)."""

    rng: rules.FastRandom
    now: datetime
    today: int
    rows: Rows
    catalogue: Catalogue
    take_id: dict[str, Callable[[], int]]
    survey_delay: timedelta
    survey_expires: timedelta
    survey_throttle: timedelta
    remind_after: timedelta
    loop_columns: bool

    def midnight(self, tz: str, day: int) -> datetime: ...

    def workday(self, day: int) -> int: ...

    def touchpoint(
        self,
        state: CustomerState,
        day: int,
        created: str,
        *,
        purchase: int | None = None,
        step: int | None = None,
        kind: str,
        channel: str,
        objective: str,
        survey_follows: bool = False,
        follows: int | None = None,
        inbound_at: datetime | None = None,
    ) -> tuple[int, str, datetime | None, int | None]: ...

    def close_the_loop(
        self,
        state: CustomerState,
        responded: datetime,
        nps: int,
        csat: int | None,
        tp_id: int | None,
        reasons: list[str],
        iid: int,
    ) -> tuple[int, datetime | None]: ...


class SurveyStory:
    """Mixed into ``Generator``: its attributes (``rng``, ``now``, ``rows``, the survey timings) are set there."""

    def surveys(self: StoryTeller, state: CustomerState, first_day: int) -> None:
        """Invitations (after check-ups and every two months), at most one per 30 days; answers; call-backs."""
        rng, now, rows = self.rng, self.now, self.rows
        cid, tz, language = state.cid, state.tz, state.language
        day = first_day + 30 + rng.randint(0, 20)
        while day <= self.today:
            state.survey_moments.append((self.midnight(tz, day) + 10 * HOUR, None))
            day += self.catalogue.relationship_every_days
        state.survey_moments.sort(key=lambda m: m[0])
        last_sent = datetime.min
        comments = texts.COMMENTS[language]
        csat: int | None  # asked after a check-up only
        loop: tuple[int | None, str | None, str | None]
        for send_at, tp_id in state.survey_moments:
            if send_at - last_sent < self.survey_throttle:
                continue
            last_sent = send_at
            iid = self.take_id["invitation"]()
            survey = self.catalogue.after_checkup_survey_id if tp_id else self.catalogue.relationship_survey_id
            sent = reminded = opened = responded = None
            if send_at <= now:
                sent = send_at + MINUTE * rng.randint(1, 5)
                if send_at.toordinal() <= state.cutoff and rng.random() < rules.RESPONSE_RATE[state.mood]:
                    responded = sent + HOUR * min(rng.expovariate(1 / 20), 26 * 24)
                    if responded > now:
                        responded = None
                if responded:
                    opened = sent + (responded - sent) * 0.9
                elif rng.random() < 0.3 and sent + 6 * HOUR <= now:
                    opened = sent + 6 * HOUR
                remind_at = sent + self.remind_after
                if remind_at <= now and (responded is None or responded > remind_at):
                    reminded = remind_at
            rows.invitations.append(
                (iid, survey, cid, tp_id, secrets.token_hex(32), language, send_at, sent, reminded,
                 send_at + self.survey_expires, opened, responded, send_at - self.survey_delay)
            )  # fmt: skip
            if not responded:
                continue
            cls, nps, csat, buy_again = rules.nps_answer(rng, state.mood)
            if not tp_id:
                csat = None  # the relationship survey asks NPS only
            comment = rng.choice(comments[cls]) if rng.random() < 0.55 else ""
            problem = cls == rules.DETRACTOR and rng.random() < 0.25
            responded_text = str(responded)
            state.contact(responded)
            state.last_answer = (nps, csat)
            # A low answer opens a call-back (as feedback/responses.py does), one business day later.
            signals = (("detractor", is_detractor(nps)), ("low_csat", is_low_csat(csat)), ("problem_reported", problem))
            unhappy = [reason for reason, bad in signals if bad]
            row = (iid, cid, nps, csat, buy_again, comment, problem, responded_text, responded_text)
            if unhappy:
                followup, closed = self.close_the_loop(state, responded, nps, csat, tp_id, unhappy, iid)
                loop = (followup, responded_text, str(closed) if closed else None)
            else:
                loop = (None, None, None)
            rows.responses.append(row + loop if self.loop_columns else row)

    def close_the_loop(
        self: StoryTeller,
        state: CustomerState,
        responded: datetime,
        nps: int,
        csat: int | None,
        tp_id: int | None,
        reasons: list[str],
        iid: int,
    ) -> tuple[int, datetime | None]:
        """The call-back a low answer gets, and its flags (resolved when the call reached them).

        Returns the call-back's id and when it was done (None while it is not).
        """
        answers = {"detractor": f"NPS {nps}", "low_csat": f"satisfaction {csat}/5", "problem_reported": "a problem"}
        responded_text = str(responded)
        followup, status, completed, temperature = self.touchpoint(
            state, self.workday(responded.toordinal() + 1), responded_text, kind="close_loop", channel="call",
            follows=tp_id,
            objective=f"Call back about their survey answer ({', '.join(answers[r] for r in reasons)}): "
            "listen, apologise, agree on a fix.",
        )  # fmt: skip
        fixed = status == DONE and temperature is not None
        for reason in reasons:
            detail = f"Answered {answers[reason]} on {responded:%d %b %Y}"
            data = {"invitation_id": iid, "nps": nps, "csat": csat}
            resolved = completed if fixed else None
            risk.flag(self.rows.flags, state, self.now, reason, detail, data, responded, resolved=resolved)
        return followup, completed if status == DONE else None
