"""The code is in the lineage: changing the library code a stage runs makes DVC see that
stage as changed and makes the next promotion MAJOR, in both layouts.

Cheap by design: the init project runs only the ingest stage, and the repository copy has
its dvc.lock written by `dvc commit` over placeholder data (dvc status compares hashes of
deps, so that is enough to show what DVC would re-run)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import git
import pytest
import yaml

from datawheel.config.params import load_params
from datawheel.io.code import CODE_RECORD, package_dir, read_code_record
from datawheel.io.process import command_env, dvc
from datawheel.registry.promote import bump_kind
from datawheel.sandbox.flywheel import set_params

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def _status(root: Path, *stages: str, env: dict | None = None) -> dict:
    """`dvc status --json` for the stages: each changed one with what changed."""
    result = subprocess.run(
        [sys.executable, "-m", "dvc", "status", "--json", *stages],
        cwd=root,
        env=env or command_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout or "{}")


def _changed_deps(status: dict, stage: str) -> dict:
    entries = status.get(stage, [])
    return {path: how for entry in entries for path, how in entry.get("changed deps", {}).items()}


def _upgraded_datawheel(where: Path) -> dict:
    """A copy of the installed datawheel with one library function edited, first on the
    path: what a `pip install --upgrade datawheel` would leave."""
    copy = where / "datawheel"
    shutil.copytree(package_dir(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    train = copy / "model" / "train.py"
    text = train.read_text()
    edited = text.replace('kind="stable")', 'kind="mergesort")', 1)
    assert edited != text
    train.write_text(edited)
    env = command_env()
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(where), env.get("PYTHONPATH")) if p)
    return env


def test_upgrading_datawheel_in_an_init_project_reruns_its_stages_and_bumps_major(
    project, tmp_path
):
    root = project.root
    for stage in yaml.safe_load((root / "dvc.yaml").read_text())["stages"].values():
        assert CODE_RECORD in stage["deps"] and not any(d.startswith("src/") for d in stage["deps"])
    project.add_days(0, 2)
    project.commit_data("data: two days")
    project.repro("ingest")
    champion = project.commit("ingest ran: the champion's code")
    recorded = read_code_record(root)

    upgraded = _upgraded_datawheel(tmp_path / "site")
    refused = subprocess.run(
        [sys.executable, "-m", "stages.ingest"],
        cwd=root,
        env=upgraded,
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 2
    message = " ".join(refused.stderr.split())
    assert CODE_RECORD in message and "datawheel code --update" in message
    assert _status(root, "ingest") == {}  # nothing changed yet in what DVC hashes

    updated = subprocess.run(
        [sys.executable, "-m", "datawheel", "code", "--update"],
        cwd=root,
        env=upgraded,
        capture_output=True,
        text=True,
        check=False,
    )
    assert updated.returncode == 0, updated.stderr
    assert read_code_record(root).digest != recorded.digest
    assert _changed_deps(_status(root, "ingest"), "ingest") == {CODE_RECORD: "modified"}
    upgrade = project.commit("datawheel upgraded")
    params = load_params(root / "params.yaml")
    assert bump_kind(root, params, champion, upgrade) == "major"

    # the upgraded code now runs; a change outside code and MAJOR params stays MINOR
    rerun = subprocess.run(
        [sys.executable, "-m", "dvc", "repro", "ingest"],
        cwd=root,
        env=upgraded,
        capture_output=True,
        text=True,
        check=False,
    )
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert _status(root, "ingest", env=upgraded) == {}
    project.commit("ingest ran with the upgraded code")
    set_params(root, {("gate", "bootstrap_samples"): 300})
    later = project.commit("gate: more bootstrap samples")
    assert bump_kind(root, load_params(root / "params.yaml"), upgrade, later) == "minor"


def _repository_copy(where: Path) -> Path:
    """This repository's pipeline (dvc.yaml, params, stages, suites, src/) in a new git + DVC
    repo, with dvc.lock for ingest and train committed over placeholder data."""
    where.mkdir()
    for item in ("dvc.yaml", "params.yaml", "stages", "expectations", "src"):
        source = ROOT / item
        if source.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
            shutil.copytree(source, where / item, ignore=ignore)
        else:
            shutil.copy2(source, where / item)
    git.Repo.init(where, initial_branch="main")
    dvc("init", "--quiet", cwd=where)
    from dvc.repo import Repo

    with Repo(str(where)) as repo:
        stages = [s for s in repo.index.stages if s.name in ("ingest", "train")]
        for item in [*(d for s in stages for d in s.deps), *(o for s in stages for o in s.outs)]:
            path = Path(item.fs_path)
            if path.exists():
                continue
            if path.suffix:  # a file output or input
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("placeholder\n")
            else:
                path.mkdir(parents=True)
                (path / "placeholder").write_text("placeholder\n")
    dvc("commit", "--force", "--quiet", "ingest", "train", cwd=where)
    return where


def _commit(root: Path, message: str) -> str:
    repo = git.Repo(root)
    repo.git.add(A=True)
    repo.git.commit("--quiet", "-m", message)
    return repo.head.commit.hexsha


def test_editing_a_library_function_a_stage_runs_reruns_it_and_bumps_major(tmp_path):
    root = _repository_copy(tmp_path / "repo")
    base = _commit(root, "pipeline with a lock for ingest and train")
    assert _status(root, "ingest", "train") == {}
    params = load_params(root / "params.yaml")

    train = root / "src/datawheel/model/train.py"
    train.write_text(train.read_text().replace('kind="stable")', 'kind="mergesort")', 1))
    status = _status(root, "ingest", "train")
    assert set(status) == {"train"}  # ingest does not run train.py
    assert _changed_deps(status, "train") == {"src/datawheel/model/train.py": "modified"}
    edited = _commit(root, "train: another stable sort")
    assert bump_kind(root, params, base, edited) == "major"

    report = root / "src/datawheel/review/report.py"  # no stage runs it
    report.write_text(report.read_text() + "\n# reviewed\n")
    assert set(_status(root, "ingest", "train")) == {"train"}
    reviewed = _commit(root, "report: a note")
    assert bump_kind(root, params, edited, reviewed) == "minor"
