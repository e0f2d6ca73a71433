"""Rich tables for the terminal; the library returns data, this module only shapes it.

Every table of the command line is built here (the commands in datawheel.cli only print
them): metrics and the gate, the flywheel, the data review and drift, `datawheel status`.
Numbers are formatted by datawheel.render.format, as in the Markdown documents.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from datawheel.config.catalog import PARAMS
from datawheel.config.params import METRIC_SPECS
from datawheel.render.drift import effect_sizes
from datawheel.render.format import fixed, number, p_value

if TYPE_CHECKING:
    from datawheel.registry.status import Status
    from datawheel.review.diff import DataDiff
    from datawheel.review.drift import DriftReport
    from datawheel.review.report import DataTests, Report

MAX_ROWS = 25
"""Most rows a table of batches shows (--json has all)."""

METRIC_ORDER = (
    "roc_auc",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "log_loss",
    "brier",
    "rmse",
    "mae",
    "r2",
)
"""Every metric of datawheel.config.params.METRIC_SPECS, in the order tables show them."""


def task_metrics(groups: list[dict]) -> list[str]:
    """The rows of a metrics table: the regression metrics when the groups hold any of them
    (a regression project's metrics.json), else the classification ones, all of them."""
    regression = any(
        METRIC_SPECS[name].task == "regression"
        for group in groups
        for name in group or {}
        if name in METRIC_SPECS
    )
    task = "regression" if regression else "classification"
    return [name for name in METRIC_ORDER if METRIC_SPECS[name].task == task]


def metrics_table(metrics: dict, champion_version: str | None = None) -> Table:
    """Hold-out metrics: candidate, champion (if any) and the naive baseline side by side.

    metrics.json holds numbers only: the champion's version comes from its pointer."""
    models = [m for m in ("candidate", "champion", "baseline") if metrics.get(m)]
    table = Table(title="hold-out metrics")
    table.add_column("metric")
    for model in models:
        label = model
        if model == "champion" and champion_version:
            label = f"champion {champion_version}"
        table.add_column(label, justify="right")
    for metric in task_metrics([metrics[m] for m in models]):
        table.add_row(metric, *(fixed(metrics[m].get(metric), 4) for m in models))
    return table


def gate_table(gate: dict) -> Table:
    """The gate decision with every check and its detail."""
    decision = gate["decision"]
    colour = "green" if decision == "promote" else "yellow"
    table = Table(title=f"gate decision: [bold {colour}]{decision}[/]")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail")
    for check in gate["checks"]:
        result = "[green]pass[/]" if check["passed"] else "[red]fail[/]"
        table.add_row(check["name"], result, check["detail"])
    return table


def flywheel_table(records) -> Table:
    """One row per data commit (or operator action) and what CI made of it."""
    table = Table(title="the flywheel, commit by commit")
    for column in (
        "step",
        "days",
        "rows",
        "validation",
        "drift",
        "candidate",
        "champion",
        "Δ [95% CI]",
        "decision",
        "result",
        "prod",
    ):
        table.add_column(
            column, justify="right" if column in {"rows", "candidate", "champion"} else "left"
        )
    for r in records:
        colour = {"promoted": "green", "rolled_back": "green", "held": "yellow"}.get(
            r.result, "red"
        )
        table.add_row(
            r.step,
            r.days,
            f"{r.rows:,}" if r.rows else "—",
            r.validation,
            r.drift,
            fixed(r.candidate, 3),
            fixed(r.champion, 3),
            r.ci,
            r.decision,
            f"[{colour}]{r.result}[/]",
            r.prod or "—",
        )
    return table


def review_table(result: Report) -> Table:
    """The review at a glance: batches, rows, distribution and data tests."""
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


def batches_table(d: DataDiff) -> Table:
    """The changed batches, the first MAX_ROWS of them."""
    table = Table(title=f"{len(d.batches)} changed batch(es)")
    for name in ("batch", "change", "rows BASE", "rows HEAD", "contract"):
        table.add_column(name, justify="right" if name.startswith("rows") else "left")
    for b in d.batches[:MAX_ROWS]:
        table.add_row(b.path, b.change, number(b.base_rows), number(b.head_rows), b.rule or "ok")
    if len(d.batches) > MAX_ROWS:
        table.caption = f"… and {len(d.batches) - MAX_ROWS} more (--json for all)"
    return table


def schema_table(d: DataDiff) -> Table | None:
    """Column, contract, params and suite changes; None when there are none."""
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
        table.add_row(PARAMS, k.key, k.change, f"{k.before} → {k.after}")
    for suite in s.suites:
        detail = ", ".join(
            f"{e.change} {e.type}" + (f"({e.column})" if e.column else "")
            for e in suite.expectations
        )
        table.add_row("suite", suite.name, suite.change, detail)
    return table


def drift_table(report: DriftReport) -> Table:
    """Every column's verdict, test, q-value, effect sizes and null rates."""
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
            p_value(c.q_value),
            effect_sizes(c),
            nulls,
        )
    reasons = [f"{c.column}: {'; '.join(c.reasons)}" for c in report.columns if c.shifted]
    table.caption = "\n".join(reasons) or None
    return table


def tests_table(tests: DataTests) -> Table:
    """Rules newly failing and newly passing, and where each side's verdicts come from."""
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


def status_table(state: Status) -> Table:
    """`datawheel status`: the champion, staging, the last gate, new data and the registry."""
    from datawheel.registry.champion import pin_reason

    table = Table(title=f"{state.model_name}", show_header=False)
    champ = state.champion
    if champ:
        primary = champ.get("primary") or {}
        table.add_row("champion", f"{champ['version']} (md5 {champ['model_md5']})")
        if primary.get("value") is not None:
            table.add_row(primary["metric"], fixed(primary["value"], 4))
        table.add_row("age", f"{champ['age_days']} days" if champ["age_days"] is not None else "—")
        if champ.get("pin"):
            table.add_row("pinned", pin_reason(champ["pin"]))
        trained = champ["trained_on"]
        window = trained.get("window") or {}
        table.add_row(
            "trained on",
            f"{trained.get('train_rows')} rows, "
            f"window {window.get('start')} .. {window.get('end')}",
        )
    else:
        table.add_row("champion", "none yet")
    staged = state.staging
    if staged:
        table.add_row(
            "staging",
            f"{staged['version']}: {staged['confirmations']} of "
            f"{staged['confirmations_needed']} confirmation(s) on data after "
            f"{staged['selected_through']}"
            + (f"; last: {staged['last_reason']}" if staged["last_reason"] else ""),
        )
    gate = state.last_gate
    table.add_row("last gate", f"{gate['decision']}: {'; '.join(gate['reasons'])}" if gate else "—")
    since = state.data_since_champion
    table.add_row(
        "new data", f"{since['batches']} batches, {since['rows']} rows since the champion"
    )
    reg = state.registry
    table.add_row(
        "registry", f"{reg['versions']} versions, latest {reg['latest']}, prod {reg['prod']}"
    )
    return table
