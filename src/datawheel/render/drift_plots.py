"""Drift as pictures: a column's before/after distribution drawn as PNG bytes.

Pure: from a `ColumnDrift` that datawheel.review.drift computed to bytes, the same bytes for
the same result; datawheel.review.outputs writes them beside report.md and drift.md.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from datawheel.review.drift import ColumnDrift, DriftReport


_PNG_METADATA = {"Software": None}
_DPI = 100


def column_png(result: ColumnDrift) -> bytes:
    """Before/after histogram (numeric) or bar chart of shares (categorical), PNG bytes.

    Drawn on an Agg canvas bound to its own Figure, with no software or date metadata, so
    the same result gives the same bytes.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    hist = result.histogram
    figure = Figure(figsize=(6.4, 4.0), dpi=_DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    if "edges" in hist:
        edges = np.asarray(hist["edges"])
        widths = np.diff(edges)
        axes.bar(edges[:-1], hist["before"], width=widths, align="edge", alpha=0.5, label="before")
        axes.bar(edges[:-1], hist["after"], width=widths, align="edge", alpha=0.5, label="after")
        axes.set_xlabel(result.column)
    elif "categories" in hist:
        positions = np.arange(len(hist["categories"]))
        axes.bar(positions - 0.2, hist["before"], width=0.4, label="before")
        axes.bar(positions + 0.2, hist["after"], width=0.4, label="after")
        axes.set_xticks(positions, [str(c) for c in hist["categories"]], rotation=60, ha="right")
    else:
        axes.text(0.5, 0.5, "not tested: too few rows", ha="center", va="center")
    axes.set_ylabel("share of rows")
    effects = [
        f"{name} {value:.3f}"
        for name, value in (
            ("PSI", result.psi),
            ("W/IQR", result.wasserstein),
            ("JS", result.js_distance),
        )
        if value is not None
    ]
    axes.set_title(
        f"{result.column}: {result.verdict}" + (f" ({', '.join(effects)})" if effects else "")
    )
    if hist:
        axes.legend(loc="best", fontsize="small")
    figure.tight_layout()
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=_DPI, metadata=_PNG_METADATA)
    return png.getvalue()


def shifted_pngs(report: DriftReport) -> dict[str, bytes]:
    """One PNG per shifted column, by file name: `drift-<column>.png`."""
    return {png_name(c.column): column_png(c) for c in report.columns if c.shifted}


def png_name(column: str) -> str:
    """The PNG's file name for a column, with what a file name cannot hold replaced by `_`."""
    slug = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in column)
    return f"drift-{slug}.png"
