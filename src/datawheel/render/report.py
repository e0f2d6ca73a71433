"""The pull-request review as GitHub-flavoured Markdown (report.md): the verdict, what
merging would do, then the data diff, data tests and model impact section by section.

`render_markdown(report)` only shows a `datawheel.review.report.Report` (its verdict comes
from the report's own `verdict()`); gathering the revisions and judging them is in
datawheel.review.report, writing the files in datawheel.review.outputs.

The Markdown always fits GitHub's 65,536-character comment limit: long lists are cut to
fewer and fewer rows (each cut says how many more are in report.json) until it fits, and as
a last resort the text is truncated at a line boundary with a visible note and every open
`<details>` closed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from datawheel.config.catalog import REPORT_JSON
from datawheel.render.drift import drift_lines
from datawheel.render.format import (
    CAPS,
    LEVEL_ICONS,
    LIMIT,
    MISSING,
    Markdown,
    cell,
    code,
    details,
    fixed,
    github_length,
    more,
    names,
    number,
    short,
    signed,
    table,
)
from datawheel.render.format import truncate as _truncate
from datawheel.render.terminal import task_metrics

if TYPE_CHECKING:
    from datawheel.review.diff import DataDiff
    from datawheel.review.report import DataTests, Merge, ModelImpact, Report

__all__ = ["LIMIT", "merge_markdown", "render_markdown", "truncate"]


def truncate(text: str, limit: int) -> str:
    """Cut the review's Markdown at a line boundary to fit `limit`, close open <details>,
    say so (the full report: report.json)."""
    return _truncate(text, limit, REPORT_JSON)


def render_markdown(report: Report, limit: int = LIMIT) -> str:
    """GitHub-flavoured Markdown for a PR comment, at most `limit` characters (see module)."""
    text = ""
    for cap in CAPS:
        text = _render(report, cap)
        if github_length(text) <= limit:
            return text
    return truncate(text, limit)


def _render(report: Report, cap: int) -> str:
    level, headline, findings = report.verdict()
    diff = report.diff
    lines = [
        f"## {LEVEL_ICONS[level]} Data review: `{diff.base_commit[:8]}` → `{diff.head_commit[:8]}`",
        "",
    ]
    if report.merge is not None:
        lines += [merge_markdown(report.merge), ""]
    lines.append(f"**{cell(headline)}**")
    if findings:
        lines.append("")
        n = max(cap, 3)
        lines += [f"- {cell(short(f, 300))}" for f in findings[:n]]
        if len(findings) > n:
            lines.append(f"- _… and {len(findings) - n} more findings: see `{REPORT_JSON}`._")
    lines += _summary_lines(report)
    lines += _schema_lines(diff, cap)
    if not diff.data_error:
        lines += drift_lines(diff.drift, cap)
        lines += _row_lines(diff, cap)
    if report.tests is not None:
        lines += _test_lines(report.tests, cap)
    if report.model is not None:
        lines += _model_lines(report.model, cap)
    lines += _batch_lines(diff, cap)
    notes = [*diff.notes, *diff.drift.notes]
    if report.plots:
        notes.append("Plots of the shifted columns: " + ", ".join(code(p) for p in report.plots))
    lines += [""] + [f"> {cell(n)}" for n in notes] + ([""] if notes else [])
    lines.append(
        f"<sub>datawheel review of {code(diff.base)} → {code(diff.head)}; "
        f"every number, sample and list in full: `{REPORT_JSON}`.</sub>"
    )
    return "\n".join(lines) + "\n"


def _summary_lines(report: Report) -> list[str]:
    diff = report.diff
    rows = diff.rows
    added, removed, modified = (len(diff.of_change(c)) for c in ("added", "removed", "modified"))
    cells = [
        [
            "Batches",
            f"{added} added · {removed} removed · {modified} modified · "
            f"{diff.unchanged_batches:,} unchanged",
        ],
        [
            "Rows by row id",
            f"+{rows.added:,} added · −{rows.removed:,} removed · "
            f"{rows.unchanged:,} unchanged in modified batches",
        ],
        [
            "Rows by entity",
            f"{rows.new:,} new · {rows.deleted:,} deleted · {rows.changed:,} changed "
            f"({rows.entities_changed:,} entities edited)",
        ],
        [
            "Distribution",
            f"{len(diff.drift.shifted)} of {len(diff.drift.tested)} tested columns shifted",
        ],
    ]
    if diff.data_error:
        base, head = (str(diff.pointers.get(k) or "—")[:8] for k in ("base", "head"))
        cells[0][1] = f"not readable · `{diff.raw_dir}` md5 {base} → {head}"
        cells[1][1] = cells[2][1] = cells[3][1] = "unknown"
    schema = diff.schema
    parts = []
    if schema.columns:
        parts.append(f"{len(schema.columns)} column change(s)")
    if schema.contract_breaks:
        parts.append(f"{len(schema.contract_breaks)} batch(es) break the contract")
    if schema.contract:
        parts.append(f"{len(schema.contract)} contract key(s)")
    if schema.suites:
        parts.append(f"{len(schema.suites)} suite(s)")
    if schema.params:
        parts.append(f"{len(schema.params)} other params key(s)")
    cells.append(["Schema and contract", " · ".join(parts) or "no change"])
    if report.tests is not None:
        t = report.tests
        cells.append(
            [
                "Data tests",
                f"{len(t.newly_failing)} newly failing · {len(t.newly_passing)} newly passing",
            ]
        )
    if report.model is not None:
        m = report.model
        if not m.available:
            text = "pipeline not run at HEAD"
        else:
            decision = str((m.gate or {}).get("decision", "?")).upper()
            text = f"gate **{decision}**"
            candidate = fixed((m.metrics.get("candidate") or {}).get(m.primary_metric), 4)
            if candidate != MISSING:
                text += f" · {m.primary_metric} {candidate}"
                if not m.metrics.get("champion"):
                    text += " (no champion yet)"
            boot = m.bootstrap
            if boot:
                low, high = boot.get("ci_low"), boot.get("ci_high")
                text += (
                    f" · {boot.get('metric')} Δ {signed(boot.get('delta'))} "
                    f"[{signed(low)}, {signed(high)}]"
                )
            if not m.fresh:
                text += " · stale"
        cells.append(["Model", Markdown(text)])
    return ["", *table(["", ""], cells)]


def merge_markdown(merge: Merge) -> str:
    """What merging would do, as one Markdown paragraph: the decision in bold, then the model."""
    text = f"**{cell(merge.headline)}**{cell(merge.detail)}"
    if merge.estimator is None:
        return text
    settings = [code(f"{key}={value}") for key, value in merge.params.items()]
    if merge.seed is not None:
        settings.append(f"seed {merge.seed}")
    model = code(merge.estimator) + (f" ({', '.join(settings)})" if settings else "")
    what = {
        "promote": "It ships",
        "hold": "The candidate held back is",
    }.get(merge.decision, "HEAD's params.yaml trains")
    return f"{text} {what} {model}."


def _schema_lines(diff: DataDiff, cap: int) -> list[str]:
    schema = diff.schema
    if schema.empty:
        return []
    lines = ["", "### Schema and contract"]
    if schema.columns:
        rows = [
            [
                Markdown(code(c.column)),
                c.change,
                c.before or "—",
                c.after or "—",
                _batches_text(c.batches),
            ]
            for c in schema.columns[: max(cap, 3)]
        ]
        lines += ["", *table(["Column", "Change", "BASE", "HEAD", "Batches"], rows)]
        lines += more(len(schema.columns), max(cap, 3), "column changes", REPORT_JSON)
    if schema.contract_breaks:
        lines += ["", "Batches that break the data contract (ingest quarantines them whole):", ""]
        for item in schema.contract_breaks[: max(cap, 3)]:
            lines.append(f"- {code(item['batch'])}: {cell(short(item['message'], 300))}")
        lines += more(len(schema.contract_breaks), max(cap, 3), "batches", REPORT_JSON)
    for title, changes in (
        ("Data contract (params.yaml `contract`)", schema.contract),
        ("Other params.yaml keys", schema.params),
    ):
        if changes:
            rows = [
                [Markdown(code(k.key)), k.change, short(k.before), short(k.after)]
                for k in changes[: max(cap, 3)]
            ]
            lines += ["", f"{title}:", "", *table(["Key", "Change", "BASE", "HEAD"], rows)]
            lines += more(len(changes), max(cap, 3), "keys", REPORT_JSON)
    if schema.suites:
        rows = []
        for suite in schema.suites[: max(cap, 3)]:
            counts: dict[str, int] = {}
            for e in suite.expectations:
                counts[e.change] = counts.get(e.change, 0) + 1
            summary = ", ".join(f"{n} {change}" for change, n in sorted(counts.items()))
            rows.append(
                [
                    Markdown(code(suite.name)),
                    suite.change,
                    Markdown(code(suite.path)),
                    summary or "—",
                ]
            )
        lines += [
            "",
            "Expectation suites:",
            "",
            *table(["Suite", "Change", "File", "Expectations"], rows),
        ]
        lines += more(len(schema.suites), max(cap, 3), "suites", REPORT_JSON)
        expectations = []
        for suite in schema.suites:
            for e in suite.expectations:
                what = ", ".join(e.fields) if e.fields else e.change
                expectations.append(
                    [
                        Markdown(code(suite.name)),
                        Markdown(code(e.type)),
                        e.column or "—",
                        e.change,
                        what,
                        short(e.before),
                        short(e.after),
                    ]
                )
        if expectations and cap:
            body = table(
                ["Suite", "Expectation", "Column", "Change", "What", "BASE", "HEAD"],
                expectations[:cap],
            )
            body += more(len(expectations), cap, "expectation changes", REPORT_JSON)
            lines += details(f"{len(expectations)} expectation change(s)", body)
    return lines


def _row_lines(diff: DataDiff, cap: int) -> list[str]:
    rows = diff.rows
    if not (rows.added or rows.removed):
        return []
    lines = ["", "### Rows"]
    if rows.changed_columns:
        changed = ", ".join(f"{code(c)} {n:,}" for c, n in sorted(rows.changed_columns.items()))
        lines += [
            "",
            f"Values changed in edited records (one row per entity on each side): {changed}.",
        ]
    if not cap:
        return lines
    body: list[str] = []
    entity = rows.id_column or "entity"
    for name, what in (("added", "Added (new entities)"), ("removed", "Removed (entities gone)")):
        sample = rows.samples.get(name) or []
        if sample:
            cells = [
                [Markdown(code(r["row_id"])), r["entity"], Markdown(code(r["batch"])), r["line"]]
                for r in sample[:cap]
            ]
            body += [
                f"**{what}**",
                "",
                *table(["row_id", entity, "batch", "line"], cells, "lllr"),
                "",
            ]
    changed_rows = rows.samples.get("changed") or []
    if changed_rows:
        changed_cells: list[list[Any]] = []
        for r in changed_rows[:cap]:
            if r.get("changes") is None:
                changed_cells.append([r["entity"], "—", "—", "several rows per side"])
                continue
            values = "; ".join(
                f"{c}: {short(v[0], 30)} → {short(v[1], 30)}" for c, v in r["changes"].items()
            )
            changed_cells.append(
                [
                    r["entity"],
                    Markdown(code(r["before"]["row_id"])),
                    Markdown(code(r["after"]["row_id"])),
                    values or "(provenance only)",
                ]
            )
        body += [
            "**Changed (same entity, new row id)**",
            "",
            *table([entity, "row_id before", "row_id after", "values"], changed_cells),
        ]
    if body:
        lines += details("Samples of added, removed and changed rows (first in batch order)", body)
    return lines


def _test_lines(tests: DataTests, cap: int) -> list[str]:
    lines = [
        "",
        "### Data tests",
        "",
        f"BASE: {tests.base_source}. HEAD: {tests.head_source}.",
    ]
    for title, rules in (
        ("Newly failing", tests.newly_failing),
        ("Newly passing", tests.newly_passing),
    ):
        if not rules:
            lines += ["", f"{title}: none."]
            continue
        n = max(cap, 5)
        rows = [
            [
                Markdown(code(r.rule)),
                r.severity,
                number(r.failing_rows) if r.failing_rows is not None else short(r.message, 80),
                _batches_text(r.batches),
            ]
            for r in rules[:n]
        ]
        lines += [
            "",
            f"{title}:",
            "",
            *table(["Rule", "Severity", "Failing rows", "Batches"], rows, "llrl"),
        ]
        lines += more(len(rules), n, "rules", REPORT_JSON)
    if tests.still_failing:
        lines += [
            "",
            "Still failing (as at BASE): "
            + names([r.rule for r in tests.still_failing], max(cap, 3))
            + ".",
        ]
    if tests.changed_batches and cap:
        rows = []
        for b in tests.changed_batches[:cap]:
            failures = "; ".join(
                f"{f['rule']} ({f['severity']}"
                + (f", {f['unexpected_count']:,} rows" if f.get("unexpected_count") else "")
                + ")"
                for f in b["failures"][:5]
            )
            rows.append([Markdown(code(b["batch"])), b["status"], failures or "—"])
        body = table(["Batch", "Status", "Failures"], rows)
        body += more(len(tests.changed_batches), cap, "batches", REPORT_JSON)
        lines += details(
            f"Data tests on the {len(tests.changed_batches)} added or modified batch(es)", body
        )
    for note in tests.notes:
        lines += ["", f"> {note}"]
    return lines


def _gate_markdown(gate: dict[str, Any]) -> list[str]:
    from datawheel.registry.gate import GateDecision
    from datawheel.render.gate import render_gate_json

    try:
        GateDecision.from_dict(gate)
        return render_gate_json(gate).rstrip("\n").splitlines()
    except (KeyError, TypeError):
        return [f"**Gate: {str(gate.get('decision', '?')).upper()}**", ""] + [
            f"- {cell(r)}" for r in gate.get("reasons") or []
        ]


def _model_lines(model: ModelImpact, cap: int) -> list[str]:
    lines = ["", "### Model impact", ""]
    if not model.available:
        return [*lines, model.note]
    if model.note:
        lines += [f"> ⚠️ {model.note}", ""]
    metrics = model.metrics
    version = model.champion_version
    columns = [("candidate", "Candidate (HEAD)")]
    if metrics.get("champion"):
        columns.append(("champion", f"Champion {version}" if version else "Champion"))
    columns.append(("baseline", "Naive baseline"))
    headers = ["Metric", *(label for _, label in columns)]
    if model.base_candidate:
        headers.append("Candidate at BASE")
    rows = []
    groups = [metrics.get(key) or {} for key, _ in columns] + [model.base_candidate or {}]
    for metric in task_metrics(groups):
        row: list[Any] = [Markdown(f"**{metric}**" if metric == model.primary_metric else metric)]
        row += [fixed((metrics.get(key) or {}).get(metric), 4) for key, _ in columns]
        if model.base_candidate:
            row.append(fixed(model.base_candidate.get(metric), 4))
        rows.append(row)
    lines += table(headers, rows, "l" + "r" * (len(headers) - 1))
    boot = model.bootstrap
    if boot:
        lines += [
            "",
            f"{boot.get('metric')} improvement over the champion: "
            f"{signed(boot.get('delta'))}, {float(boot.get('confidence', 0.95)):.0%} CI "
            f"[{signed(boot.get('ci_low'))}, {signed(boot.get('ci_high'))}] "
            f"(paired bootstrap, {boot.get('samples')} resamples of the same hold-out).",
        ]
    if model.gate:
        lines += ["", *_gate_markdown(model.gate)]
    if model.segments and cap:
        n = cap
        rows = [
            [
                s["segment"],
                number(s["rows"]),
                number(s["candidate"]),
                number(s["champion"]),
                signed(s["delta"]),
            ]
            for s in model.segments[:n]
        ]
        body = table(["Segment", "Rows", "Candidate", "Champion", "Δ"], rows, "lrrrr")
        body += more(len(model.segments), n, "segments", REPORT_JSON)
        lines += details(
            f"{model.primary_metric} per segment ({len(model.segments)} segments, worst first)",
            body,
        )
    return lines


def _batch_lines(diff: DataDiff, cap: int) -> list[str]:
    if not diff.batches or not cap:
        return []
    rows = [
        [
            Markdown(code(b.path)),
            b.change,
            number(b.base_rows),
            number(b.head_rows),
            (b.base_md5 or "—")[:8],
            (b.head_md5 or "—")[:8],
            b.rule or "ok",
        ]
        for b in diff.batches[:cap]
    ]
    body = table(
        ["Batch", "Change", "Rows BASE", "Rows HEAD", "md5 BASE", "md5 HEAD", "Contract"],
        rows,
        "llrrlll",
    )
    body += more(len(diff.batches), cap, "batches", REPORT_JSON)
    return ["", "### Batches", *details(f"{len(diff.batches)} changed batch(es)", body)]


def _batches_text(batches: list[str]) -> str:
    files = [b.rsplit("/", 1)[-1] for b in batches]
    shown = ", ".join(files[:3])
    return shown + (f" and {len(files) - 3} more" if len(files) > 3 else "")
