"""Drift as Markdown: the distribution-shift section of the review (report.md) and the
document `datawheel drift --out` writes (drift.md), from a `DriftReport` and a monitor's
result that datawheel.review computed. Effect sizes are shown here for the terminal too.

Like the review, drift.md fits GitHub's comment limit: long lists are cut to fewer rows
(each cut names drift.json, which has them all) until it fits, else it is truncated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from datawheel.config.catalog import DRIFT_JSON, REPORT_JSON
from datawheel.render.format import (
    CAPS,
    LEVEL_ICONS,
    LIMIT,
    Markdown,
    cell,
    code,
    details,
    github_length,
    more,
    names,
    p_value,
    table,
    truncate,
)

if TYPE_CHECKING:
    from datawheel.review.drift import ColumnDrift, ColumnSummary, DriftReport
    from datawheel.review.monitor import Monitor


def _summary_text(summary: ColumnSummary, kind: str) -> str:
    if summary.rows == 0:
        return "no rows"
    nulls = f" · nulls {summary.null_rate:.1%}" if summary.nulls else ""
    if kind == "numeric":
        if summary.mean is None:
            return f"all null{nulls}"
        return (
            f"mean {summary.mean:.4g} · median {summary.p50:.4g} · "
            f"[{summary.min:.4g}, {summary.max:.4g}]{nulls}"
        )
    top = ", ".join(f"{v} {s:.0%}" for v, s in summary.top[:3])
    return f"{summary.distinct} values: {top}{nulls}"


def effect_sizes(column: ColumnDrift) -> str:
    """The effect sizes of a column's test, formatted for a table cell."""
    parts = []
    if column.psi is not None:
        parts.append(f"PSI {column.psi:.3f}")
    if column.wasserstein is not None:
        parts.append(f"W {column.wasserstein:.3f} IQR")
    if column.js_distance is not None:
        parts.append(f"JS {column.js_distance:.3f}")
    if column.role == "label" and column.max_share_delta is not None:
        parts.append(f"share Δ {column.max_share_delta:.3f}")
    return " · ".join(parts) or "—"


def _null_text(column: ColumnDrift) -> str:
    b, a = column.before.null_rate, column.after.null_rate
    if b is None or a is None:
        return "—"
    return f"{b:.1%} → {a:.1%}"


_VERDICT = {"shifted": "**shifted**", "stable": "stable", "not_tested": "not tested"}


def drift_lines(
    drift: DriftReport, cap: int, title: str = "### Distribution shift", full: str = REPORT_JSON
) -> list[str]:
    """The distribution-shift section: the rule, the shifted columns, every column folded;
    cut lists name `full`, the JSON file with all of them."""
    s = drift.settings
    lines = [
        "",
        title,
        "",
        f"Before: {drift.before_label}, {drift.rows_before:,} rows · after: "
        f"{drift.after_label}, {drift.rows_after:,} rows. A column is shifted when its "
        f"Benjamini-Hochberg corrected p-value (q) is below {s['alpha']:g} and an effect size "
        f"reaches its threshold (PSI {s['psi_threshold']:g}, Wasserstein "
        f"{s['wasserstein_threshold']:g} IQR, Jensen-Shannon {s['js_threshold']:g}, null rate "
        f"{s['null_rate_threshold']:g}, label share {s['label_threshold']:g}).",
    ]
    shifted = [c for c in drift.columns if c.shifted]
    if shifted:
        rows = [
            [
                Markdown(code(c.column)),
                c.kind + (" (label)" if c.role == "label" else ""),
                p_value(c.q_value),
                effect_sizes(c),
                _null_text(c),
                "; ".join(c.reasons),
            ]
            for c in shifted[: max(cap, 5)]
        ]
        lines += ["", *table(["Column", "Kind", "q", "Effect sizes", "Nulls", "Why"], rows)]
        lines += more(len(shifted), max(cap, 5), "shifted columns", full)
    elif drift.tested:
        lines += ["", f"Every tested column is stable ({len(drift.tested)} tested)."]
    else:
        lines += ["", "No column could be tested: too few rows on a side."]
    shown = drift.columns[:cap] if cap else []
    if shown:
        rows = [
            [
                Markdown(code(c.column)),
                _VERDICT[c.verdict],
                c.test or "—",
                p_value(c.q_value),
                effect_sizes(c),
                _null_text(c),
                _summary_text(c.before, c.kind),
                _summary_text(c.after, c.kind),
            ]
            for c in shown
        ]
        for row in rows:
            row[1] = Markdown(row[1])
        body = table(
            ["Column", "Verdict", "Test", "q", "Effect sizes", "Nulls", "Before", "After"], rows
        )
        body += more(len(drift.columns), len(shown), "columns", full)
        lines += details(f"All {len(drift.columns)} columns: tests and statistics", body)
    return lines


def render_drift_markdown(result: Monitor, limit: int = LIMIT) -> str:
    """Markdown for `datawheel drift`: the verdict and the per-column table."""
    shifted = result.shifted
    icon = LEVEL_ICONS["attention" if shifted else "ok"]
    verdict = (
        f"{len(shifted)} column(s) shifted: {names(shifted)}"
        if shifted
        else "every tested column is stable"
    )
    text = ""
    for cap in CAPS:
        lines = [
            f"## {icon} Drift at `{result.commit[:8]}`: {verdict}",
            "",
            "Newest batches: " + names(result.current_batches, max(cap, 3)) + ".",
            _reference_line(result.reference, max(cap, 3)),
        ]
        lines += drift_lines(result.report, max(cap, 1), "### Columns", DRIFT_JSON)
        lines += [""] + [f"> {cell(n)}" for n in result.notes]
        text = "\n".join(lines) + "\n"
        if github_length(text) <= limit:
            return text
    return truncate(text, limit, DRIFT_JSON)


def _reference_line(reference: dict[str, Any], cap: int) -> str:
    """Which reference the drift check used (`drift.reference`) and its batches."""
    line = f"Reference (`{reference.get('kind', 'champion')}`): {reference['description']}"
    if reference.get("batches"):
        line += "; batches " + names(reference["batches"], cap)
    return line + "."
