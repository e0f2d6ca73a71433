"""Evaluate against a champion: re-scored on the candidate's hold-out, fetched through DVC."""

from __future__ import annotations

import pandas as pd
import pytest

from datawheel.io.dvc import cached_object
from datawheel.io.files import read_json, write_json
from datawheel.io.process import CommandFailed, dvc

from .conftest import Project, set_params

pytestmark = pytest.mark.e2e
HOLDOUT = "data/curated/holdout.parquet"


def _crown(project: Project, version: str) -> str:
    """Point models/champion.json at the current model, as a promotion would."""
    card = read_json(project.root / "models/card.json")
    metrics = read_json(project.root / "reports/metrics.json")
    write_json(
        project.root / "models/champion.json",
        {
            "version": version,
            "model_md5": card["model"]["md5"],
            "model_path": "models/model.skops",
            "commit": project.git.head.commit.hexsha,
            "metrics": metrics["candidate"],
        },
    )
    return card["model"]["md5"]


def test_gate_rescores_the_champion_and_promotes_after_concept_drift(project: Project):
    set_params(project.root, {("window", "days"): 14})
    project.add_days(0, 21)
    project.commit_data("data: three weeks")
    project.repro()
    project.commit("pipeline: first model")
    champion_md5 = _crown(project, "v1.0.0")
    project.commit("champion: v1.0.0")
    dvc("push", "--quiet", cwd=project.root)

    # The champion's model leaves the local cache: evaluate must fetch it from the remote.
    cached_object(champion_md5, project.root).unlink()

    # Two weeks of abrupt concept drift: a retrained model must beat the old champion on
    # the drifted hold-out, measured on the same rows with a paired bootstrap.
    project.add_days(21, 14, inject=("concept_drift@21",))
    project.commit_data("data: two drifted weeks")
    project.repro()
    metrics = read_json(project.root / "reports/metrics.json")
    gate = read_json(project.root / "reports/gate.json")
    assert read_json(project.root / "models/champion.json")["version"] == "v1.0.0"
    bootstrap = gate["bootstrap"]  # metrics.json carries the gate's own paired delta and CI
    assert metrics["gate"] == {k: bootstrap[k] for k in ("delta", "ci_low", "ci_high")}
    assert metrics["holdout"]["rows"] == len(pd.read_parquet(project.root / HOLDOUT))
    assert metrics["candidate"]["roc_auc"] > metrics["champion"]["roc_auc"] + 0.1
    assert gate["bootstrap"]["ci_low"] > 0
    assert gate["decision"] == "promote", gate["reasons"]
    assert {c["name"] for c in gate["checks"]} >= {"validation", "primary_improvement", "segments"}


def test_an_altered_champion_in_the_cache_is_refused(project: Project):
    project.add_days(0, 14)
    project.commit_data("data: two weeks")
    project.repro()
    champion_md5 = _crown(project, "v1.0.0")
    project.commit("champion: v1.0.0")

    cached = cached_object(champion_md5, project.root)
    cached.chmod(0o644)
    cached.write_bytes(cached.read_bytes()[:-10] + b"0123456789")
    project.add_days(14, 1)
    project.commit_data("data: one more day")
    with pytest.raises(CommandFailed) as failure:
        project.repro()
    assert "corrupted" in failure.value.output and champion_md5 in failure.value.output
    assert "Traceback" not in failure.value.output
