"""record, promote, rollback and status: main's reproduced state, the champion, the registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from datawheel.cli.ui import console


def register(app: typer.Typer) -> None:
    app.command()(record)
    app.command()(promote)
    app.command()(rollback)
    app.command()(pin)
    app.command()(release)
    app.command()(status)


def _finish(outcome, outcome_file: Path | None, allow_hold: bool = False) -> None:
    from datawheel.io.files import write_json

    if outcome_file is not None:
        write_json(outcome_file, outcome.to_dict())
    colour = {
        "promoted": "green",
        "rolled_back": "green",
        "recorded": "green",
        "up_to_date": "green",
        "pinned": "green",
        "released": "green",
        "held": "yellow",
    }.get(outcome.result, "red")
    console.print(f"[bold {colour}]{outcome.result}[/]: {outcome.message}", highlight=False)
    code = outcome.exit_code
    if allow_hold and outcome.result == "held":
        code = 0
    raise typer.Exit(code)


def record(
    remote: Annotated[str, typer.Option(help="The git remote to push to.")] = "origin",
    branch: Annotated[str | None, typer.Option(help="Branch to push (default: current).")] = None,
    outcome: Annotated[Path | None, typer.Option(help="Write the outcome as JSON here.")] = None,
) -> None:
    """Commit what `dvc repro` wrote (dvc.lock, reports, plots) and push it, with its
    cached outputs in the DVC remote, so the branch is its own reproduced state.

    The commit says [skip ci]. Nothing to record when the branch already holds it.
    Exit codes: 0 recorded or up to date, 11 refused (stale lock, uncommitted changes,
    origin moved, push rejected), 1 error (nothing changed).
    """
    from datawheel.registry.promote import record as run_record

    _finish(run_record(Path("."), remote, branch), outcome)


def promote(
    remote: Annotated[str, typer.Option(help="The git remote to push to.")] = "origin",
    branch: Annotated[str | None, typer.Option(help="Branch to push (default: current).")] = None,
    allow_hold: Annotated[bool, typer.Option(help="Exit 0 when the gate held.")] = False,
    outcome: Annotated[Path | None, typer.Option(help="Write the outcome as JSON here.")] = None,
) -> None:
    """Promote the last candidate if the gate said so: commit, GTO tags, dvc push, git push.

    Exit codes: 0 promoted, 10 held, 11 refused (origin moved, stale lock, validation
    failed, push rejected), 1 error (nothing changed).
    """
    from datawheel.registry.promote import promote as run_promote

    _finish(run_promote(Path("."), remote, branch), outcome, allow_hold)


def rollback(
    version: Annotated[str | None, typer.Argument(help="Version, e.g. v1.2.0.")] = None,
    reason: Annotated[
        str | None, typer.Option(help="Why; recorded in the pin (default: rolled back from X).")
    ] = None,
    remote: Annotated[str, typer.Option(help="The git remote to push to.")] = "origin",
    branch: Annotated[str | None, typer.Option(help="Branch to push (default: current).")] = None,
    outcome: Annotated[Path | None, typer.Option(help="Write the outcome as JSON here.")] = None,
) -> None:
    """Assign prod back to an earlier version (default: the champion before this one) and
    pin it: every gate holds until `datawheel release`.

    Exit codes: 0 rolled back, 11 refused, 1 error (nothing changed).
    """
    from datawheel.registry.promote import rollback as run_rollback

    _finish(run_rollback(Path("."), version, remote, branch, reason=reason), outcome)


def pin(
    version: Annotated[
        str | None, typer.Argument(help="The version in prod now (a check; default: it).")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why; shown in every held gate.")] = None,
    remote: Annotated[str, typer.Option(help="The git remote to push to.")] = "origin",
    branch: Annotated[str | None, typer.Option(help="Branch to push (default: current).")] = None,
    outcome: Annotated[Path | None, typer.Option(help="Write the outcome as JSON here.")] = None,
) -> None:
    """Pin prod on its champion (an incident freeze): every gate holds until release.

    Exit codes: 0 pinned, 11 refused (no champion, another version, already pinned, origin
    moved), 1 error (nothing changed).
    """
    from datawheel.registry.promote import pin as run_pin

    _finish(run_pin(Path("."), version, reason, remote, branch), outcome)


def release(
    reason: Annotated[str | None, typer.Option(help="Why; recorded in the commit.")] = None,
    remote: Annotated[str, typer.Option(help="The git remote to push to.")] = "origin",
    branch: Annotated[str | None, typer.Option(help="Branch to push (default: current).")] = None,
    outcome: Annotated[Path | None, typer.Option(help="Write the outcome as JSON here.")] = None,
) -> None:
    """Lift the pin a rollback or `datawheel pin` set: the next gate may promote again.

    Exit codes: 0 released, 11 refused (not pinned, origin moved), 1 error.
    """
    from datawheel.registry.promote import release as run_release

    _finish(run_release(Path("."), reason, remote, branch), outcome)


def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The champion, the last gate decision, and how much data arrived since the champion."""
    from datawheel.registry.status import project_status
    from datawheel.render.terminal import status_table

    state = project_status(Path("."))
    if as_json:
        print(json.dumps(state.to_dict(), indent=2, sort_keys=True))
        return
    console.print(status_table(state))
