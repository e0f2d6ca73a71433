"""Rich tables for the terminal; the library returns data, this module only shapes it."""

from __future__ import annotations

from rich.table import Table

from datawheel.config.params import METRIC_SPECS

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


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.4f}"


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
        table.add_row(metric, *(_fmt(metrics[m].get(metric)) for m in models))
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


def _metric(value) -> str:
    return "—" if value is None else f"{value:.3f}"


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
            _metric(r.candidate),
            _metric(r.champion),
            r.ci,
            r.decision,
            f"[{colour}]{r.result}[/]",
            r.prod or "—",
        )
    return table
