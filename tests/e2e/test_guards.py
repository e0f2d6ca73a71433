"""Issue 14 on a real project: what the gate's sanity guards and the volume rule stop."""

from __future__ import annotations

import json

import pytest

from datawheel.io.process import CommandFailed
from datawheel.sandbox.flywheel import set_params

from .conftest import Project

pytestmark = pytest.mark.e2e


def test_a_collapsed_model_is_held_and_a_1000x_day_stops_the_pipeline(project: Project):
    # The operator's model: C=0.0001 ranks rows (AUC about 0.8) but predicts no churner.
    set_params(
        project.root,
        {
            ("model", "estimator"): "logistic_regression",
            ("model", "logistic_regression", "C"): 1e-4,
        },
    )
    project.add_days(0, 10)
    project.commit_data("data: ten days; params: C=0.0001")
    project.repro()
    gate = json.loads((project.root / "reports/gate.json").read_text())
    assert gate["decision"] == "hold"
    checks = {c["name"]: c for c in gate["checks"]}
    assert not checks["prediction_collapse"]["passed"]
    assert checks["prediction_collapse"]["values"]["predicted_share"] == 1.0
    assert checks["prediction_collapse"]["values"]["low_recall"] == ["1"]
    assert checks["beats_baseline"]["passed"] and checks["absolute_floor"]["passed"]
    assert checks["beats_baseline:log_loss"]["values"]["baseline"] is not None
    assert any("collapsed onto one class" in r for r in gate["reasons"])
    assert any("never predicts such a row correctly" in r for r in gate["reasons"])
    assert checks["holdout_batch_share"]["passed"]  # seven ordinary days

    # Day 11 delivers 1,000 times the rows: a broken export, which validation stops.
    spike = project.add_days(10, 1, ("volume_spike@10",))[0]
    project.commit_data("data: day 11")
    with pytest.raises(CommandFailed) as failure:
        project.repro()
    assert "failed critical data tests" in failure.value.output
    assert f"{spike.relative_to(project.root)}: batch failed rule" in failure.value.output
    assert "x the recent median of" in failure.value.output
    validation = json.loads((project.root / "reports/validation.json").read_text())
    spiked = next(b for b in validation["batches"] if b["batch"].endswith(spike.name))
    assert spiked["status"] == "failed" and spiked["rows"] > 100_000
    limit = next(o for o in spiked["outcomes"] if o["suite"] == "volume_limit")
    assert limit["severity"] == "critical" and not limit["success"]
