"""What a survey score means, defined once and imported everywhere.

NPS ("would you recommend", 0–10): promoters answer 9–10, passives 7–8,
detractors 0–6; NPS = % promoters − % detractors, passives counting in the
denominator. CSAT (1–5): 4–5 is *satisfied*, 1–2 is *low* (it opens a loop
like a detractor). A literal ``<= 6`` anywhere else is a bug waiting.
"""

from __future__ import annotations

from django.db.models import Q

NPS_DETRACTOR_MAX = 6
NPS_PROMOTER_MIN = 9
CSAT_LOW_MAX = 2
CSAT_SATISFIED_MIN = 4

# Filters on a survey answer's columns (SurveyResponse), for querysets and Count(filter=...).
DETRACTORS = Q(nps__lte=NPS_DETRACTOR_MAX)
PASSIVES = Q(nps__gt=NPS_DETRACTOR_MAX, nps__lt=NPS_PROMOTER_MIN)
PROMOTERS = Q(nps__gte=NPS_PROMOTER_MIN)
LOW_CSAT = Q(csat__lte=CSAT_LOW_MAX)
SATISFIED = Q(csat__gte=CSAT_SATISFIED_MIN)


def is_detractor(nps: int | None) -> bool:
    return nps is not None and nps <= NPS_DETRACTOR_MAX


def is_promoter(nps: int | None) -> bool:
    return nps is not None and nps >= NPS_PROMOTER_MIN


def nps_segment(nps: int | None) -> str | None:
    """ "promoter", "passive" or "detractor" (None without an NPS answer)."""
    if nps is None:
        return None
    return "detractor" if is_detractor(nps) else "promoter" if is_promoter(nps) else "passive"


def is_low_csat(csat: int | None) -> bool:
    return csat is not None and csat <= CSAT_LOW_MAX


def is_satisfied(csat: int | None) -> bool:
    return csat is not None and csat >= CSAT_SATISFIED_MIN
