"""`datawheel diff`, `report` and `drift`: reviewing data changes and watching for drift.

Only argument parsing and printing live here; the work is in datawheel.review (diff, report,
monitor; the files --out writes in outputs) and the tables in datawheel.render.terminal, all
imported when a command runs so that `datawheel --help` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console

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
    from datawheel.render.terminal import MAX_ROWS, drift_table
    from datawheel.review.drift import DriftDetected
    from datawheel.review.monitor import monitor
    from datawheel.review.outputs import write_drift_outputs

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
        console.print(drift_table(result.report))
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
    from datawheel.render import terminal
    from datawheel.review.outputs import write_outputs

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
    console.print(terminal.review_table(result))
    if result.diff.batches:
        console.print(terminal.batches_table(result.diff))
    schema = terminal.schema_table(result.diff)
    if schema is not None:
        console.print(schema)
    console.print(terminal.drift_table(result.diff.drift))
    if result.tests is not None:
        console.print(terminal.tests_table(result.tests))
    if result.model is not None:
        _print_model(console, result.model)
    for note in result.diff.notes:
        console.print(f"note: {note}", highlight=False)


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
