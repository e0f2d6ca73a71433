"""Promotion, hold and rollback against a bare `origin` and a local DVC remote."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import git
import pytest

from datawheel.io.files import file_md5, read_json
from datawheel.io.process import command_env, dvc
from datawheel.registry.promote import promote

from .conftest import FAST_PARAMS, Project, set_params

pytestmark = pytest.mark.e2e

NAME = "churn-model"


def _cli(project: Project, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "datawheel", *args],
        cwd=project.root,
        capture_output=True,
        text=True,
        env=command_env(),
        check=False,
    )


def _origin(project: Project) -> Path:
    return project.root.parent / "origin.git"


def _remote_tags(project: Project) -> set[str]:
    out = subprocess.run(
        ["git", "ls-remote", "--tags", str(_origin(project))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {line.split("refs/tags/")[1] for line in out.splitlines() if "^{}" not in line}


def _origin_file(project: Project, path: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(_origin(project)), "show", f"main:{path}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _in_dvc_remote(project: Project, md5: str) -> bool:
    return (project.remote / "files" / "md5" / md5[:2] / md5[2:]).is_file()


def _artifacts_get(project: Project, where: Path, name: str = NAME) -> str:
    """What a deployment without datawheel fetches: the prod model, from origin."""
    out = where / "model.skops"
    dvc(
        "artifacts",
        "get",
        str(_origin(project)),
        name,
        "--stage",
        "prod",
        "-o",
        str(out),
        cwd=where,
    )
    return file_md5(out)


def _gto_show(where: Path, name: str = NAME) -> str:
    return subprocess.run(
        [str(Path(sys.executable).parent / "gto"), "show", name],
        cwd=where,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _first_champion(project: Project) -> dict:
    set_params(project.root, {("window", "days"): 14})
    project.add_days(0, 21)
    project.commit_data("data: three weeks")
    project.git.git.push("origin", "main")
    project.repro()
    result = _cli(project, "promote")
    assert result.returncode == 0, result.stdout + result.stderr
    return read_json(project.root / "models/champion.json")


def test_promote_hold_and_rollback_through_the_registry(flywheel: Project, tmp_path: Path):
    project = flywheel
    first = _first_champion(project)
    assert first["version"] == "v1.0.0"
    assert _remote_tags(project) == {f"{NAME}@v1.0.0", f"{NAME}#prod#1"}
    assert read_json_text(_origin_file(project, "models/champion.json")) == first
    assert first["model_md5"] == project.md5("models/model.skops")
    assert _in_dvc_remote(project, first["model_md5"])
    message = project.git.git.tag("-l", "--format=%(contents)", f"{NAME}@v1.0.0")
    assert "train rows:" in message and "raw data md5:" in message

    # Concept drift: a retrained model beats the champion → a MINOR version.
    project.add_days(21, 14, inject=("concept_drift@21",))
    project.commit_data("data: two drifted weeks")
    project.git.git.push("origin", "main")
    project.repro()
    assert read_json(project.root / "reports/gate.json")["decision"] == "promote"
    result = _cli(project, "promote", "--outcome", str(tmp_path / "outcome.json"))
    assert result.returncode == 0, result.stdout + result.stderr
    second = read_json(project.root / "models/champion.json")
    assert second["version"] == "v1.1.0" and second["previous"] == "v1.0.0"
    assert second["bump"] == "minor"
    assert read_json(tmp_path / "outcome.json")["result"] == "promoted"
    assert _remote_tags(project) >= {f"{NAME}@v1.1.0", f"{NAME}#prod#2"}

    # A deployment and a colleague see the registry with the DVC ecosystem's own tools.
    viewer = tmp_path / "viewer"
    subprocess.run(["git", "clone", "--quiet", str(_origin(project)), str(viewer)], check=True)
    shown = _gto_show(viewer)
    assert "v1.1.0" in shown and "prod" in shown
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    assert _artifacts_get(project, deploy) == second["model_md5"]

    # A params change that makes the model worse is held; nothing moves.
    set_params(
        project.root,
        {
            ("model", "estimator"): "logistic_regression",
            ("model", "logistic_regression", "C"): 0.0001,
        },
    )
    project.commit("params: a much weaker model")
    project.git.git.push("origin", "main")
    project.repro()
    tags_before = _remote_tags(project)
    head_before = project.git.head.commit.hexsha
    result = _cli(project, "promote")
    assert result.returncode == 10
    assert "Held" in result.stdout
    assert _remote_tags(project) == tags_before
    assert project.git.head.commit.hexsha == head_before
    assert read_json(project.root / "models/champion.json")["version"] == "v1.1.0"

    # Rollback: prod goes back to v1.0.0, seen by gto and by `dvc artifacts get`.
    result = _cli(project, "rollback")
    assert result.returncode == 0, result.stdout + result.stderr
    rolled = read_json(project.root / "models/champion.json")
    assert rolled["version"] == "v1.0.0" and rolled["rolled_back_from"] == "v1.1.0"
    assert read_json_text(_origin_file(project, "models/champion.json")) == rolled
    deploy2 = tmp_path / "deploy2"
    deploy2.mkdir()
    assert _artifacts_get(project, deploy2) == first["model_md5"]
    subprocess.run(["git", "-C", str(viewer), "fetch", "--quiet", "--tags"], check=True)
    assert "v1.0.0" in _gto_show(viewer).split("prod")[-1] or "v1.0.0" in _gto_show(viewer)

    status = _cli(project, "status", "--json")
    assert status.returncode == 0
    assert '"prod": "v1.0.0"' in status.stdout

    # Rolling back to a version that is not registered is refused, nothing changes.
    result = _cli(project, "rollback", "v9.9.9")
    assert result.returncode == 11 and "not a registered version" in result.stdout

    # The rollback holds: the team fixes the params and delivers a day; the candidate beats
    # the restored v1.0.0, and the gate still holds with the pin's reason.
    pin = rolled["pin"]
    assert pin["version"] == "v1.0.0" and pin["reason"] == "rolled back from v1.1.0"
    assert pin["by"] and pin["at"].endswith("Z")
    message = subprocess.run(
        ["git", "--git-dir", str(_origin(project)), "log", "-1", "--format=%B", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Pinned-version: v1.0.0" in message and "Reason: rolled back from v1.1.0" in message
    assert '"pin": {' in status.stdout
    set_params(project.root, {("model", "estimator"): "hist_gradient_boosting"})
    project.add_days(35, 1, inject=("concept_drift@21",))
    project.commit_data("params: back to gradient boosting; data: a day")
    project.git.git.push("origin", "main")
    project.repro()
    gate = read_json(project.root / "reports/gate.json")
    assert gate["decision"] == "hold"
    assert gate["reasons"][0].startswith(f"prod pinned by {pin['by']} at {pin['at']}: rolled")
    others = [c for c in gate["checks"] if c["name"] != "pin"]
    assert all(c["passed"] for c in others), others  # it would promote, but for the pin
    result = _cli(project, "promote")
    assert result.returncode == 10 and "pinned" in result.stdout

    # Release lifts it: the pointer is committed with the re-evaluated gate, which promotes.
    result = _cli(project, "release", "--reason", "fixed upstream")
    assert result.returncode == 0, result.stdout + result.stderr
    assert read_json(project.root / "models/champion.json")["pin"] is None
    assert read_json(project.root / "reports/gate.json")["decision"] == "promote"
    result = _cli(project, "promote")
    assert result.returncode == 0, result.stdout + result.stderr
    # MAJOR: the model section still differs from v1.0.0's (logistic_regression.C)
    assert read_json(project.root / "models/champion.json")["version"] == "v2.0.0"

    # An incident freeze without a rollback: only the version in prod can be pinned.
    result = _cli(project, "pin", "v1.0.0")
    assert result.returncode == 11 and "datawheel rollback v1.0.0" in result.stdout
    result = _cli(project, "pin", "--reason", "incident 42")
    assert result.returncode == 0, result.stdout + result.stderr
    frozen = read_json(project.root / "models/champion.json")
    assert frozen["pin"]["version"] == "v2.0.0" and frozen["pin"]["reason"] == "incident 42"
    assert "incident 42" in read_json(project.root / "reports/gate.json")["reasons"][0]
    result = _cli(project, "pin")
    assert result.returncode == 11 and "already pinned" in result.stdout


def read_json_text(text: str) -> dict:
    import json

    return json.loads(text)


def test_two_promotions_from_the_same_base_give_one_champion(
    flywheel: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    project = flywheel
    project.add_days(0, 14)
    project.commit_data("data: two weeks")
    project.git.git.push("origin", "main")
    project.repro()
    # A second CI run on the same commit, with the same repro outputs.
    other_root = tmp_path / "other"
    shutil.copytree(project.root, other_root, symlinks=True)
    other = Project(other_root, project.remote)
    base = other.git.head.commit.hexsha

    # `other` passes its origin check, then loses the race while it pushes its data.
    def racing_dvc_push(root: Path) -> None:
        with monkeypatch.context() as run:
            run.setenv("GITHUB_RUN_ID", "1")
            winner = promote(project.root)
        assert winner.result == "promoted", winner.message
        dvc("push", "--quiet", cwd=root)

    monkeypatch.setenv("GITHUB_RUN_ID", "2")
    loser = promote(other.root, dvc_push=racing_dvc_push)
    assert loser.result == "refused" and loser.exit_code == 11
    assert _remote_tags(project) == {f"{NAME}@v1.0.0", f"{NAME}#prod#1"}
    assert other.git.git.tag("-l") == ""  # no local tags left behind
    assert read_json(other.root / "models/champion.json")["version"] is None
    assert other.git.head.commit.hexsha == base  # its record commit is undone as well
    assert "dvc.lock" in other.git.git.status("--porcelain")  # repro's outputs are kept

    # Run again, it sees the new champion on origin and refuses before touching anything.
    again = _cli(other, "promote")
    assert again.returncode == 11 and "moved" in again.stdout


def test_failed_pushes_leave_the_champion_unchanged(flywheel: Project):
    project = flywheel
    project.add_days(0, 14)
    project.commit_data("data: two weeks")
    project.git.git.push("origin", "main")
    project.repro()
    head = project.git.head.commit.hexsha

    # the operator's own local config (.dvc/config.local), never a committed change
    dvc(
        "remote",
        "modify",
        "--local",
        "storage",
        "url",
        "/proc/no-such-dvc-remote",
        cwd=project.root,
    )
    result = _cli(project, "promote")
    assert result.returncode == 1, result.stdout
    assert "champion is unchanged" in result.stdout
    assert project.git.head.commit.hexsha == head
    assert project.git.git.tag("-l") == "" and _remote_tags(project) == set()
    assert read_json(project.root / "models/champion.json")["version"] is None
    (project.root / ".dvc/config.local").unlink()

    hook = _origin(project) / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'push declined by policy' >&2\nexit 1\n")
    hook.chmod(0o755)
    result = _cli(project, "promote")
    assert result.returncode == 1, result.stdout
    assert "declined" in result.stdout
    assert project.git.head.commit.hexsha == head
    assert project.git.git.tag("-l") == "" and _remote_tags(project) == set()
    assert "champion.json" not in project.git.git.status("--porcelain")

    hook.unlink()
    result = _cli(project, "promote")
    assert result.returncode == 0, result.stdout
    assert _remote_tags(project) == {f"{NAME}@v1.0.0", f"{NAME}#prod#1"}


def test_a_project_named_by_init_is_what_gto_and_dvc_artifacts_get_see(tmp_path: Path):
    """`datawheel init --model-name` names the artifact in dvc.yaml and in every tag, so the
    DVC ecosystem's own tools find the promoted model by that name, not by `churn-model`."""
    root, remote, origin = tmp_path / "repo", tmp_path / "dvc-remote", tmp_path / "origin.git"
    made = subprocess.run(
        [sys.executable, "-m", "datawheel", "init", str(root), "--remote", str(remote)]
        + ["--model-name", "retention"],
        capture_output=True,
        text=True,
        env=command_env(),
        check=False,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    project = Project(root, remote)
    set_params(root, FAST_PARAMS)
    git.Repo.init(origin, bare=True, initial_branch="main")
    project.git.create_remote("origin", str(origin))
    project.add_days(0, 14)
    project.commit_data("data: two weeks")
    project.git.git.push("origin", "main")
    project.repro()
    result = _cli(project, "promote")
    assert result.returncode == 0, result.stdout + result.stderr
    champion = read_json(root / "models/champion.json")
    assert _remote_tags(project) == {"retention@v1.0.0", "retention#prod#1"}

    viewer = tmp_path / "viewer"
    subprocess.run(["git", "clone", "--quiet", str(origin), str(viewer)], check=True)
    shown = _gto_show(viewer, "retention")
    assert "v1.0.0" in shown and "prod" in shown
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    assert _artifacts_get(project, deploy, "retention") == champion["model_md5"]
