"""The odds behind the demo data, and the health score it shows.

Each customer has a hidden mood (happy, neutral, unhappy) that colours the
temperature reps record, the survey answers and the response rate, so that a
customer's timeline tells one consistent story. The shares are tuned so the
whole book lands near 50% promoters, 30% passives, 20% detractors.
"""

from __future__ import annotations

import bisect
import itertools
import random

from feedback.scores import is_detractor, is_low_csat, is_promoter


class FastRandom(random.Random):
    """random.Random with cheaper choice, randint and weighted picks.

    The generator draws tens of millions of numbers; the standard methods'
    argument checks and rejection sampling cost more than the rest of a row.
    These are uniform to within one part in 2**53: plenty for demo data.
    """

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def choice(self, seq):
        return seq[int(self.random() * len(seq))]

    def weighted(self, seq, cumulative: tuple[float, ...]):
        """One item of ``seq`` with the odds given as cumulative weights (see cumulative())."""
        return seq[bisect.bisect(cumulative, self.random() * cumulative[-1])]


def cumulative(weights) -> tuple[float, ...]:
    return tuple(itertools.accumulate(weights))


HAPPY, NEUTRAL, UNHAPPY = MOODS = (0, 1, 2)
MOOD_WEIGHTS = (55, 28, 17)
# Customers who went quiet were rarely delighted before they did.
DRIFTING_MOOD_WEIGHTS = (15, 40, 45)
DRIFTING_EVERY = 10  # one customer in ten

LANGUAGES = ("en", "es", "ru")
LANGUAGE_WEIGHTS = (45, 30, 25)

PURCHASES_PER_CUSTOMER = (1, 2, 3, 4, 5)
PURCHASES_WEIGHTS = (15, 20, 30, 20, 15)  # mean 3
HISTORY_DAYS = 540  # 18 months of purchases

# NPS class (promoter, passive, detractor) by mood.
NPS_CLASS_WEIGHTS = ((72, 22, 6), (25, 50, 25), (6, 26, 68))
PROMOTER, PASSIVE, DETRACTOR = 0, 1, 2
DETRACTOR_SCORES = (0, 1, 2, 3, 4, 5, 6)
DETRACTOR_SCORE_WEIGHTS = (2, 2, 3, 5, 8, 12, 14)
RESPONSE_RATE = (0.84, 0.74, 0.64)

TEMPERATURES = ((5, 5, 4, 4, 4, 3), (4, 3, 3, 4, 3, 4, 2), (1, 2, 3, 3, 2, 3, 4))


_NPS_CLASS_CUMULATIVE = tuple(cumulative(w) for w in NPS_CLASS_WEIGHTS)
_DETRACTOR_SCORE_CUMULATIVE = cumulative(DETRACTOR_SCORE_WEIGHTS)


def nps_answer(rng: FastRandom, mood: int) -> tuple[int, int, int, str]:
    """(nps class, nps, csat, would buy again) for one survey answer."""
    cls = rng.weighted((PROMOTER, PASSIVE, DETRACTOR), _NPS_CLASS_CUMULATIVE[mood])
    x = rng.random()
    if cls == PROMOTER:
        return cls, 10 if x < 0.6 else 9, 5 if x < 0.65 else 4, "yes" if x < 0.9 else "unsure"
    if cls == PASSIVE:
        csat = 4 if x < 0.5 else 3 if x < 0.9 else 5
        return cls, 8 if rng.random() < 0.5 else 7, csat, "yes" if x < 0.55 else "unsure" if x < 0.95 else "no"
    nps = rng.weighted(DETRACTOR_SCORES, _DETRACTOR_SCORE_CUMULATIVE)
    csat = 1 if x < 0.2 else 2 if x < 0.55 else 3 if x < 0.9 else 4
    return cls, nps, csat, "no" if x < 0.45 else "unsure" if x < 0.9 else "yes"


HEALTH_BASE = 80


def health(
    *,
    days_since_contact: int,
    quiet_threshold_days: int,
    last_nps: int | None,
    last_csat: int | None,
    last_temperature: int | None,
    overdue: int,
) -> tuple[int, list[dict]]:
    """A simple explainable score: 80, moved by each signal; every move is listed with its reason."""
    moves: list[dict] = []
    if days_since_contact > quiet_threshold_days:
        moves.append({"points": -30, "reason": f"{days_since_contact} days without contact"})
    elif days_since_contact > quiet_threshold_days * 0.6:
        moves.append({"points": -10, "reason": f"{days_since_contact} days since the last contact"})
    if last_nps is not None:
        if is_detractor(last_nps):
            moves.append({"points": -25, "reason": f"Last NPS answer {last_nps} (detractor)"})
        elif not is_promoter(last_nps):
            moves.append({"points": -5, "reason": f"Last NPS answer {last_nps} (passive)"})
        else:
            moves.append({"points": 10, "reason": f"Last NPS answer {last_nps} (promoter)"})
    if is_low_csat(last_csat):
        moves.append({"points": -15, "reason": f"Last CSAT {last_csat}/5"})
    if last_temperature is not None:
        if last_temperature <= 2:
            moves.append({"points": -20, "reason": f"Cold last check-up (temperature {last_temperature}/5)"})
        elif last_temperature >= 4:
            moves.append({"points": 5, "reason": f"Warm last check-up (temperature {last_temperature}/5)"})
    if overdue:
        plural = "s" if overdue > 1 else ""
        moves.append({"points": -5 * min(overdue, 3), "reason": f"{overdue} check-up{plural} overdue by over 3 days"})
    score = HEALTH_BASE + sum(m["points"] for m in moves)
    return max(0, min(100, score)), moves
