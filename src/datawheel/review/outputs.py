"""The files `datawheel diff|report|drift --out` writes: the actions run on a result.

As a GX checkpoint's actions run on its result, these take a review that is already made
(a `Report` from datawheel.review.report, a `Monitor` from datawheel.review.monitor), render
it (datawheel.render: Markdown, JSON, PNG bytes) and then write every file in one place,
`write_files`, each atomically. Nothing here computes a statistic or reads a revision.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from datawheel.config.catalog import DRIFT_JSON, DRIFT_MARKDOWN, REPORT_JSON, REPORT_MARKDOWN
from datawheel.io.files import atomic_write, json_safe, to_json, write_text
from datawheel.render.format import LIMIT

if TYPE_CHECKING:
    from datawheel.review.monitor import Monitor
    from datawheel.review.report import Report


def report_files(report: Report, limit: int = LIMIT) -> dict[str, str | bytes]:
    """report.md, report.json and one PNG per shifted column, by file name; the report's
    `plots` are set to the PNGs' names, which report.md and report.json list."""
    from datawheel.render.drift_plots import shifted_pngs
    from datawheel.render.report import render_markdown

    pngs = shifted_pngs(report.diff.drift)
    report.plots = list(pngs)
    return {
        REPORT_MARKDOWN: render_markdown(report, limit),
        REPORT_JSON: to_json(report.to_dict()),
        **pngs,
    }


def drift_files(result: Monitor, limit: int = LIMIT) -> dict[str, str | bytes]:
    """drift.md, drift.json and one PNG per shifted column, by file name."""
    from datawheel.render.drift import render_drift_markdown
    from datawheel.render.drift_plots import shifted_pngs

    return {
        DRIFT_MARKDOWN: render_drift_markdown(result, limit),
        DRIFT_JSON: to_json(json_safe(result.to_dict())),
        **shifted_pngs(result.report),
    }


def write_files(out_dir: str | Path, files: Mapping[str, str | bytes]) -> list[Path]:
    """Write each file (text as UTF-8, bytes as they are) into out_dir; their paths."""
    out_dir = Path(out_dir)
    written = []
    for name, content in files.items():
        path = out_dir / name
        if isinstance(content, bytes):
            atomic_write(path, _bytes_writer(content))
        else:
            write_text(path, content)
        written.append(path)
    return written


def write_outputs(report: Report, out_dir: str | Path, limit: int = LIMIT) -> list[Path]:
    """`datawheel diff|report --out`: report.md, report.json and the PNGs into out_dir."""
    return write_files(out_dir, report_files(report, limit))


def write_drift_outputs(result: Monitor, out_dir: str | Path, limit: int = LIMIT) -> list[Path]:
    """`datawheel drift --out`: drift.md, drift.json and the PNGs into out_dir."""
    return write_files(out_dir, drift_files(result, limit))


def _bytes_writer(data: bytes) -> Callable[[Path], object]:
    return lambda tmp: tmp.write_bytes(data)
