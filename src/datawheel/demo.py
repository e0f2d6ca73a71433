"""The demo: a fresh project on the built-in stream, from first data commit to a gate decision."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from datawheel.errors import DatawheelError
from datawheel.fileio import read_json
from datawheel.params import load_params
from datawheel.workspace import dvc, init_repo

STAGES = ("ingest", "validate", "curate", "train", "evaluate")
DEMO_START = dt.date(2026, 1, 1)
_RUNNING = re.compile(r"Running stage '([^']+)'")


@dataclass
class DemoResult:
    repo: Path
    metrics: dict
    gate: dict


def run_demo(
    workspace: Path, days: int, rows_per_day: int, seed: int, console: Console
) -> DemoResult:
    """Create workspace/{repo,dvc-remote}, commit a month of data, reproduce, push."""
    import git

    from datawheel.simulate import simulate

    if workspace.exists() and any(workspace.iterdir()):
        raise DatawheelError(f"{workspace}: exists and is not empty; pick a new --workspace")
    repo = workspace / "repo"
    console.print(f"[bold]datawheel demo[/] in {workspace}")
    init_repo(repo, remote=workspace / "dvc-remote")
    raw = repo / load_params(repo / "params.yaml").paths.raw
    simulate(raw, DEMO_START, days, rows_per_day, seed)
    gitrepo = git.Repo(repo)
    dvc("add", "--quiet", str(raw.relative_to(repo)), cwd=repo)
    gitrepo.git.add(A=True)
    last = DEMO_START + dt.timedelta(days=days - 1)
    gitrepo.index.commit(f"data: batches {DEMO_START} to {last}")
    console.print(f"committed {days} daily batches ({DEMO_START} to {last})")
    reproduce(repo, console)
    gitrepo.git.add(A=True)
    gitrepo.index.commit("pipeline: dvc repro on the first month")
    dvc("push", "--quiet", cwd=repo)
    reports = repo / "reports"
    return DemoResult(repo, read_json(reports / "metrics.json"), read_json(reports / "gate.json"))


def reproduce(repo: Path, console: Console) -> None:
    """`dvc repro` with a progress bar over the stages it runs."""
    with Progress(
        TextColumn("[bold]dvc repro[/]"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} {task.description}"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("starting", total=len(STAGES))
        seen: list[str] = []

        def on_line(line: str) -> None:
            match = _RUNNING.search(line)
            if match:
                seen.append(match.group(1))
                bar.update(task, completed=len(seen) - 1, description=match.group(1))

        dvc("repro", cwd=repo, on_line=on_line)
        bar.update(task, completed=len(STAGES), description="done")
