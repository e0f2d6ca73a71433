"""`datawheel diff`, `report` and `drift`: reviewing data changes and watching for drift.

Only argument parsing and printing live here; the work is in datawheel.review.diff, .report and
.drift, imported when a command runs so that `datawheel --help` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.table import Table

RepoOption = Annotated[
    Path, typer.Option("--repo", "-C", help="The project (a git + DVC repository).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
OutOption = Annotated[
    Path | None,
    typer.Option("--out", help="Write Markdown, JSON and PNG plots into this folder."),
]
LimitOption = Annotated[
    int, typer.Option("--limit", help="Most characters of the Markdown (GitHub: 65,536).")
]
MAX_ROWS = 25


def register(app: typer.Typer) -> None:
    """Add diff, report and drift to the datawheel command."""
    app.command("diff")(diff)
    app.command("report")(report)
    app.command("drift")(drift)


def diff(
    base: Annotated[str, typer.Argument(help="The revision to compare from (e.g. origin/main).")],
    head: Annotated[str, typer.Argument(help="The revision to compare to.")] = "HEAD",
    repo: RepoOption = Path("."),
    as_json: JsonOption = False,
    out: OutOption = None,
    limit: LimitOption = 65_536,
) -> None:
    """What changed in the data between two commits: batches, rows, schema, distributions."""
    from datawheel.review.diff import diff_data
    from datawheel.review.report import Report

    result = Report(diff=diff_data(repo, base, head))
    _emit(result, as_json, out, limit)


def report(
    base: Annotated[str, typer.Option("--base", help="The pull request's base revision.")],
    head: Annotated[str, typer.Option("--head", help="The revision under review.")] = "HEAD",
    repo: RepoOption = Path("."),
    as_json: JsonOption = False,
    out: OutOption = None,
    limit: LimitOption = 65_536,
) -> None:
    """The pull-request review: data diff, data tests on the new rows and model impact."""
    from datawheel.review.report import build_report

    _emit(build_report(repo, base, head), as_json, out, limit)


def drift(
    last: Annotated[
        int, typer.Option("--last", help="How many of the newest batches (days) to check.")
    ] = 1,
    rev: Annotated[str, typer.Option("--rev", help="The revision to check.")] = "HEAD",
    reference: Annotated[
        Literal["champion", "recent", "season"] | None,
        typer.Option(
            "--reference",
            help="Compare with the champion's training rows, the recent batches or the same "
            "period in earlier years (default: params.yaml drift.reference).",
        ),
    ] = None,
    repo: RepoOption = Path("."),
    as_json: JsonOption = False,
    out: OutOption = None,
    limit: LimitOption = 65_536,
) -> None:
    """Newest batch(es) vs a reference (drift.reference); exit code 7 when a column shifted.

    `champion` (the default): the champion's training rows, or without a champion the
    curated train set of the revision itself; `recent`: the drift.reference_batches batches
    before; `season`: the same period 1..drift.season_years years earlier.
    """
    from datawheel.io.files import json_safe, to_json
    from datawheel.review.drift import DriftDetected, monitor
    from datawheel.review.report import write_drift_outputs

    result = monitor(repo, rev, last, reference=reference)
    console = Console()
    if as_json:
        sys.stdout.write(to_json(json_safe(result.to_dict())))
    else:
        used = result.reference
        console.print(
            f"reference ({used['kind']}): {used['description']}, {used['rows']:,} rows",
            highlight=False,
        )
        names = used.get("batches") or []
        more = f" and {len(names) - MAX_ROWS} more" if len(names) > MAX_ROWS else ""
        if names:
            console.print(
                f"reference batches: {', '.join(names[:MAX_ROWS])}{more}", highlight=False
            )
        console.print(f"current: {', '.join(result.current_batches)}")
        console.print(_drift_table(result.report))
        for note in result.notes:
            console.print(f"note: {note}", highlight=False)
    if out is not None:
        written = write_drift_outputs(result, out, limit)
        Console(stderr=True).print(f"wrote {len(written)} file(s) to {out}")
    if result.shifted:
        raise DriftDetected(
            f"{len(result.shifted)} column(s) shifted: {', '.join(result.shifted)} "
            f"(newest {last} batch(es) vs {result.reference['description']}); "
            "retrain, or review the new data"
        )


# --- printing ----------------------------------------------------------------------------


def _emit(result: Any, as_json: bool, out: Path | None, limit: int) -> None:
    from datawheel.io.files import to_json
    from datawheel.review.report import write_outputs

    if out is not None:
        written = write_outputs(result, out, limit)
        Console(stderr=True).print(f"wrote {len(written)} file(s) to {out}")
    if as_json:
        sys.stdout.write(to_json(result.to_dict()))
        return
    console = Console()
    icon = {"blocking": "[bold red]BLOCKING[/]", "attention": "[bold yellow]LOOK[/]"}
    console.print(icon.get(result.level, "[bold green]OK[/]"), result.headline, highlight=False)
    if result.merge is not None:
        console.print(result.merge.sentence, highlight=False, markup=False)
    console.print(_summary_table(result))
    if result.diff.batches:
        console.print(_batches_table(result.diff))
    schema = _schema_table(result.diff)
    if schema is not None:
        console.print(schema)
    console.print(_drift_table(result.diff.drift))
    if result.tests is not None:
        console.print(_tests_table(result.tests))
    if result.model is not None:
        _print_model(console, result.model)
    for note in result.diff.notes:
        console.print(f"note: {note}", highlight=False)


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}"


def _p(value: float | None) -> str:
    return "—" if value is None else f"{value:.2g}"


def _summary_table(result: Any) -> Table:
    d = result.diff
    rows = d.rows
    table = Table(title=f"data review {d.base_commit[:8]} → {d.head_commit[:8]}")
    table.add_column("what")
    table.add_column("change")
    counts = {c: len(d.of_change(c)) for c in ("added", "removed", "modified")}
    table.add_row(
        "batches",
        f"{counts['added']} added, {counts['removed']} removed, {counts['modified']} modified, "
        f"{d.unchanged_batches} unchanged",
    )
    table.add_row(
        "rows by row id",
        f"+{rows.added:,} added, -{rows.removed:,} removed, {rows.unchanged:,} unchanged",
    )
    table.add_row(
        "rows by entity",
        f"{rows.new:,} new, {rows.deleted:,} deleted, {rows.changed:,} changed",
    )
    table.add_row(
        "distribution", f"{len(d.drift.shifted)} of {len(d.drift.tested)} tested columns shifted"
    )
    if result.tests is not None:
        table.add_row(
            "data tests",
            f"{len(result.tests.newly_failing)} newly failing, "
            f"{len(result.tests.newly_passing)} newly passing",
        )
    return table


def _batches_table(d: Any) -> Table:
    table = Table(title=f"{len(d.batches)} changed batch(es)")
    for name in ("batch", "change", "rows BASE", "rows HEAD", "contract"):
        table.add_column(name, justify="right" if name.startswith("rows") else "left")
    for b in d.batches[:MAX_ROWS]:
        table.add_row(b.path, b.change, _num(b.base_rows), _num(b.head_rows), b.rule or "ok")
    if len(d.batches) > MAX_ROWS:
        table.caption = f"… and {len(d.batches) - MAX_ROWS} more (--json for all)"
    return table


def _schema_table(d: Any) -> Table | None:
    s = d.schema
    if s.empty:
        return None
    table = Table(title="schema and contract")
    for name in ("where", "what", "change", "detail"):
        table.add_column(name)
    for c in s.columns:
        table.add_row("batches", c.column, c.change, f"{c.before} → {c.after}: {len(c.batches)}")
    for item in s.contract_breaks:
        table.add_row("contract break", item["batch"], item["rule"], item["message"])
    for k in [*s.contract, *s.params]:
        table.add_row("params.yaml", k.key, k.change, f"{k.before} → {k.after}")
    for suite in s.suites:
        detail = ", ".join(
            f"{e.change} {e.type}" + (f"({e.column})" if e.column else "")
            for e in suite.expectations
        )
        table.add_row("suite", suite.name, suite.change, detail)
    return table


def _drift_table(report: Any) -> Table:
    from datawheel.review.report import effect_sizes

    table = Table(title=f"{report.before_label} vs {report.after_label}")
    widths = {"column": 15, "verdict": 8, "test": 4, "q": 7, "nulls": 9}
    for name in ("column", "verdict", "test", "q", "effect sizes", "nulls"):
        table.add_column(
            name,
            justify="right" if name == "q" else "left",
            no_wrap=name != "effect sizes",
            min_width=widths.get(name),
        )
    colours = {"shifted": "[bold red]shifted[/]", "stable": "[green]stable[/]"}
    for c in report.columns:
        nulls = "—"
        if c.before.null_rate is not None and c.after.null_rate is not None:
            nulls = f"{c.before.null_rate:.1%}→{c.after.null_rate:.1%}"
        table.add_row(
            c.column,
            colours.get(c.verdict, "not tested"),
            c.test or "—",
            _p(c.q_value),
            effect_sizes(c),
            nulls,
        )
    reasons = [f"{c.column}: {'; '.join(c.reasons)}" for c in report.columns if c.shifted]
    table.caption = "\n".join(reasons) or None
    return table


def _tests_table(tests: Any) -> Table:
    table = Table(title="data tests")
    for name in ("rule", "severity", "change", "batches"):
        table.add_column(name)
    for label, rules in (
        ("newly failing", tests.newly_failing),
        ("newly passing", tests.newly_passing),
    ):
        for r in rules:
            table.add_row(r.rule, r.severity, label, ", ".join(r.batches[:3]))
    table.caption = f"BASE: {tests.base_source}; HEAD: {tests.head_source}"
    return table


def _print_model(console: Console, model: Any) -> None:
    if not model.available:
        console.print(f"model: {model.note}", highlight=False)
        return
    from datawheel.render.terminal import gate_table, metrics_table

    console.print(metrics_table(model.metrics, model.champion_version))
    if model.gate:
        console.print(gate_table(model.gate))
    if model.note:
        console.print(f"[yellow]{model.note}[/]", highlight=False)
