"""The one runner of external commands (git, dvc, datawheel itself, a workflow's steps).

`run` streams a command's output (stdout and stderr merged, line by line) and `capture`
keeps stdout and stderr apart for a caller that parses stdout; both run with no stdin
(`input` aside), in `command_env()` unless given an environment, and raise
`CommandFailed` on a non-zero exit when `check` is set. Git goes through `datawheel.io.git`,
which runs `capture` and raises `GitFailed` with git's own error text.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from datawheel.errors import DatawheelError


class CommandFailed(DatawheelError):
    """A git or DVC command run on the user's behalf failed."""

    def __init__(self, command: Sequence[str], returncode: int, output: str):
        self.command = list(command)
        self.returncode = returncode
        self.output = output
        tail = "\n".join(output.strip().splitlines()[-15:])
        super().__init__(f"`{' '.join(command)}` exited with {returncode}:\n{tail}")


def command_env() -> dict[str, str]:
    """The environment for stage commands: this interpreter's `python` first, no analytics."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("DVC_NO_ANALYTICS", "1")
    env.setdefault("GX_ANALYTICS_ENABLED", "false")
    return env


def run(
    command: Sequence[str],
    cwd: Path,
    on_line: Callable[[str], None] | None = None,
    check: bool = True,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Run a command in cwd, streaming each output line to on_line; raise CommandFailed.

    The result's stdout holds stdout and stderr merged; `env` replaces `command_env()`."""
    proc = subprocess.Popen(
        list(command),
        cwd=cwd,
        env=dict(env) if env is not None else command_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if on_line:
            on_line(line.rstrip("\n"))
    proc.wait()
    output = "".join(lines)
    if check and proc.returncode != 0:
        raise CommandFailed(command, proc.returncode, output)
    return subprocess.CompletedProcess(list(command), proc.returncode, output, "")


def capture(
    command: Sequence[str],
    cwd: Path | str,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess:
    """Run a command in cwd with stdout and stderr kept apart, nothing shown; `input` is
    its stdin (none otherwise) and `env` replaces `command_env()`. CommandFailed on a
    non-zero exit names the command and its stderr (its stdout when stderr is empty)."""
    result = subprocess.run(
        list(command),
        cwd=cwd,
        env=dict(env) if env is not None else command_env(),
        input=input,
        stdin=subprocess.DEVNULL if input is None else None,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        check=False,
    )
    if check and result.returncode != 0:
        raise CommandFailed(command, result.returncode, result.stderr or result.stdout)
    return result


def dvc(*args: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    """Run the DVC command-line of this environment."""
    return run([sys.executable, "-m", "dvc", *args], cwd=cwd, **kwargs)


DVC_FOOTER = "Having any troubles?"


def dvc_error_text(output: str) -> str:
    """DVC's own error lines from a failed command's output: from the first `ERROR` line on,
    without the support footer; all of the output (footer aside) if DVC wrote no such line."""
    lines = [line for line in output.splitlines() if not line.startswith(DVC_FOOTER)]
    first = next((i for i, line in enumerate(lines) if line.startswith("ERROR")), 0)
    return "\n".join(lines[first:]).strip() or "DVC gave no error message"
