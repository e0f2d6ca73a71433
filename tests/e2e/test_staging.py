"""Fail-safe staging on a real project: staging first, prod after data after it confirms."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from datawheel.io.files import file_md5, read_json
from datawheel.io.process import dvc

from .conftest import Project, set_params
from .test_promote import NAME, _cli, _gto_show, _origin, _remote_tags

pytestmark = pytest.mark.e2e


def _artifact(project: Project, stage: str, where: Path) -> str:
    where.mkdir(exist_ok=True)
    out = where / f"{stage}.skops"
    dvc(
        "artifacts", "get", str(_origin(project)), NAME, "--stage", stage, "-o", str(out), cwd=where
    )
    return file_md5(out)


def _run_ci(
    project: Project, days: tuple[int, int], message: str, drift: bool = True
) -> subprocess.CompletedProcess:
    project.add_days(*days, inject=("concept_drift@21",) if drift else ())
    project.commit_data(message)
    project.git.git.push("origin", "main")
    project.repro()
    return _cli(project, "promote")


def test_a_candidate_is_staged_then_confirmed_to_prod(flywheel: Project, tmp_path: Path):
    project = flywheel
    set_params(
        project.root,
        {
            ("window", "days"): 14,
            ("gate", "staging", "enabled"): True,
            ("gate", "staging", "min_new_rows"): 100,
        },
    )
    project.add_days(0, 21)
    project.commit_data("data: three weeks; staging on")
    project.git.git.push("origin", "main")
    project.repro()
    first = _cli(project, "promote")
    assert first.returncode == 0, first.stdout + first.stderr
    assert (
        read_json(project.root / "models/champion.json")["version"] == "v1.0.0"
    )  # no champion yet

    staged = _run_ci(project, (21, 14), "data: two drifted weeks")
    assert staged.returncode == 0, staged.stdout + staged.stderr
    pointer = read_json(project.root / "models/champion.json")
    assert pointer["version"] == "v1.0.0" and pointer["staging"]["version"] == "v1.1.0"
    assert {f"{NAME}@v1.1.0", f"{NAME}#staging#2"} <= _remote_tags(project)
    viewer = tmp_path / "viewer"
    subprocess.run(["git", "clone", "--quiet", str(_origin(project)), str(viewer)], check=True)
    shown = _gto_show(viewer)
    assert "staging" in shown and "v1.1.0" in shown
    assert _artifact(project, "staging", tmp_path / "get") == pointer["staging"]["model_md5"]
    assert _artifact(project, "prod", tmp_path / "get") == pointer["model_md5"]
    # What the operator on call reads: status and the run's job summary name the staged model.
    state = json.loads(_cli(project, "status", "--json").stdout)
    assert state["staging"]["version"] == "v1.1.0"
    assert (state["staging"]["confirmations"], state["staging"]["confirmations_needed"]) == (0, 1)
    assert "v1.1.0: 0 of 1 confirmation(s)" in _cli(project, "status").stdout
    summary = _cli(project, "summary").stdout
    assert "**Staging: PENDING**" in summary and "v1.1.0 waits in staging" in summary

    confirmed = _run_ci(project, (35, 3), "data: three more drifted days")
    assert confirmed.returncode == 0, confirmed.stdout + confirmed.stderr
    gate = read_json(project.root / "reports/gate.json")
    champion = read_json(project.root / "models/champion.json")
    assert champion["version"] == "v1.1.0" and champion["staging"] is None, gate.get("staging")
    subprocess.run(["git", "-C", str(viewer), "pull", "--quiet", "--tags"], check=True)
    shown = _gto_show(viewer)
    assert "v1.1.0" in shown
    assert _artifact(project, "prod", tmp_path / "get2") == champion["model_md5"]


def test_a_staged_candidate_the_champion_beats_on_later_data_never_reaches_prod(
    flywheel: Project,
):
    project = flywheel
    set_params(
        project.root,
        {
            ("window", "days"): 14,
            ("gate", "staging", "enabled"): True,
            ("gate", "staging", "min_new_rows"): 100,
        },
    )
    project.add_days(0, 21)
    project.commit_data("data: three weeks; staging on")
    project.git.git.push("origin", "main")
    project.repro()
    assert _cli(project, "promote").returncode == 0
    assert _run_ci(project, (21, 14), "data: two drifted weeks").returncode == 0
    assert read_json(project.root / "models/champion.json")["staging"]["version"] == "v1.1.0"

    # The drift was a blip: the next days follow the champion's concept again.
    dropped = _run_ci(project, (35, 4), "data: four ordinary days", drift=False)
    assert dropped.returncode == 0, dropped.stdout + dropped.stderr
    said = dropped.stdout + dropped.stderr
    champion = read_json(project.root / "models/champion.json")
    assert champion["version"] == "v1.0.0" and champion["staging"] is None, said
    assert "dropped v1.1.0 from staging" in said and "the champion beats v1.1.0" in said
    tags = _remote_tags(project)
    assert any(tag.startswith(f"{NAME}#staging!#") for tag in tags)
    assert not any(tag.startswith(f"{NAME}#prod#") and tag != f"{NAME}#prod#1" for tag in tags)
