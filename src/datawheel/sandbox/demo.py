"""The demo: the whole flywheel on the built-in stream, in a fresh workspace, day by day."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from datawheel.errors import DatawheelError
from datawheel.sandbox.flywheel import Flywheel, RunRecord, demo_scenes


@dataclass
class DemoResult:
    workspace: Path
    repo: Path
    origin: Path
    model_name: str
    records: list[RunRecord]
    champion: dict
    lineage: str


def run_demo(
    workspace: Path,
    rows_per_day: int,
    seed: int,
    console: Console,
    params: dict | None = None,
    on_scene: Callable[[str, RunRecord, Flywheel], None] = lambda label, record, wheel: None,
) -> DemoResult:
    """Play demo_scenes(): each data commit runs exactly the steps of retrain.yml."""
    if workspace.exists() and any(workspace.iterdir()):
        raise DatawheelError(f"{workspace}: exists and is not empty; pick a new --workspace")
    workspace = workspace.resolve()
    wheel = Flywheel(workspace, rows_per_day, seed, params=params)
    scenes = demo_scenes()
    console.print(f"[bold]datawheel demo[/] in {workspace}")
    wheel.setup()
    with Progress(
        TextColumn("[bold]flywheel[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("", total=len(scenes))
        for scene in scenes:
            bar.update(task, description=scene.label)
            record = scene.play(wheel)
            on_scene(scene.label, record, wheel)
            bar.console.print(
                f"  {scene.label}: validation {record.validation}, decision {record.decision}, "
                f"{record.result}, prod {record.prod}",
                highlight=False,
            )
            bar.advance(task)
    wheel.sync()
    champion = _read(wheel.dev / wheel.champion_path)
    lineage = wheel._git(
        "for-each-ref",
        f"refs/tags/{wheel.model_name}@{champion.get('version')}",
        "--format=%(contents)",
    )
    return DemoResult(
        workspace, wheel.dev, wheel.origin, wheel.model_name, wheel.records, champion, lineage
    )


def _read(path: Path) -> dict:
    from datawheel.io.files import read_json

    return read_json(path) or {}
