"""Training: the pipeline follows the contract, is seeded, and saves to identical bytes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from datawheel.config.params import load_params
from datawheel.data.contract import read_batch, with_provenance
from datawheel.data.simulate import simulate_day
from datawheel.errors import DataContractError
from datawheel.io.models import load_model, save_model
from datawheel.model.train import encode_target, fit_model, ordered_classes, predict_proba

ROOT = Path(__file__).resolve().parents[3]
PARAMS = load_params(ROOT / "params.yaml")
FAST_HGB = PARAMS.model.model_copy(
    update={"hist_gradient_boosting": {**PARAMS.model.hist_gradient_boosting, "max_iter": 20}}
)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    raw = simulate_day(dt.date(2026, 4, 1), 600, 9)
    csv = raw.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%SZ").encode()
    typed, lines = read_batch(csv, "d.csv", PARAMS.contract)
    return with_provenance(typed, "data/raw/d.csv", "x", lines)


@pytest.mark.parametrize("estimator", ["logistic_regression", "hist_gradient_boosting"])
def test_same_rows_in_any_order_give_the_same_model_bytes(frame, tmp_path, estimator):
    model = FAST_HGB.model_copy(update={"estimator": estimator})
    first = save_model(fit_model(frame, PARAMS.contract, model), tmp_path / "a.skops")
    shuffled = frame.sample(frac=1.0, random_state=3)
    second = save_model(fit_model(shuffled, PARAMS.contract, model), tmp_path / "b.skops")
    assert first == second
    loaded = load_model(tmp_path / "a.skops", expected_md5=first)
    proba = predict_proba(loaded, frame, PARAMS.contract)
    assert proba.shape == (len(frame), 2)
    assert np.allclose(proba.sum(axis=1), 1.0)


def test_positive_class_is_the_last_column():
    assert ordered_classes(PARAMS.contract)[-1] == PARAMS.contract.positive_class


def test_label_outside_the_classes_is_named(frame):
    bad = frame["churned"].astype("Int64").copy()
    bad.iloc[0] = 2
    with pytest.raises(DataContractError, match=r"\['2'\].*label_domain"):
        encode_target(bad, [0, 1])


def test_multiclass_target_needs_only_params(frame):
    contract = PARAMS.contract.model_copy(
        update={
            "classes": ("basic", "standard", "premium"),
            "positive_class": None,
            "target": "plan",
        }
    )
    columns = dict(contract.columns)
    columns["churned"] = columns["churned"]  # stays a feature now
    model = fit_model(frame, contract, FAST_HGB)
    proba = predict_proba(model, frame, contract)
    assert proba.shape == (len(frame), 3)
    assert "plan" not in contract.feature_columns and "churned" in contract.feature_columns
