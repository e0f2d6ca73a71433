"""What every stage module shares: params, progress and turning errors into exit codes."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

from datawheel.config.params import Params, load_params
from datawheel.errors import DatawheelError
from datawheel.io.code import check_code_record

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


def run_stage(name: str, body: Callable[[Params], None], builds_estimators: bool = False) -> None:
    """Run a stage body; a DatawheelError becomes one red line and its exit code. A project
    that records its code (.datawheel/code.json) runs only with that code installed.

    `builds_estimators`: the stage fits models, so its params are also checked against
    scikit-learn's constraints (the others skip that import's second of start-up)."""
    started = time.perf_counter()
    try:
        check_code_record(Path("."))
        body(load_params(check_estimators=builds_estimators))
    except DatawheelError as exc:
        _record_profile(name, time.perf_counter() - started)
        if os.environ.get("DATAWHEEL_DEBUG"):
            raise
        _console().print(f"[bold red]{name}: {exc}[/]", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    _record_profile(name, time.perf_counter() - started)


def _record_profile(name: str, body_seconds: float) -> None:
    """Opt-in, for benchmarks: append the stage's times and peak memory as one JSON line to
    the file DATAWHEEL_PROFILE names. That file lives outside the project, so no wall-clock
    figure reaches a pipeline output."""
    target = os.environ.get("DATAWHEEL_PROFILE")
    if not target:
        return
    import resource

    record = {
        "stage": name,
        "seconds": round(_process_age(), 3),  # start-up included
        "body_seconds": round(body_seconds, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    with open(target, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


def _process_age() -> float:
    """Seconds since this process started. On Linux from its start tick and the boot clock,
    which share an origin: psutil's create_time adds the boot time, which /proc/stat gives
    in whole seconds, so stage times came out up to a second long."""
    try:
        with open("/proc/self/stat", encoding="ascii") as handle:
            stat = handle.read()
        return age_from_stat(
            stat, time.clock_gettime(time.CLOCK_BOOTTIME), os.sysconf("SC_CLK_TCK")
        )
    except (OSError, AttributeError, ValueError, IndexError):
        import psutil  # a DVC dependency

        return time.time() - psutil.Process().create_time()


def age_from_stat(stat: str, boot_clock: float, ticks_per_second: int) -> float:
    """A process's age from its /proc/PID/stat line and the boot clock. The name field can
    hold spaces and parentheses, so fields are counted after its last ')'; starttime is
    field 22 of proc(5), the 20th after the name."""
    start_ticks = int(stat.rsplit(")", 1)[1].split()[19])
    return boot_clock - start_ticks / ticks_per_second
