"""Geometry of the sync-activity bar chart, drawn as inline SVG by the template (no script, no CDN)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..domain.reports import ActivityBucket

# Stacked from the bottom up, each with its CSS class in static/app.css.
SERIES = ("created", "duplicates", "conflicts", "rejected", "refused")


@dataclass(frozen=True)
class Segment:
    series: str
    y: float
    height: float
    value: int


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    start: datetime
    total: int
    segments: list[Segment]
    labelled: bool  # every few bars carry a time label under the axis


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    plot_height: int
    peak: int
    bars: list[Bar]


def bar_chart(buckets: list[ActivityBucket], *, width: int = 720, height: int = 160, labels: int = 6) -> Chart:
    """Stacked bars scaled to the busiest bucket; an all-quiet period draws empty bars, not a division by zero."""
    plot_height = height - 20  # room for the time labels
    peak = max((bucket.total for bucket in buckets), default=0)
    scale = plot_height / peak if peak else 0
    slot = width / max(len(buckets), 1)
    every = max(len(buckets) // labels, 1)
    bars = []
    for index, bucket in enumerate(buckets):
        top = float(plot_height)
        segments = []
        for series in SERIES:
            value = getattr(bucket, series)
            if value:
                segment_height = value * scale
                top -= segment_height
                segments.append(Segment(series, round(top, 2), round(segment_height, 2), value))
        bars.append(
            Bar(
                round(index * slot + slot * 0.1, 2),
                round(slot * 0.8, 2),
                bucket.start,
                bucket.total,
                segments,
                index % every == 0,
            )
        )
    return Chart(width, height, plot_height, peak, bars)
