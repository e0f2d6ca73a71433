"""`datawheel code`: the installed datawheel code against the project's record of it.

Argument parsing and printing only; the work is in datawheel.io.code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from datawheel.cli.ui import console


def register(app: typer.Typer) -> None:
    app.command("code")(code)


def code(
    update: Annotated[
        bool,
        typer.Option(
            "--update",
            help="Record the installed code in .datawheel/code.json; commit it, the stages re-run.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    repo: Annotated[Path, typer.Option("--repo", "-C", help="The project.")] = Path("."),
) -> None:
    """Show the installed datawheel's version and code digest beside the one the project
    records in .datawheel/code.json; --update records the installed one. Exit codes: 0 they
    match (or were just recorded), 2 they differ: the stages refuse to run until updated."""
    from datawheel.io.code import (
        CODE_RECORD,
        UPDATE_COMMAND,
        CodeId,
        check_code_record,
        installed_code,
        read_code_record,
        update_code_record,
    )

    recorded: CodeId | None
    if update:
        before, now = update_code_record(repo)
        recorded, installed = now, now
    else:
        before, recorded, installed = None, read_code_record(repo), installed_code()
    data = {
        "record": CODE_RECORD,
        "installed": installed.to_dict(),
        "recorded": recorded.to_dict() if recorded else None,
        "matches": recorded == installed if recorded else None,
    }
    if as_json:
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        _say(f"installed  datawheel {installed.version}  digest {installed.digest}")
        if recorded is None:
            _say(f"recorded   none: this project has no {CODE_RECORD}")
        else:
            _say(f"recorded   datawheel {recorded.version}  digest {recorded.digest}")
        if update and before == now:
            _say(f"{CODE_RECORD} recorded this code already: nothing changed")
        elif update:
            _say(
                f"[bold green]recorded[/] in {CODE_RECORD}: commit it; `dvc status` lists "
                "the stages that will re-run with this code"
            )
        elif recorded is not None and recorded == installed:
            _say("[bold green]matches[/]: the stages run with the recorded code")
        elif recorded is not None:
            _say(f"[bold red]differs[/]: the stages refuse to run; `{UPDATE_COMMAND}` records it")
    check_code_record(repo)  # exit 2 with the stage runner's message when they differ


def _say(text: str) -> None:
    console.print(text, highlight=False, soft_wrap=True)
