"""The managers' dashboard page: the latest rollup drawn as SVG charts whose bars link to the customers.

Five queries whatever the data size once the rollup is fresh: session, user,
groups, today's rollup and the at-risk trend; the charts are drawn from the
stored numbers (tests/aftersales/dashboard/test_dashboard.py asserts it at two data sizes).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import dateformat, timezone
from django.views.decorators.http import require_safe

from aftersales.core.access import manager_required
from aftersales.dashboard.charts import Column, ColumnChart, RepChart, RepRow, Segment
from aftersales.dashboard.rollups import at_risk_trend, dashboard_current
from aftersales.dashboard.selectors import NpsSummary
from customers.models import FlagReason

TREND_LABEL_EVERY = 5


def customers_url(**params: object) -> str:
    return reverse("customers:list") + "?" + urlencode({key: value for key, value in params.items() if value != ""})


def risk_url(**params: object) -> str:
    """The at-risk list (``risk:list``), filtered; its page ships with the same issue."""
    try:
        base = reverse("risk:list")
    except NoReverseMatch:
        base = "/risk/"
    return base + ("?" + urlencode(params) if params else "")


def scorecard_url(rep_id: int) -> str:
    try:
        return reverse("rep_scorecard", kwargs={"rep_pk": rep_id})
    except NoReverseMatch:
        return f"/reps/{rep_id}/scorecard/"


def _month(key: str) -> dt.date:
    year, month = key.split("-")
    return dt.date(int(year), int(month), 1)


def _signed(value: int | None) -> str:
    if value is None:
        return "—"
    return f"+{value}" if value > 0 else str(value)


def _hours(hours: float | None) -> str:
    """Short enough to sit above a bar: "4.5 h", "36 h"."""
    if hours is None:
        return "—"
    return f"{hours:.0f} h" if hours >= 10 else f"{hours:g} h"


def _span(data: dict) -> str:
    """ "Dec 2025 – Nov 2026": month labels under the bars carry no year."""
    first, last = (dateformat.format(_month(key), "M Y") for key in (data["months"][0], data["months"][-1]))
    return f"{first} – {last}"


def nps_chart(data: dict) -> tuple[ColumnChart, list[dict]]:
    columns: list[Column] = []
    scores: list[float | None] = []
    rows: list[dict[str, Any]] = []
    for key in data["months"]:
        counts = data["answers"].get(key, {})
        summary = NpsSummary(
            responses=counts.get("nps_answers", 0),
            promoters=counts.get("promoters", 0),
            detractors=counts.get("detractors", 0),
        )
        name = dateformat.format(_month(key), "F Y")
        links = {part: customers_url(answered=key, nps=part) for part in ("detractor", "passive", "promoter")}
        segments = [
            Segment(
                summary.detractors, "bar-detractor", links["detractor"], f"{name}: {summary.detractors} detractors"
            ),
            Segment(summary.passives, "bar-passive", links["passive"], f"{name}: {summary.passives} passives"),
            Segment(summary.promoters, "bar-promoter", links["promoter"], f"{name}: {summary.promoters} promoters"),
        ]
        columns.append(
            Column(
                label=dateformat.format(_month(key), "M"),
                caption=_signed(summary.score),
                caption_href=customers_url(answered=key),
                caption_title=f"{name}: NPS {_signed(summary.score)} from {summary.responses} answers",
                segments=segments,
            )
        )
        scores.append(summary.score)
        rows.append({"key": key, "name": name, "summary": summary, "links": links, "all": customers_url(answered=key)})
    chart = ColumnChart(
        id="nps-chart",
        title="NPS by month, last 12 months",
        desc="Stacked bars of detractors (0–6), passives (7–8) and promoters (9–10) per month; "
        "the number above each bar and the line are the month's NPS.",
        columns=columns,
        line=scores,
        line_label="NPS",
    )
    return chart, rows


def _monthly(data: dict, point, *, css: str, **chart: Any) -> ColumnChart:
    """One bar per month of ``data["months"]``; ``point(key, name)`` gives (value or None, caption, href, title)."""
    columns = []
    for key in data["months"]:
        value, caption, href, title = point(key, dateformat.format(_month(key), "F Y"))
        columns.append(
            Column(
                label=dateformat.format(_month(key), "M"),
                caption=caption if value is not None else "—",
                caption_href=href,
                caption_title=title,
                segments=[Segment(value or 0, css, href, title)],
            )
        )
    return ColumnChart(columns=columns, **chart)


def csat_chart(data: dict) -> ColumnChart:
    def point(key: str, name: str) -> tuple:
        counts = data["answers"].get(key, {})
        average, answers = counts.get("csat_average"), counts.get("csat_answers", 0)
        title = f"{name}: CSAT average {average} from {answers} answers" if average else f"{name}: no CSAT answers"
        return average, f"{average or 0:.1f}", customers_url(answered=key), title

    return _monthly(
        data,
        point,
        css="bar-csat",
        id="csat-chart",
        title="CSAT average by month (1–5)",
        desc="The average satisfaction score (1 to 5) of the answers submitted each month.",
        scale_max=5,
    )


def response_rate_chart(data: dict) -> ColumnChart:
    def point(key: str, name: str) -> tuple:
        counts = data["invitations"].get(key, {"sent": 0, "answered": 0})
        rate = round(100 * counts["answered"] / counts["sent"]) if counts["sent"] else None
        title = (
            f"{name}: {rate} % — {counts['answered']} of {counts['sent']} invitations answered"
            if rate is not None
            else f"{name}: no invitations sent"
        )
        return rate, f"{rate}%", customers_url(invited=key), title

    return _monthly(
        data,
        point,
        css="bar-rate",
        id="rate-chart",
        title="Survey response rate by month",
        desc="Of the invitations sent each month, the share that was answered.",
        scale_max=100,
    )


def loop_chart(data: dict) -> ColumnChart:
    def point(key: str, name: str) -> tuple:
        loop = data["loops"].get(key)
        still_open = data["loops_open"].get(key, 0)
        hours = loop["median_hours"] if loop else None
        title = (
            f"{name}: median {hours} h over {loop['closed']} closed loops, {still_open} still open"
            if loop
            else f"{name}: no detractor loop closed, {still_open} still open"
        )
        return hours, _hours(hours), customers_url(answered=key, nps="detractor"), title

    return _monthly(
        data,
        point,
        css="bar-loop",
        id="loop-chart",
        title="Median time to call a detractor back, by month of the answer",
        desc="Hours from a detractor's answer to the close-the-loop call, the median of the loops closed.",
    )


def at_risk_chart(trend: list, today: dt.date) -> ColumnChart:
    columns = []
    for index, rollup in enumerate(trend):
        is_today = rollup.day == today
        name = dateformat.format(rollup.day, "j M")
        href = risk_url() if is_today else customers_url(flagged_on=rollup.day.isoformat())
        how = " (reconstructed from flag history)" if rollup.backfilled else ""
        title = f"{name}: {rollup.at_risk} customers at risk{how}"
        show = is_today or (len(trend) - 1 - index) % TREND_LABEL_EVERY == 0
        columns.append(
            Column(
                label=dateformat.format(rollup.day, "j M") if show else "",
                caption=str(rollup.at_risk) if show else "",
                caption_href=href,
                caption_title=title,
                segments=[Segment(rollup.at_risk, "bar-risk", href, title)],
            )
        )
    return ColumnChart(
        id="risk-chart",
        title=f"Customers at risk, last {len(trend)} days",
        desc="Customers with at least one open risk flag at the end of each day; today's bar opens the at-risk list.",
        columns=columns,
    )


def rep_chart(data: dict) -> RepChart:
    rows = [
        RepRow(
            name=rep["name"],
            rate=rep["rate"],
            rate_href=scorecard_url(rep["id"]),
            rate_title=f"{rep['name']}: {rep['done']} of {rep['due']} check-ups due done"
            + (f" ({rep['rate']} %)" if rep["rate"] is not None else ""),
            overdue=rep["overdue"],
            overdue_href=customers_url(overdue_for=rep["id"]),
            overdue_title=f"{rep['name']}: {rep['overdue']} overdue check-ups",
        )
        for rep in data["reps"]
    ]
    return RepChart(
        id="rep-chart",
        title=f"Check-ups per rep: completion rate (last {data['checkup_window_days']} days) and overdue now",
        desc="For each rep, the share of check-ups that fell due in the window and were done, "
        "and the number of scheduled check-ups past their due time.",
        rows=rows,
    )


@manager_required
@require_safe
def dashboard(request: HttpRequest) -> HttpResponse:
    """Managers only: who is at risk and why, the trends, and every number a link to the customers behind it."""
    now = timezone.now()
    rollup = dashboard_current(now=now)
    data = rollup.data
    head = data["headline"]
    labels = dict(FlagReason.choices)
    flags = [(labels.get(reason, reason), count, risk_url(reason=reason)) for reason, count in head["flags_by_reason"]]
    nps, nps_rows = nps_chart(data)
    return render(
        request,
        "touchpoints/dashboard.html",
        {
            "as_of": rollup.computed_at,
            "customer_count": head["customer_count"],
            "at_risk_count": head["at_risk_count"],
            "flags_by_reason": [(label, count) for label, count, _ in flags],
            "flag_rows": flags,
            "overdue_count": head["overdue_count"],
            "nps": NpsSummary(**head["nps"]),
            "nps_window_days": data["nps_window_days"],
            "checkup_window_days": data["checkup_window_days"],
            "span": _span(data),
            "nps_chart": nps,
            "nps_rows": nps_rows,
            "csat_chart": csat_chart(data),
            "rate_chart": response_rate_chart(data),
            "loop_chart": loop_chart(data),
            "risk_chart": at_risk_chart(at_risk_trend(today=rollup.day), rollup.day),
            "rep_chart": rep_chart(data),
            "risk_url": risk_url(),
            "overdue_url": customers_url(overdue=1),
        },
    )
