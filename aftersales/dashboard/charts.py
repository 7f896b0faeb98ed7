"""SVG geometry for the dashboard's charts: numbers in, rectangles and labels out (no queries, no JS).

Templates under templates/charts/ draw what these return. Every chart has a
viewBox and is drawn at 100 % width, so it scales down to a phone; every bar
is a link to the customers behind it and carries its number as text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WIDTH = 480  # small enough that text stays readable when a phone scales the chart down
HEIGHT = 250
TOP = 30  # room for the value above the tallest bar
BOTTOM = 36  # room for the month labels
SIDE = 18  # room for the first and last labels, drawn centred on their bars


@dataclass(frozen=True)
class Segment:
    value: float
    css: str
    href: str
    title: str  # the bar's accessible name and tooltip, e.g. "March 2026: 12 detractors"
    y: float = 0
    height: float = 0


@dataclass
class Column:
    label: str  # under the bar, e.g. "Mar"
    caption: str  # above the bar, e.g. "+20"
    caption_href: str
    caption_title: str
    segments: list[Segment]
    x: float = 0
    width: float = 0
    top: float = 0

    @property
    def center(self) -> float:
        return round(self.x + self.width / 2, 1)

    @property
    def caption_y(self) -> float:
        return round(self.top - 6, 1)

    @property
    def total(self) -> float:
        return sum(segment.value for segment in self.segments)


@dataclass
class ColumnChart:
    """Vertical bars, optionally stacked, with an optional line on a −100…100 scale (NPS)."""

    id: str
    title: str
    desc: str
    columns: list[Column]
    scale_max: float | None = None
    line: list[float | None] = field(default_factory=list)
    line_label: str = ""
    width: int = WIDTH
    height: int = HEIGHT

    def __post_init__(self) -> None:
        plot_height = self.height - TOP - BOTTOM
        largest = self.scale_max or max((column.total for column in self.columns), default=0) or 1
        slot = (self.width - 2 * SIDE) / max(len(self.columns), 1)
        for index, column in enumerate(self.columns):
            column.width = round(slot * 0.62, 1)
            column.x = round(SIDE + index * slot + (slot - column.width) / 2, 1)
            bottom = self.baseline
            placed = []
            for segment in column.segments:
                height = plot_height * segment.value / largest if largest else 0
                bottom -= height
                placed.append(
                    Segment(
                        value=segment.value,
                        css=segment.css,
                        href=segment.href,
                        title=segment.title,
                        y=round(bottom, 1),
                        height=round(height, 1),
                    )
                )
            column.segments = placed
            column.top = bottom

    @property
    def baseline(self) -> float:
        return self.height - BOTTOM

    @property
    def label_y(self) -> float:
        return self.height - BOTTOM + 20

    @property
    def line_points(self) -> list[tuple[float, float, float]]:
        """(x, y, value) of each month that has a value, y on a −100…100 scale over the plot."""
        plot_height = self.height - TOP - BOTTOM
        return [
            (round(column.center, 1), round(self.baseline - plot_height * (value + 100) / 200, 1), value)
            for column, value in zip(self.columns, self.line, strict=False)
            if value is not None
        ]

    @property
    def line_path(self) -> str:
        return " ".join(f"{x},{y}" for x, y, _ in self.line_points)

    @property
    def zero_y(self) -> float:
        return round(self.baseline - (self.height - TOP - BOTTOM) / 2, 1)


ROW = 32
NAME_WIDTH = 140
RATE_WIDTH = 220


@dataclass
class RepRow:
    name: str
    rate: int | None
    rate_href: str
    rate_title: str
    overdue: int
    overdue_href: str
    overdue_title: str
    y: float = 0
    bar_width: float = 0


@dataclass
class RepChart:
    """One row per rep: completion rate as a horizontal bar (0–100 %), overdue check-ups as a linked number."""

    id: str
    title: str
    desc: str
    rows: list[RepRow]
    width: int = WIDTH
    name_width: int = NAME_WIDTH
    rate_width: int = RATE_WIDTH

    def __post_init__(self) -> None:
        for index, row in enumerate(self.rows):
            row.y = 24 + index * ROW  # an int: templates add offsets with |add
            row.bar_width = round(self.rate_width * (row.rate or 0) / 100, 1)

    @property
    def height(self) -> int:
        return 24 + ROW * max(len(self.rows), 1) + 4

    @property
    def rate_x(self) -> int:
        return self.name_width

    @property
    def overdue_x(self) -> int:
        return self.width - 4
