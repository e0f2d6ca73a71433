"""The validation report for people (validation.md): totals, a table per batch that needs
a look, and what to do; from the `ValidationReport` the validate stage computed.

The stage script writes it (`datawheel.api.render_markdown`); datawheel.pipeline.validate
computes the outcomes and knows nothing of Markdown.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from datawheel.pipeline.validate import ValidationReport
from datawheel.render.format import Markdown, code, number, table

_TOTALS = ("batches", "passed", "warning", "failed", "acknowledged", "rows", "quarantined_rows")
_ICONS = {"passed": "✅", "warning": "⚠️", "failed": "❌"}


def render_markdown(report: ValidationReport) -> str:
    """A summary for people: totals, a table per batch needing a look, and what to do."""
    totals = report.totals
    verdict = "passed" if report.passed else "failed"
    out = [
        f"## {_ICONS[verdict]} Data validation {verdict}",
        "",
        f"{totals['batches']} batches: {totals['passed']} passed, {totals['warning']} with "
        f"warnings, {totals['failed']} failed ({totals['acknowledged']} acknowledged). "
        f"{totals['quarantined_rows']:,} of {totals['rows']:,} rows quarantined.",
        "",
        *table(
            ["Batches", "Passed", "Warnings", "Failed", "Acknowledged", "Rows", "Quarantined rows"],
            [[number(totals[key]) for key in _TOTALS]],
            "r" * len(_TOTALS),
        ),
    ]
    for batch in report.batches:
        if batch.status == "passed":
            continue
        shown = [
            o
            for o in batch.outcomes
            if not o.success or (o.severity == "critical" and o.unexpected_count)
        ]
        status = batch.status
        if status == "failed" and report.is_acknowledged(batch.batch):
            status = "failed, acknowledged"
        out += [
            "",
            f"### {_ICONS[batch.status]} {code(batch.batch)} ({status})",
            "",
            (
                f"{batch.rows:,} rows, {batch.quarantined_rows:,} quarantined."
                if batch.rows
                else "Rejected by ingest: none of its rows enter the pipeline."
            ),
        ]
        rows = []
        for o in shown:
            if o.unexpected_count is not None and o.element_count:
                failing = f"{o.unexpected_count:,} / {o.element_count:,}"
                if o.small_batch:
                    failing += f" (rows quarantined: {o.message})"
                elif o.success:
                    failing += " (rows quarantined)"
            else:
                failing = o.message or o.observed_text
            rows.append(
                [
                    Markdown(code(batch.batch)),
                    o.suite,
                    Markdown(code(o.expectation_type)),
                    o.column or "(batch)",
                    o.severity,
                    failing,
                    Markdown(" ".join(code(r) for r in o.sample_row_ids[:3])),
                ]
            )
        headers = ["Batch", "Suite", "Rule", "Column", "Severity", "Failing rows / total"]
        out += ["", *table([*headers, "Sample row ids"], rows)]
    if report.stale_acknowledgements:
        out += [
            "",
            "Acknowledged in params.yaml but not a failed batch (remove these entries): "
            + ", ".join(code(a) for a in report.stale_acknowledgements),
        ]
    out += ["", "### What to do", ""]
    if report.failed_batches:
        names = ", ".join(code(PurePosixPath(b.batch).name) for b in report.failed_batches)
        out += [
            f"Failed batches stop the pipeline: {names}. Raw data is append-only, so either",
            "",
            "- fix the data upstream and add a corrected batch (a new file under `data/raw`), "
            "or fix the suite in `expectations/` if the rule itself is wrong; or",
            "- acknowledge the batch: add its file name to `validate.acknowledged_batches` in "
            "`params.yaml`. It stays excluded from training, and the pipeline goes on.",
        ]
    else:
        out += [
            "Nothing blocks the pipeline. Quarantined rows are left out of training; "
            "warnings are worth a look before they become failures.",
        ]
    return "\n".join(out) + "\n"
