"""One demo customer at a time, as plain row tuples.

A customer's story is generated in time order: purchases, the check-ups their
plans scheduled (and what happened at each), the surveys that followed and the
call-backs for unhappy answers (surveys.py), then the state that summarises all of it
(last contact, quiet date, health, open flags). Deriving the summary from the
rows keeps the two consistent, as the real services would.

Hot loop: ~25 rows per customer, 100,000 customers. Datetimes are naive UTC
(what the writers expect), days are ordinals, and anything that can be worked
out once (timezone offsets, time-of-day deltas) is cached.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from django.conf import settings

from aftersales.demo import risk, rules, texts
from aftersales.demo.catalogue import PRODUCTS, Catalogue
from aftersales.demo.clock import DAY, HOUR, MINUTE, LocalCalendar
from aftersales.demo.people import LocalePool
from aftersales.demo.state import CANCELLED, DONE, MISSED, SCHEDULED, CustomerState, Rows
from aftersales.demo.surveys import SurveyStory
from aftersales.demo.writer import CUSTOMERS, RESPONSES

# Sales are logged in office hours.
SLOTS = tuple(timedelta(minutes=m) for m in range(9 * 60, 17 * 60 + 1, 15))
DELIVERY_DAYS = {"subscription": (0, 2), "machine": (3, 21), "service": (5, 30), "addon": (1, 7)}
LANGUAGE_ODDS = rules.cumulative(rules.LANGUAGE_WEIGHTS)
MOOD_ODDS = rules.cumulative(rules.MOOD_WEIGHTS)
DRIFTING_MOOD_ODDS = rules.cumulative(rules.DRIFTING_MOOD_WEIGHTS)
PURCHASES_ODDS = rules.cumulative(rules.PURCHASES_WEIGHTS)


class Generator(SurveyStory, LocalCalendar):
    """Appends each new customer's rows to ``self.rows``; the caller swaps in a fresh Rows per chunk.

    The purchases and check-ups are written here, the surveys and call-backs
    by ``SurveyStory`` (surveys.py), the customer row last (``summarise``).
    """

    def __init__(
        self,
        *,
        rng: rules.FastRandom,
        catalogue: Catalogue,
        pools: dict[str, LocalePool],
        reps: list[int],
        now: datetime,
        take_id: dict[str, Callable[[], int]],
    ) -> None:
        self.rng = rng
        self.catalogue = catalogue
        self.pools = pools
        self.reps = reps
        self.now = now.astimezone(UTC).replace(tzinfo=None)
        self.today = self.now.toordinal()
        self.take_id = take_id
        self.rows = Rows()
        super().__init__()
        self.now_text = str(self.now)
        self.product_odds = rules.cumulative(p.weight for p in PRODUCTS)
        index = {p.sku: k for k, p in enumerate(PRODUCTS)}
        self.addon_of = [index[p.addon_sku] if p.addon_sku else None for p in PRODUCTS]
        # Drifting customers stopped talking before even the most patient product would call them quiet.
        self.max_threshold = max(catalogue.quiet_threshold_days)
        self.rep_customers: dict[int, list[int]] = {rep: [] for rep in reps}
        self.generated = 0
        config = settings.AFTERSALES
        self.risk_rules = risk.Rules(
            renewal_window_days=config.get("RENEWAL_WINDOW_DAYS", 60),
            renewal_contact_days=config.get("RENEWAL_CONTACT_DAYS", 30),
        )
        # Scheduled check-ups later than this are marked missed by the app's sweep.
        self.missed_grace_days = config.get("MISSED_GRACE_DAYS", 7)
        # The survey timings of DESIGN.md, as configured.
        self.survey_delay = timedelta(hours=config.get("SURVEY_DELAY_HOURS", 24))
        self.survey_expires = timedelta(days=config.get("SURVEY_EXPIRES_DAYS", 28))
        self.survey_throttle = timedelta(days=config.get("SURVEY_THROTTLE_DAYS", 30))
        self.remind_after = timedelta(days=config.get("SURVEY_REMINDER_DAYS", 3))
        # Columns newer schemas have (see writer.optional): filled when present.
        self.health_due = "health_due_at" in CUSTOMERS.fields
        self.loop_columns = "loop_opened_at" in RESPONSES.fields

    def owner_for(self, language: str) -> int:
        # Territories: rep1 mostly English-speaking customers, rep2 mostly Spanish, Russian split.
        rng, reps = self.rng, self.reps
        home = {"en": 0, "es": 1}.get(language)
        if home is not None and home < len(reps) and rng.random() < 0.8:
            return reps[home]
        return rng.choice(reps)

    # --- one customer ------------------------------------------------------------
    def customer(self) -> None:
        rng, now, today, rows = self.rng, self.now, self.today, self.rows
        r = rng.random
        language = rng.weighted(rules.LANGUAGES, LANGUAGE_ODDS)
        pool = self.pools[language]
        # Exactly one customer in DRIFTING_EVERY has drifted away: small demos have some too.
        self.generated += 1
        drifting = self.generated % rules.DRIFTING_EVERY == 0
        state = CustomerState(
            cid=self.take_id["customer"](),
            owner=self.owner_for(language),
            tz=rng.weighted(pool.timezones, pool.timezone_odds),
            language=language,
            mood=rng.weighted(rules.MOODS, DRIFTING_MOOD_ODDS if drifting else MOOD_ODDS),
            # Drifting customers: nothing two-way happens after ``cutoff`` (a day ordinal).
            cutoff=today - rng.randint(self.max_threshold + 10, 240) if drifting else today + 1,
        )
        cid, tz, cutoff = state.cid, state.tz, state.cutoff
        self.rep_customers[state.owner].append(cid)

        # Purchases, and the check-ups their plans scheduled.
        n_purchases = rng.weighted(rules.PURCHASES_PER_CUSTOMER, PURCHASES_ODDS)
        oldest = today - rules.HISTORY_DAYS
        ordered_days = sorted(rng.randint(oldest, min(cutoff, today)) for _ in range(n_purchases))
        thresholds = []
        renewals = []
        addons: list[int] = []
        for ordered in ordered_days:
            # Repeat purchases are often add-ons to what they already have (seats, consumables).
            if addons and r() < 0.7:
                k = rng.choice(addons)
            else:
                k = rng.weighted(range(len(PRODUCTS)), self.product_odds)
                if self.addon_of[k] is not None:
                    addons.append(self.addon_of[k])
            spec = PRODUCTS[k]
            thresholds.append(self.catalogue.quiet_threshold_days[k])
            low, high = DELIVERY_DAYS[spec.kind]
            delivery_day = ordered + rng.randint(low, high)
            delivered = delivery_day if delivery_day <= today else None
            start = delivered or ordered
            renewal = start + 365 if spec.kind == "subscription" else None
            pid = self.take_id["purchase"]()
            created = self.midnight(tz, ordered) + rng.choice(SLOTS)
            created_text = str(created)
            amount = round(spec.price_eur * pool.price_factor * rng.uniform(0.85, 1.25), 2)
            rows.purchases.append(
                (
                    pid,
                    cid,
                    self.catalogue.product_ids[k],
                    None,
                    date.fromordinal(ordered),
                    date.fromordinal(delivered) if delivered else None,
                    f"{amount:.2f}",
                    pool.currency,
                    date.fromordinal(renewal) if renewal else None,
                    f"DEMO-P{pid:08d}",
                    created_text,
                )
            )
            state.contact(created)  # the sale itself was a conversation
            step_ids = self.catalogue.plan_step_ids[k]
            for step, step_id in zip(spec.plan.steps, step_ids, strict=False):
                self.touchpoint(
                    state, self.workday(start + step.offset_days), created_text, purchase=pid, step=step_id,
                    kind="planned", channel=step.channel, objective=step.objective,
                    survey_follows=step.survey_follows,
                )  # fmt: skip
            if renewal:
                renewals.append(renewal)
                for offset in spec.plan.renewal_offsets_days:
                    when = date.fromordinal(renewal).strftime("%d %b %Y")
                    self.touchpoint(
                        state, self.workday_before(renewal - offset), created_text, purchase=pid, kind="renewal",
                        channel="call",
                        objective=f"Renewal on {when}: confirm they are renewing, review seats and pricing.",
                    )  # fmt: skip

        self.surveys(state, ordered_days[0])
        threshold = min(thresholds)
        if not drifting and state.last_contact < now - timedelta(days=threshold - 4):
            # Healthy accounts are not silent: most customers got in touch on their own lately.
            since = max(state.last_contact, now - timedelta(days=threshold - 5))
            moment = since + (now - since) * r()
            self.touchpoint(
                state, moment.toordinal(), str(moment - HOUR), kind="ad_hoc", channel="call",
                objective="Customer got in touch.", inbound_at=moment,
            )  # fmt: skip
        self.summarise(state, pool, threshold, renewals, ordered_days[0])

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
    ) -> tuple[int, str, datetime | None, int | None]:
        """Write one touch point and decide what happened at it; returns (id, status, completed_at, temperature)."""
        rng, now, today = self.rng, self.now, self.today
        cid, owner, tz, mood = state.cid, state.owner, state.tz, state.mood
        x = rng.random()
        if inbound_at:
            due, due_text, reminder, reminder_text = inbound_at, str(inbound_at), None, None
        else:
            due, due_text, reminder, reminder_text = self.checkup_times(tz, day)
        age = today - day
        if inbound_at:
            status = DONE
        elif due > now:
            status = CANCELLED if x < 0.02 and kind != "close_loop" else SCHEDULED
        elif age <= 0:
            status = SCHEDULED if x < 0.65 else DONE
        elif age <= self.missed_grace_days:
            status = SCHEDULED if x < 0.35 else DONE if x < 0.9 else MISSED
        elif kind == "close_loop":  # an unhappy customer's call-back is never just cancelled
            status = DONE if x < 0.9 else MISSED
        else:
            status = DONE if x < 0.86 else MISSED if x < 0.95 else CANCELLED
        completed = outcome = temperature = None
        notes = next_step = cancel_reason = ""
        problem = False
        tp_id = self.take_id["touchpoint"]()
        if status == DONE:
            completed = min(due + MINUTE * rng.randint(0, 240), now)
            y = rng.random()
            if inbound_at:
                outcome = "inbound"
            elif day <= state.cutoff and y < (0.92 if kind == "close_loop" else 0.8):  # call-backs insist
                outcome = "inbound" if y < 0.06 else "reached"
            else:
                outcome = "no_answer" if y < 0.9 else "left_message"
            if outcome in ("reached", "inbound"):
                temperature = rng.choice(rules.TEMPERATURES[mood])
                if inbound_at:
                    notes = rng.choice(texts.NOTES_INBOUND)
                elif kind == "close_loop":
                    notes = rng.choice(texts.CLOSE_LOOP_DONE)
                elif temperature >= 4:
                    notes, next_step = rng.choice(texts.NOTES_WARM), rng.choice(texts.NEXT_STEPS_WARM)
                elif temperature == 3:
                    notes = rng.choice(texts.NOTES_NEUTRAL)
                else:
                    notes, next_step = rng.choice(texts.NOTES_COLD), rng.choice(texts.NEXT_STEPS_COLD)
                    problem = rng.random() < 0.3
                state.contact(completed)
                state.temperatures.append((completed, temperature))
                if temperature >= 3:
                    state.warm.append(completed)
                if problem:
                    state.problems.append((completed, tp_id))
            else:
                pool = texts.NOTES_NO_ANSWER if outcome == "no_answer" else texts.NOTES_LEFT_MESSAGE
                notes, next_step = rng.choice(pool), rng.choice(texts.NEXT_STEPS_RETRY)
        elif status == CANCELLED:
            cancel_reason = rng.choice(texts.CANCEL_REASONS)
        elif status == SCHEDULED and due < now:
            state.overdue.append(due)
        completed_text = str(completed) if completed else None
        self.rows.touchpoints.append(
            (
                tp_id, cid, purchase, step, owner, kind, channel, objective, survey_follows, due_text, status,
                completed_text, outcome or "", temperature, notes, next_step, problem, cancel_reason,
                reminder_text if reminder and reminder <= now else None, follows,
                owner if kind in ("ad_hoc", "follow_up") else None, created, completed_text or created,
            )
        )  # fmt: skip
        if completed is not None and survey_follows:  # (completed is set exactly when it is DONE)
            state.survey_moments.append((completed + self.survey_delay, tp_id))
        return tp_id, status, completed, temperature

    def summarise(
        self, state: CustomerState, pool: LocalePool, threshold: int, renewals: list[int], first_day: int
    ) -> None:
        """The customer row itself: contact dates, open flags and health, all derived from the rows above."""
        rng, now = self.rng, self.now
        cid, owner, tz, language = state.cid, state.owner, state.tz, state.language
        last_contact = state.last_contact
        quiet_after = last_contact + timedelta(days=threshold)
        overdue = sorted(d for d in state.overdue if d < now - self.risk_rules.overdue_flag_days * DAY)
        risk.customer_flags(
            self.rows.flags, state, now, self.risk_rules, quiet_after=quiet_after, overdue=overdue, renewals=renewals
        )
        last_nps, last_csat = state.last_answer
        score, explanation = rules.health(
            days_since_contact=(now - last_contact).days,
            quiet_threshold_days=threshold,
            last_nps=last_nps,
            last_csat=last_csat,
            last_temperature=max(state.temperatures)[1] if state.temperatures else None,
            overdue=len(overdue),
        )
        name, local = pool.person(rng)
        company, domain = rng.choice(pool.companies) if rng.random() < 0.85 else ("", rng.choice(pool.free_mail))
        if not company:
            local += str(rng.randint(1, 99))
        created = self.midnight(tz, first_day - rng.randint(0, 60)) + 12 * HOUR
        opt_out = rng.random() < 0.03
        self.rows.customers.append(
            (
                cid, name, company, f"{local}@{domain}", pool.phone(rng, tz), owner, language, tz, opt_out,
                created + (now - created) * rng.random() if opt_out else None, last_contact, quiet_after, score,
                json.dumps(explanation), self.now_text, f"DEMO-C{cid:07d}",
                rng.choice(texts.CUSTOMER_NOTES) if rng.random() < 0.1 else "", created, self.now_text,
            )
            # Due now: the app's health sweep recomputes these with its own scorer and keeps them current.
            + ((self.now_text,) if self.health_due else ())
        )  # fmt: skip
