"""The `datawheel` command: parses arguments, calls the library, renders with rich."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from datawheel.cli.ui import console, err_console
from datawheel.config import catalog
from datawheel.errors import EXIT_CODES, DatawheelError

app = typer.Typer(
    help="datawheel: git-native continuous training with DVC, Great Expectations and a gate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    if debug:
        os.environ["DATAWHEEL_DEBUG"] = "1"


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="Folder for the daily batch files.")] = Path("data/raw"),
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")] = "2026-01-01",
    days: Annotated[int, typer.Option(help="Number of days.")] = 30,
    rows_per_day: Annotated[int, typer.Option(help="Rows per day (varies ±10%).")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the stream.")] = 7,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    inject: Annotated[
        list[str] | None,
        typer.Option(
            help="KIND@DAY, DAY a date or an offset from --start; volume_spike:FACTOR@DAY "
            "sets the spike factor (1000 by default); repeatable."
        ),
    ] = None,
) -> None:
    """Write the built-in data stream: one realistic churn batch per day."""
    from datawheel.data.simulate import parse_injection
    from datawheel.data.simulate import simulate as run_simulate

    first = _parse_date(start, "--start")
    try:
        injections = [parse_injection(text, first) for text in inject or []]
        written = run_simulate(out, first, days, rows_per_day, seed, fmt, injections)
    except ValueError as exc:
        raise _usage(str(exc)) from None
    console.print(f"wrote {len(written)} batch file(s) to {out}")


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Project folder (created if missing).")] = Path(
        "."
    ),
    remote: Annotated[
        str | None,
        typer.Option(
            help="The default DVC remote: a folder, or a URL such as s3://bucket/prefix "
            "(then set its endpoint and credentials with `dvc remote modify`)."
        ),
    ] = None,
    model_name: Annotated[
        str | None,
        typer.Option(
            help="The model's registry name (GTO tags, `dvc artifacts get`); "
            "default: the folder's name, lower case, other characters as '-'."
        ),
    ] = None,
    description: Annotated[
        str | None,
        typer.Option(
            help="The artifact's `desc` in dvc.yaml; default: '<target> classifier' "
            "(or regressor), the target read from params.yaml."
        ),
    ] = None,
    task: Annotated[
        str,
        typer.Option(
            help="classification, or regression: params.yaml's regression contract and "
            "gate defaults, and dvc.yaml's regression plots."
        ),
    ] = "classification",
    engine: Annotated[
        str,
        typer.Option(
            help="pandas, or spark: params.yaml's engine.name and requirements.txt's "
            "datawheel[spark] (validate and curate on Spark; README, Engines)."
        ),
    ] = "pandas",
) -> None:
    """Start a datawheel project: template, git init, dvc init."""
    from datawheel.project.scaffold import default_model_name, init_repo

    if (directory / catalog.DVC_YAML).exists():
        raise _usage(f"{directory}/{catalog.DVC_YAML} exists already: this folder is a project")
    name = model_name if model_name is not None else default_model_name(directory)
    if task not in ("classification", "regression"):
        raise _usage(f"--task {task!r}: choose classification or regression")
    if engine not in ("pandas", "spark"):
        raise _usage(f"--engine {engine!r}: choose pandas or spark")
    init_repo(directory, remote, name, description, task, engine)
    console.print(f"datawheel project ready in {directory} (model {name})")


@app.command()
def demo(
    workspace: Annotated[Path, typer.Option(help="A new folder for the demo.")] = Path(
        "datawheel-demo"
    ),
    rows_per_day: Annotated[int, typer.Option(help="Rows per simulated day.")] = 500,
    seed: Annotated[int, typer.Option(help="Seed of the built-in stream.")] = 7,
) -> None:
    """Play the flywheel on the built-in stream: data commits, CI retraining, the gate,
    promotions, a blocked batch, concept drift, a held change and a rollback."""
    from datawheel.render.terminal import flywheel_table
    from datawheel.sandbox.demo import run_demo

    result = run_demo(workspace, rows_per_day, seed, console=err_console)
    if not console.is_terminal:
        console.width = 160  # a log or a pipe: room for the whole table
    console.print(flywheel_table(result.records))
    console.print(f"\n[bold]champion[/] {result.champion.get('version')}\n{result.lineage}")
    console.print("\nthe same registry with the DVC ecosystem's own tools:")
    console.print(f"  cd {result.repo} && gto show {result.model_name}", highlight=False)
    console.print(
        f"  dvc artifacts get {result.origin} {result.model_name} --stage prod -o model.skops",
        highlight=False,
    )
    console.print(f"  cd {result.repo} && dvc metrics show && datawheel status", highlight=False)


@app.command("exit-codes")
def exit_codes() -> None:
    """List the exit codes every datawheel command and stage uses."""
    table = Table("code", "meaning")
    for code, meaning in EXIT_CODES.items():
        table.add_row(str(code), meaning)
    console.print(table)


# The modules of datawheel.cli beyond this one that add commands, each with `register(app)`.
COMMAND_GROUPS = ("ci", "code", "data", "registry", "review", "trace")


def _register_command_groups() -> None:
    from importlib import import_module

    for module in COMMAND_GROUPS:
        import_module(f"datawheel.cli.{module}").register(app)


_register_command_groups()


def _parse_date(text: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise _usage(f"{option}: {text!r} is not a date YYYY-MM-DD") from None


def _usage(message: str) -> DatawheelError:
    from datawheel.errors import ParamsError

    return ParamsError(message)


def main() -> None:
    """Entry point: a DatawheelError is one red line and its documented exit code."""
    try:
        app()
    except DatawheelError as exc:
        if os.environ.get("DATAWHEEL_DEBUG"):
            raise
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
