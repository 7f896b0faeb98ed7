"""{% health_trend customer %}: the trend arrow and the sparkline of a customer's last health snapshots."""

from __future__ import annotations

from django import template

from customers.models import Customer, HealthSnapshot

register = template.Library()

SPARK_POINTS = 12
WIDTH, HEIGHT, PAD = 120, 32, 2


def trend(scores: list[int]) -> str:
    """up / down / steady: the latest score against the oldest shown (one day's wobble is not a trend)."""
    if len(scores) < 2 or scores[-1] == scores[0]:
        return "steady"
    return "up" if scores[-1] > scores[0] else "down"


def sparkline_points(scores: list[int]) -> str:
    """SVG polyline points, oldest left; 0–100 mapped onto the height (one query made them, none here)."""
    if len(scores) < 2:
        return ""
    step = (WIDTH - 2 * PAD) / (len(scores) - 1)
    return " ".join(
        f"{PAD + i * step:.1f},{PAD + (100 - score) * (HEIGHT - 2 * PAD) / 100:.1f}" for i, score in enumerate(scores)
    )


@register.inclusion_tag("customers/_health_trend.html")
def health_trend(customer: Customer) -> dict:
    rows = list(
        HealthSnapshot.objects.filter(customer=customer)
        .order_by("-taken_on")
        .values_list("taken_on", "score")[:SPARK_POINTS]
    )[::-1]
    scores = [score for _, score in rows]
    return {
        "snapshots": rows,
        "direction": trend(scores),
        "points": sparkline_points(scores),
        "width": WIDTH,
        "height": HEIGHT,
        "first": rows[0] if rows else None,
    }
