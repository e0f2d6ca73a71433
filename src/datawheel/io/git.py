"""The one runner of git commands.

`git(*args, cwd=...)` runs `git` in cwd and returns its stdout without the final newlines
(leading spaces kept: `git status --porcelain` lines start with one). Git runs with this
process's environment plus `env` (e.g. `GIT_COMMITTER_DATE`), no stdin unless `input` is
given, and nothing shown on the terminal. A non-zero exit raises `GitFailed`, which names
the command and git's own error text, unless `check=False` (then the stdout is returned
as it is, usually empty). `git_succeeds` answers the yes/no commands whose exit code is
the answer (`merge-base --is-ancestor`, `diff --quiet`).

Repository objects (reading blobs and trees at a commit) stay with GitPython
(`datawheel.data.revisions`); every git *command* goes through here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from datawheel.errors import DatawheelError
from datawheel.io.process import capture


class GitFailed(DatawheelError):
    """A git command run on the user's behalf exited non-zero."""

    def __init__(self, args: Sequence[str], returncode: int, output: str):
        self.command = ["git", *args]
        self.returncode = returncode
        self.output = output
        super().__init__(f"`git {' '.join(args)}` failed: {output}")


def _run(args: Sequence[str], cwd: Path | str, env: Mapping[str, str] | None, input: str | None):
    return capture(
        ["git", *args], cwd=cwd, check=False, env={**os.environ, **(env or {})}, input=input
    )


def git(
    *args: str,
    cwd: Path | str,
    check: bool = True,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """`git args...` in cwd: its stdout without the final newlines; GitFailed if it fails."""
    result = _run(args, cwd, env, input)
    if check and result.returncode != 0:
        raise GitFailed(args, result.returncode, result.stderr.strip() or result.stdout.strip())
    return result.stdout.rstrip("\n")


def git_succeeds(*args: str, cwd: Path | str, env: Mapping[str, str] | None = None) -> bool:
    """Whether `git args...` in cwd exits 0 (any other exit, an error included, is False)."""
    return _run(args, cwd, env, None).returncode == 0
