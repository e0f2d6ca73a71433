"""What every stage module shares: params, progress and turning errors into exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from datawheel.errors import DatawheelError
from datawheel.params import Params, load_params

T = TypeVar("T")


def log(message: str) -> None:
    """One line on stderr, where DVC shows a stage's output."""
    print(message, file=sys.stderr, flush=True)


def progress(items: Sequence[T], description: str) -> Iterable[T]:
    """A rich progress bar on stderr when there is enough work to watch, else the items."""
    if len(items) < 5 or os.environ.get("DATAWHEEL_NO_PROGRESS"):
        return items
    from rich.progress import track

    return track(items, description=description, transient=True, console=_console())


def _console():
    from rich.console import Console

    return Console(stderr=True)


def run_stage(name: str, body: Callable[[Params], None]) -> None:
    """Run a stage body; a DatawheelError becomes one red line and its exit code."""
    try:
        body(load_params())
    except DatawheelError as exc:
        if os.environ.get("DATAWHEEL_DEBUG"):
            raise
        _console().print(f"[bold red]{name}: {exc}[/]", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
