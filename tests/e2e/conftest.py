"""A real datawheel project in a temporary folder: git, DVC and a local DVC remote."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import git
import pytest

from datawheel.data.simulate import parse_injection, simulate
from datawheel.io.files import file_md5
from datawheel.io.process import dvc
from datawheel.project.scaffold import init_repo
from datawheel.sandbox.flywheel import set_params

START = dt.date(2026, 1, 1)
SEED = 11
ROWS_PER_DAY = 150

# Smaller than the shipped defaults so each `dvc repro` takes seconds, same code paths.
FAST_PARAMS = {
    ("model", "hist_gradient_boosting", "max_iter"): 40,
    ("label_issues", "folds"): 3,
    ("gate", "bootstrap_samples"): 200,
    ("gate", "min_segment_rows"): 40,
}


@dataclass
class Project:
    root: Path
    remote: Path

    @property
    def git(self) -> git.Repo:
        return git.Repo(self.root)

    def add_days(self, first: int, days: int, inject: tuple[str, ...] = ()) -> list[Path]:
        """Simulate days [first, first+days) of the built-in stream into data/raw."""
        day = START + dt.timedelta(days=first)
        injections = [parse_injection(text, START) for text in inject]
        return simulate(self.root / "data/raw", day, days, ROWS_PER_DAY, SEED, "csv", injections)

    def commit_data(self, message: str) -> str:
        dvc("add", "--quiet", "data/raw", cwd=self.root)
        return self.commit(message)

    def commit(self, message: str) -> str:
        repo = self.git
        repo.git.add(A=True)
        repo.git.commit("--quiet", "--allow-empty", "-m", message)
        return repo.head.commit.hexsha

    def repro(self, *args: str) -> str:
        return dvc("repro", *args, cwd=self.root).stdout

    def md5(self, relative: str) -> str:
        return file_md5(self.root / relative)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root, remote = tmp_path / "repo", tmp_path / "dvc-remote"
    init_repo(root, remote=remote)
    set_params(root, FAST_PARAMS)
    proj = Project(root, remote)
    proj.commit("test: faster params")
    return proj


@pytest.fixture
def flywheel(project: Project) -> Project:
    """The project with a bare repository as `origin`, main pushed to it."""
    origin = project.root.parent / "origin.git"
    git.Repo.init(origin, bare=True, initial_branch="main")
    project.git.create_remote("origin", str(origin))
    project.git.git.push("origin", "main")
    return project


def clone(origin: Path, where: Path) -> Project:
    """A clone of origin, as CI or a colleague would have it, sharing the DVC remote."""
    git.Repo.clone_from(origin, where)
    return Project(where, remote=Path())
