"""DVC experiments (`dvc exp run --temp`, `--queue`, `dvc exp apply`) gate against the champion.

An experiment runs in a workspace DVC makes: a temporary git repository holding only the
experiment's commits (no tags, no branches) that shares the project's DVC cache. So the
champion is found by the md5 models/champion.json records, in that cache or else on the
DVC remote. Each test works in a fresh clone of `origin` that pulled the data and the
pipeline's intermediate outputs but not the model: the champion is only on the remote.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import git
import pytest
import yaml

from datawheel.io.dvc import cached_object
from datawheel.io.files import read_json
from datawheel.io.process import command_env, dvc
from datawheel.project.scaffold import init_repo

from .conftest import FAST_PARAMS, Project, clone, set_params

pytestmark = pytest.mark.e2e

LEARNING_RATE = "model.hist_gradient_boosting.learning_rate"
MAX_LEAF_NODES = "model.hist_gradient_boosting.max_leaf_nodes"
QUEUE_WAIT_SECONDS = 600  # a guard against a hung worker, not a measurement


@dataclass
class Promoted:
    origin: Path
    champion: dict


@pytest.fixture(scope="module")
def promoted(tmp_path_factory) -> Promoted:
    """A project whose first model went to `prod` through `datawheel promote`."""
    base = tmp_path_factory.mktemp("experiments")
    root, remote, origin = base / "repo", base / "dvc-remote", base / "origin.git"
    init_repo(root, remote=remote)
    set_params(root, FAST_PARAMS)
    project = Project(root, remote)
    project.commit("test: faster params")
    git.Repo.init(origin, bare=True, initial_branch="main")
    project.git.create_remote("origin", str(origin))
    project.add_days(0, 14)
    project.commit_data("data: two weeks")
    project.git.git.push("origin", "main")
    project.repro()
    result = _run(root, "-m", "datawheel", "promote")
    assert result.returncode == 0, result.stdout + result.stderr
    return Promoted(origin, read_json(root / "models/champion.json"))


@pytest.fixture
def checkout(promoted: Promoted, tmp_path: Path) -> Project:
    """A colleague's clone of origin: data and intermediate outputs pulled, not the model."""
    project = clone(promoted.origin, tmp_path / "clone")
    with project.git.config_writer() as config:  # the experiments' commits need an identity
        config.set_value("user", "name", "datawheel-tests")
        config.set_value("user", "email", "tests@datawheel.invalid")
    dvc("pull", "--quiet", "data/raw.dvc", "ingest", "validate", "curate", cwd=project.root)
    assert cached_object(promoted.champion["model_md5"], project.root) is None
    return project


def _run(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=root,
        capture_output=True,
        text=True,
        env=command_env(),
        check=False,
    )


def _dvc(project: Project, *args: str) -> str:
    result = _run(project.root, "-m", "dvc", *args)
    assert result.returncode == 0, f"dvc {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result.stdout


def _experiments(project: Project) -> dict[str, dict]:
    """`dvc exp show --json`: each experiment of the checked-out commit by name."""
    shown = json.loads(_dvc(project, "exp", "show", "--json"))
    return {
        rev["name"]: rev
        for baseline in shown
        for experiment in baseline.get("experiments") or []
        for rev in experiment["revs"]
    }


def _gate_at(project: Project, rev: str) -> dict:
    """reports/gate.json as the experiment's commit records it."""
    return json.loads(project.git.git.show(f"{rev}:reports/gate.json"))


def _assert_gated_against(gate: dict, champion: dict) -> None:
    """The gate re-scored the promoted champion: the same hold-out gives its recorded metrics."""
    assert gate["champion"] is not None, gate["reasons"]
    assert gate["champion"] == pytest.approx(champion["metrics"])
    primary = gate["primary_metric"]
    assert gate["bootstrap"]["champion"] == pytest.approx(champion["metrics"][primary])
    assert gate["bootstrap"]["samples"] > 0
    assert gate["decision"] in {"promote", "hold"}


def test_a_temp_experiment_gates_against_the_champion_and_applies(
    checkout: Project, promoted: Promoted
):
    _dvc(checkout, "exp", "run", "--temp", "-n", "slow-learner", "-S", f"{LEARNING_RATE}=0.05")

    experiment = _experiments(checkout)["slow-learner"]
    assert experiment["error"] is None
    params = experiment["data"]["params"]["params.yaml"]["data"]
    assert params["model"]["hist_gradient_boosting"]["learning_rate"] == 0.05
    # DVC's own table: paths are dvc.yaml vars, not params; the only metric is the model's,
    # in numbers, but for the identity of the hold-out it was scored on.
    assert "paths" not in params and "registry" not in params
    assert list(experiment["data"]["metrics"]) == ["reports/metrics.json"]
    metrics = experiment["data"]["metrics"]["reports/metrics.json"]["data"]
    identity = {"start", "end", "fingerprint"}
    for group, values in metrics.items():
        for key, value in values.items():
            wanted = str if group == "holdout" and key in identity else (int, float)
            assert isinstance(value, wanted) and not isinstance(value, bool), (group, key)
    assert {"candidate", "champion", "baseline", "gate", "holdout"} <= set(metrics)
    gate = _gate_at(checkout, experiment["rev"])
    _assert_gated_against(gate, promoted.champion)
    recorded = json.loads(checkout.git.git.show(f"{experiment['rev']}:models/champion.json"))
    assert recorded["model_md5"] == promoted.champion["model_md5"]

    _dvc(checkout, "exp", "apply", "slow-learner")
    assert read_json(checkout.root / "reports/gate.json") == gate
    assert checkout.md5("models/model.skops") == _lock(checkout)["train"]["models/model.skops"]
    assert "up to date" in _dvc(checkout, "status")


def test_a_queued_experiment_gates_against_the_champion(checkout: Project, promoted: Promoted):
    _dvc(checkout, "exp", "run", "--queue", "-n", "fewer-leaves", "-S", f"{MAX_LEAF_NODES}=15")
    try:
        _dvc(checkout, "queue", "start")
        status = _wait_for_queue(checkout, "fewer-leaves")
        assert status == "Success", _dvc(checkout, "queue", "logs", "fewer-leaves")
    finally:
        _run(checkout.root, "-m", "dvc", "queue", "stop", "--kill")

    experiment = _experiments(checkout)["fewer-leaves"]
    assert experiment["error"] is None
    params = experiment["data"]["params"]["params.yaml"]["data"]
    assert params["model"]["hist_gradient_boosting"]["max_leaf_nodes"] == 15
    _assert_gated_against(_gate_at(checkout, experiment["rev"]), promoted.champion)


def _wait_for_queue(project: Project, name: str) -> str:
    """The task's final status from `dvc queue status` once it stops being queued or running."""
    deadline = time.monotonic() + QUEUE_WAIT_SECONDS
    while time.monotonic() < deadline:
        rows = [line.split() for line in _dvc(project, "queue", "status").splitlines()]
        status = next((row[-1] for row in rows if len(row) > 1 and row[1] == name), None)
        if status not in {None, "Queued", "Running"}:
            return status
        time.sleep(1)
    pytest.fail(f"`dvc queue` did not finish {name} in {QUEUE_WAIT_SECONDS} s")


def _lock(project: Project) -> dict[str, dict[str, str]]:
    """dvc.lock's output md5s by stage and path."""
    lock = yaml.safe_load((project.root / "dvc.lock").read_text(encoding="utf-8"))
    return {
        stage: {out["path"]: out["md5"] for out in body.get("outs") or []}
        for stage, body in lock["stages"].items()
    }
