"""Reading GTO's tags with one for-each-ref gives what gto itself reports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from datawheel.registry.tags import (
    next_version,
    parse_tag_line,
    read_registry,
    stage_tag_name,
    version_tag_name,
)

NAME = "churn-model"
GTO = str(Path(sys.executable).parent / "gto")


def _git(root: Path, *args: str, date: int | None = None) -> str:
    env = {"GIT_COMMITTER_DATE": f"{1_700_000_000 + date} +0000"} if date else {}
    import os

    return subprocess.run(
        ["git", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    _git(tmp_path, "init", "--quiet", "--initial-branch=main")
    (tmp_path / "dvc.yaml").write_text(
        f"artifacts:\n  {NAME}:\n    path: m.skops\n    type: model\n"
    )
    _git(tmp_path, "add", "dvc.yaml")
    _git(tmp_path, "commit", "--quiet", "-m", "one")
    return tmp_path


def _commit(repo: Path, message: str) -> str:
    _git(repo, "commit", "--quiet", "--allow-empty", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


def _tag(repo: Path, name: str, commit: str, when: int) -> None:
    _git(repo, "tag", "--annotate", name, commit, "-m", name, date=when)


def test_names_are_gtos_own(repo: Path):
    subprocess.run(
        [GTO, "register", NAME, "--version", "v1.0.0"], cwd=repo, check=True, capture_output=True
    )
    subprocess.run(
        [GTO, "assign", NAME, "--version", "v1.0.0", "--stage", "prod"],
        cwd=repo,
        check=True,
        capture_output=True,
    )
    names = set(_git(repo, "tag", "-l").splitlines())
    assert names == {version_tag_name(NAME, "v1.0.0"), stage_tag_name(NAME, "prod", 1)}
    registry = read_registry(repo)
    assert registry.latest(NAME) == "v1.0.0" and registry.current(NAME) == "v1.0.0"
    assert registry.next_counter(NAME) == 2


def test_rollback_order_and_versions(repo: Path):
    first, second = _commit(repo, "a"), _commit(repo, "b")
    _tag(repo, version_tag_name(NAME, "v1.0.0"), first, 100)
    _tag(repo, stage_tag_name(NAME, "prod", 1), first, 101)
    _tag(repo, version_tag_name(NAME, "v1.1.0"), second, 200)
    _tag(repo, stage_tag_name(NAME, "prod", 2), second, 201)
    _tag(repo, stage_tag_name(NAME, "prod", 3), first, 300)  # rolled back to v1.0.0
    _git(repo, "tag", "lightweight")  # not GTO's: ignored
    _git(repo, "tag", "--annotate", "release-1", "-m", "x")  # not GTO's: ignored
    registry = read_registry(repo)
    assert registry.current(NAME) == "v1.0.0"
    assert [a.version for a in registry.assignments(NAME)] == ["v1.0.0", "v1.1.0", "v1.0.0"]
    assert registry.latest(NAME) == "v1.1.0"
    assert registry.version_at(NAME, second) == "v1.1.0"
    assert registry.next_counter(NAME) == 4
    shown = subprocess.run(
        [GTO, "show", NAME], cwd=repo, capture_output=True, text=True, check=True
    ).stdout
    prod_line = next(line for line in shown.splitlines() if "v1.0.0" in line)
    assert "prod" in prod_line  # gto agrees: prod is on v1.0.0 again


@pytest.mark.parametrize(
    ("latest", "bump", "expected"),
    [(None, "minor", "v1.0.0"), ("v1.4.0", "minor", "v1.5.0"), ("v1.4.0", "major", "v2.0.0")],
)
def test_next_version(latest, bump, expected):
    assert next_version(latest, bump) == expected


def test_versions_sort_by_semver_not_text(repo: Path):
    commit = _commit(repo, "c")
    for i, version in enumerate(["v1.9.0", "v1.10.0", "v1.2.0"]):
        _tag(repo, version_tag_name(NAME, version), commit, 100 + i)
    assert read_registry(repo).latest(NAME) == "v1.10.0"


def test_parse_tag_line_ignores_lightweight_tags():
    assert parse_tag_line(f"{NAME}@v1.0.0\tcommit\t\tabc\t1\t") is None
    tag = parse_tag_line(f"{NAME}#prod#3\ttag\tabc\tdef\t7\tci")
    assert tag.stage == "prod" and tag.counter == 3 and tag.commit == "abc"
