"""`datawheel add`: `dvc add` for raw data, refusing what DVC must never be handed.

DVC follows symbolic links when it adds a folder: the target, from anywhere on the machine,
is copied into the DVC cache, pushed to the remote with the next `dvc push`, and the link is
replaced by a copy that ingest then reads as an ordinary batch. So raw data is added through
this command, which checks every entry first (the same check the ingest stage applies).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from datawheel.cli.ui import console


def register(app: typer.Typer) -> None:
    app.command("add")(add)


def add(
    target: Annotated[Path, typer.Argument(help="The raw data folder.")] = Path("data/raw"),
    repo: Annotated[Path, typer.Option("--repo", "-C", help="The project.")] = Path("."),
) -> None:
    """Run `dvc add TARGET` once no entry under it is a symlink or a special file. Exit codes:
    0 added, 3 an entry refused (each named, nothing handed to DVC), 1 `dvc add` failed."""
    from datawheel.data.batches import refused_entries
    from datawheel.errors import DataContractError
    from datawheel.io.process import dvc

    problems = refused_entries(repo / target, repo)
    if problems:
        listed = "\n".join(f"  {message}" for message in problems)
        raise DataContractError(
            f"{len(problems)} entr{'y' if len(problems) == 1 else 'ies'} under {target} "
            f"refused, nothing added (DVC would follow a link and store its target):\n{listed}"
        )
    dvc("add", "--quiet", str(target), cwd=repo)
    console.print(f"added {target}: commit {target}.dvc with git (and `dvc push` the data)")
