"""Projects made by `datawheel init` (the CLI, in a subprocess), with a local DVC remote."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from datawheel.sandbox.flywheel import set_params
from tests.e2e.conftest import FAST_PARAMS, ROWS_PER_DAY, SEED, START

GOOD_DAYS = 3


def run(root: Path, *command: str) -> subprocess.CompletedProcess:
    """A command in the project as a user runs it; stdout and stderr kept apart."""
    return subprocess.run(
        list(command),
        cwd=root,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        },
    )


def git(root: Path, *args: str) -> str:
    result = run(root, "git", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def dvc(root: Path, *args: str) -> subprocess.CompletedProcess:
    return run(root, sys.executable, "-m", "dvc", *args)


def make_project(where: Path, days: int = GOOD_DAYS) -> Path:
    """`datawheel init` with a local DVC remote, the tests' faster params, `days` good days
    of the built-in stream committed with `dvc add data/raw`."""
    root, remote = where / "project", where / "dvc-remote"
    result = run(
        where, sys.executable, "-m", "datawheel", "init", str(root), "--remote", str(remote)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    set_params(root, FAST_PARAMS)
    result = run(
        root,
        sys.executable,
        "-m",
        "datawheel",
        "simulate",
        "--out",
        "data/raw",
        "--start",
        START.isoformat(),
        "--days",
        str(days),
        "--rows-per-day",
        str(ROWS_PER_DAY),
        "--seed",
        str(SEED),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert dvc(root, "add", "--quiet", "data/raw").returncode == 0
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", "data: good days")
    return root


def tree_md5s(folder: Path) -> dict[str, str]:
    """md5 of every entry under folder (a symlink's target text, never its target's bytes)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        key = path.relative_to(folder).as_posix()
        if path.is_symlink():
            found[key] = "symlink->" + os.readlink(path)
        elif path.is_file():
            found[key] = hashlib.md5(path.read_bytes()).hexdigest()
    return found


@pytest.fixture(scope="module")
def template_project(tmp_path_factory) -> Path:
    """One init project per test module; tests work on copies of it."""
    return make_project(tmp_path_factory.mktemp("template"))


@pytest.fixture
def project(template_project: Path, tmp_path: Path) -> Path:
    """A private copy of the module's project (git, DVC cache and remote included)."""
    target = tmp_path / "copy"
    shutil.copytree(template_project.parent, target, symlinks=True)
    root = target / "project"
    # the copy's DVC remote is its own, so tampering with it touches no other test
    assert (
        dvc(
            root, "remote", "modify", "--local", "storage", "url", str(target / "dvc-remote")
        ).returncode
        == 0
    )
    return root
