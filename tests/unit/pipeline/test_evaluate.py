"""The evaluate stage's scoring on real models: segments, absent classes in metrics.json."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from datawheel.config.params import load_params
from datawheel.data.contract import read_batch, with_provenance
from datawheel.data.simulate import simulate_day
from datawheel.io.models import save_model
from datawheel.model.train import fit_model
from datawheel.pipeline.curate import curate
from datawheel.pipeline.evaluate import evaluate_candidate

ROOT = Path(__file__).resolve().parents[3]
PARAMS = load_params(ROOT / "params.yaml")
START = dt.date(2026, 2, 1)


def _rows(days: int = 10, rows: int = 120) -> pd.DataFrame:
    frames = []
    for i in range(days):
        day = START + dt.timedelta(days=i)
        csv = simulate_day(day, rows, 4).to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
        typed, lines = read_batch(csv.encode(), f"{day}.csv", PARAMS.contract)
        frames.append(with_provenance(typed, f"data/raw/{day}.csv", f"md5-{i}", lines))
    return pd.concat(frames, ignore_index=True)


def _evaluate(params, tmp_path: Path):
    train, holdout, _ = curate(_rows(), set(), params)
    model = fit_model(train, params.contract, params.model)
    path = tmp_path / params.paths.model
    path.parent.mkdir(parents=True, exist_ok=True)
    md5 = save_model(model, path)
    return evaluate_candidate(
        params, train, holdout, {"model": {"md5": md5}}, {"passed": True}, root=tmp_path
    )


def test_no_segment_column_means_no_segments_not_an_invented_one(tmp_path):
    params = PARAMS.model_copy(
        update={"contract": PARAMS.contract.model_copy(update={"segment": None})}
    )
    result = _evaluate(params, tmp_path)
    assert result.segments == {"candidate": []}
    assert (tmp_path / "plots").exists() is False  # scoring itself writes nothing
    assert "classes_absent" not in result.metrics["holdout"]


def test_a_listed_class_absent_from_the_holdout_is_named_in_metrics(tmp_path):
    contract = PARAMS.contract.model_copy(update={"classes": (0, 1, 2)})
    params = PARAMS.model_copy(update={"contract": contract})
    result = _evaluate(params, tmp_path)
    assert result.metrics["holdout"]["classes_absent"] == "2"
    assert 0.5 < result.metrics["candidate"]["roc_auc"] < 1.0  # defined: over classes 0 and 1


def test_the_champion_is_re_scored_on_the_candidate_s_holdout(tmp_path, monkeypatch):
    """The champion path of the scorer: its probabilities on the same rows, the paired
    bootstrap on the primary metric, its segments; here a much weaker champion."""
    import datawheel.pipeline.evaluate
    from datawheel.config.params import Model
    from datawheel.io.files import write_json

    train, _, _ = curate(_rows(), set(), PARAMS)
    weak = fit_model(
        train.head(60),
        PARAMS.contract,
        Model(estimator="logistic_regression", logistic_regression={"C": 0.0001}),
    )
    write_json(
        tmp_path / PARAMS.paths.champion,
        {"version": "v1.0.0", "model_md5": "0" * 32, "commit": "c" * 40, "model_path": "m"},
    )
    monkeypatch.setattr(
        datawheel.pipeline.evaluate, "load_champion_model", lambda champion, root: weak
    )
    result = _evaluate(PARAMS, tmp_path)
    boot = result.decision.bootstrap
    assert boot.metric == "roc_auc" and boot.delta == pytest.approx(boot.candidate - boot.champion)
    assert result.metrics["champion"]["roc_auc"] == pytest.approx(boot.champion)
    assert set(result.metrics["champion"]) == set(result.metrics["candidate"])
    assert len(result.segments["champion"]) == len(result.segments["candidate"])
    assert "primary_improvement" in [check.name for check in result.decision.checks]
