"""contract.task regression: params, metrics and their naive baseline, the metric table's
directions, the paired bootstrap on an error, and the gate deciding on it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from datawheel.config.params import METRIC_SPECS, Gate, merge_dvc_vars, metrics_of, parse_params
from datawheel.errors import ParamsError
from datawheel.model.metrics import (
    HIGHER_IS_BETTER,
    REGRESSION_METRICS,
    naive_regression_metrics,
    paired_bootstrap_regression,
    regression_metrics,
    regression_segment_metrics,
)
from datawheel.registry.gate import decide
from datawheel.render.gate import render_decision

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = merge_dvc_vars(
    yaml.safe_load((ROOT / "params.yaml").read_text()),
    yaml.safe_load((ROOT / "dvc.yaml").read_text()),
)


def regression_params(**gate) -> dict:
    """The shipped params turned into a regression project: monthly_charges is the target,
    the task-dependent gate keys left out so that the task's defaults apply."""
    data = yaml.safe_load(yaml.safe_dump(SHIPPED))
    contract = data["contract"]
    contract.update(task="regression", target="monthly_charges")
    del contract["classes"], contract["positive_class"]
    for key in ("primary_metric", "guardrails", "absolute_floor", "scoring_rule"):
        del data["gate"][key]
    data["gate"].update(gate)
    return data


# --- params ----------------------------------------------------------------------------


def test_regression_defaults_come_from_the_task():
    params = parse_params(regression_params())
    assert params.contract.is_regression and not params.contract.is_binary
    assert params.gate.primary_metric == "rmse"
    assert params.gate.absolute_floor is None and params.gate.scoring_rule is None
    assert params.gate.guardrails == {}


def test_classification_stays_the_default_task():
    params = parse_params(yaml.safe_load(yaml.safe_dump(SHIPPED)))
    assert params.contract.task == "classification"
    assert params.gate.primary_metric == "roc_auc" and params.gate.scoring_rule == "log_loss"


@pytest.mark.parametrize("key", ["classes", "positive_class"])
def test_classes_with_regression_are_a_params_error_naming_the_key(key):
    data = regression_params()
    data["contract"][key] = [0, 1] if key == "classes" else 1
    with pytest.raises(ParamsError, match=f"contract.{key} must be absent or null") as raised:
        parse_params(data)
    assert raised.value.exit_code == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"contract": {"target": "region"}}, "regression target must have type int or float"),
        ({"gate": {"guardrails": {"log_loss": 0.1}}}, "gate.guardrails"),
        ({"gate": {"primary_metric": "roc_auc"}}, "not a regression metric"),
        ({"gate": {"absolute_floor": 0.6}}, "gate.absolute_floor must be null"),
        ({"gate": {"scoring_rule": "log_loss"}}, "not a regression scoring rule"),
        ({"model": {"estimator": "logistic_regression"}}, "not a regression estimator"),
        ({"model": {"ridge": {"alpha": -1}}}, "model.ridge.alpha"),
    ],
)
def test_settings_that_do_not_fit_regression_name_the_key(change, message):
    data = regression_params()
    for section, values in change.items():
        data[section].update(values)
    with pytest.raises(ParamsError, match=message):
        parse_params(data)


def test_regression_guardrails_and_scoring_rule_may_be_errors():
    params = parse_params(regression_params(guardrails={"mae": 1.0}, scoring_rule="mae"))
    assert params.gate.guardrails == {"mae": 1.0} and params.gate.scoring_rule == "mae"


# --- the metric table -----------------------------------------------------------------


def test_direction_is_a_property_of_the_metric():
    assert not METRIC_SPECS["rmse"].higher_is_better and not METRIC_SPECS["mae"].higher_is_better
    assert METRIC_SPECS["r2"].higher_is_better and METRIC_SPECS["r2"].task == "regression"
    assert METRIC_SPECS["log_loss"].direction == "lower is better"
    assert {name: s.higher_is_better for name, s in METRIC_SPECS.items()} == HIGHER_IS_BETTER
    assert tuple(metrics_of("regression")) == REGRESSION_METRICS == ("mae", "rmse", "r2")


# --- metrics ----------------------------------------------------------------------------


def test_regression_metrics_match_a_hand_computed_case():
    metrics = regression_metrics([1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 2.0, 5.0])
    # errors 0.5, 0, -1, 1
    assert metrics["mae"] == pytest.approx(2.5 / 4)
    assert metrics["rmse"] == pytest.approx(math.sqrt(2.25 / 4))
    assert metrics["r2"] == pytest.approx(1 - 2.25 / 5.0)  # SST = 2.25+0.25+0.25+2.25


def test_r2_is_undefined_when_the_targets_do_not_vary():
    assert math.isnan(regression_metrics([3.0, 3.0], [2.0, 4.0])["r2"])


def test_naive_baseline_is_the_training_median_for_mae_and_mean_for_rmse():
    train = [0.0, 0.0, 0.0, 10.0]  # median 0, mean 2.5
    holdout = [0.0, 5.0]
    naive = naive_regression_metrics(holdout, train)
    assert naive["mae"] == pytest.approx((0 + 5) / 2)
    assert naive["rmse"] == pytest.approx(math.sqrt((2.5**2 + 2.5**2) / 2))
    assert naive["r2"] == pytest.approx(1 - 6.25 / 6.25)


def test_missing_values_are_refused():
    with pytest.raises(ValueError, match="missing or infinite"):
        regression_metrics([1.0, 2.0], [1.0, float("nan")])


def test_segment_metrics_per_segment_sorted():
    rows = regression_segment_metrics(
        [1.0, 2.0, 3.0, 5.0], [1.0, 2.0, 2.0, 6.0], ["west", "east", "east", None]
    )
    assert [r["segment"] for r in rows] == ["(missing)", "east", "west"]
    east = rows[1]
    assert east["rows"] == 2 and east["target_mean"] == pytest.approx(2.5)
    assert east["mae"] == pytest.approx(0.5) and east["rmse"] == pytest.approx(math.sqrt(0.5))


# --- the paired bootstrap ---------------------------------------------------------------


def _noisy(seed: int, rows: int = 300):
    rng = np.random.default_rng(seed)
    y = rng.normal(100, 20, rows)
    return y, y + rng.normal(0, 5, rows), y + rng.normal(0, 15, rows)


@pytest.mark.parametrize("metric", REGRESSION_METRICS)
def test_a_better_candidate_has_a_positive_delta_whatever_the_direction(metric):
    y, good, bad = _noisy(0)
    result = paired_bootstrap_regression(y, good, bad, metric, samples=300, seed=1, confidence=0.95)
    assert result.delta > 0 and result.ci_low > 0
    point = regression_metrics(y, good)[metric] - regression_metrics(y, bad)[metric]
    assert result.delta == pytest.approx(point if HIGHER_IS_BETTER[metric] else -point)
    assert result.candidate == pytest.approx(regression_metrics(y, good)[metric])
    swapped = paired_bootstrap_regression(
        y, bad, good, metric, samples=300, seed=1, confidence=0.95
    )
    assert swapped.delta == pytest.approx(-result.delta) and swapped.ci_high < 0


def test_the_bootstrap_is_seeded_and_refuses_a_classification_metric():
    y, good, bad = _noisy(2)
    first = paired_bootstrap_regression(y, good, bad, "rmse", samples=200, seed=3, confidence=0.9)
    again = paired_bootstrap_regression(y, good, bad, "rmse", samples=200, seed=3, confidence=0.9)
    assert first == again
    with pytest.raises(ValueError, match="not a regression metric"):
        paired_bootstrap_regression(y, good, bad, "roc_auc", samples=200, seed=3, confidence=0.9)


# --- the gate ---------------------------------------------------------------------------

GATE = Gate(
    primary_metric="rmse",
    scoring_rule=None,
    absolute_floor=None,
    guardrails={"mae": 1.0},
    segment_tolerance=2.0,
    min_segment_rows=10,
)
WEEK = {f"data/raw/2026-01-{day:02d}.csv": 20 for day in range(22, 29)}
BASELINE = {"mae": 16.0, "rmse": 20.0, "r2": 0.0}


def _decide(candidate_rmse: float, champion_rmse: float | None, seed: int = 0):
    y = np.random.default_rng(seed).normal(100, 20, 140)
    noise = np.random.default_rng(seed + 1).normal(0, 1, 140)
    candidate_pred = y + candidate_rmse * noise
    candidate = regression_metrics(y, candidate_pred)
    arguments = {
        "candidate": candidate,
        "baseline": BASELINE,
        "champion": None,
        "bootstrap": None,
        "candidate_segments": [],
        "champion_segments": None,
        "validation_passed": True,
        "gate": GATE,
        "candidate_classes": None,
        "holdout_batches": WEEK,
    }
    if champion_rmse is not None:
        champion_pred = y + champion_rmse * np.random.default_rng(seed + 2).normal(0, 1, 140)
        arguments["champion"] = regression_metrics(y, champion_pred)
        arguments["champion_segments"] = []
        arguments["bootstrap"] = paired_bootstrap_regression(
            y, candidate_pred, champion_pred, "rmse", samples=300, seed=0, confidence=0.95
        )
    return decide(**arguments)


def test_a_first_model_must_beat_the_naive_baseline_and_has_no_floor():
    decision = _decide(candidate_rmse=5.0, champion_rmse=None)
    assert decision.promoted, decision.reasons
    checks = {check.name: check for check in decision.checks}
    assert checks["absolute_floor"].values["skipped"] == "no floor"
    assert checks["prediction_collapse"].values["skipped"] == "regression"
    assert "floor" not in decision.reasons[0]
    worse = _decide(candidate_rmse=30.0, champion_rmse=None)
    assert not worse.promoted
    assert [c.name for c in worse.checks if not c.passed] == ["beats_baseline"]
    assert "the training mean" in worse.reasons[0]


def test_a_lower_error_than_the_champion_promotes_and_a_higher_one_holds():
    better = _decide(candidate_rmse=4.0, champion_rmse=8.0)
    assert better.promoted, better.reasons
    assert better.bootstrap.delta > 0  # champion − candidate for an error
    improvement = next(c for c in better.checks if c.name == "primary_improvement")
    assert improvement.values["direction"] == "lower is better"
    assert "lower is better; positive = candidate better" in improvement.detail

    worse = _decide(candidate_rmse=8.0, champion_rmse=4.0)
    assert not worse.promoted
    assert worse.bootstrap.delta < 0
    failed = [c.name for c in worse.checks if not c.passed]
    assert "primary_improvement" in failed and "guardrail:mae" in failed
    assert "rmse (lower is better) against the champion" in render_decision(worse)


def test_segments_are_judged_with_the_error_direction():
    segments = [{"segment": "east", "rows": 50, "rmse": 5.0}]
    decision = _decide(candidate_rmse=4.0, champion_rmse=8.0)
    arguments = {
        "candidate": decision.candidate,
        "baseline": BASELINE,
        "champion": decision.champion,
        "bootstrap": decision.bootstrap,
        "validation_passed": True,
        "gate": GATE,
        "candidate_classes": None,
        "holdout_batches": WEEK,
        "champion_segments": [{"segment": "east", "rows": 50, "rmse": 4.0}],
    }
    # the candidate's error in east is 1.0 higher: within the tolerated 2.0
    assert decide(candidate_segments=segments, **arguments).promoted
    far = [{"segment": "east", "rows": 50, "rmse": 7.0}]
    held = decide(candidate_segments=far, **arguments)
    assert [c.name for c in held.checks if not c.passed] == ["segments"]


def test_the_gate_refuses_class_profiles_for_a_regression_metric():
    with pytest.raises(ValueError, match="candidate_classes"):
        decide(
            candidate={"rmse": 1.0},
            baseline=BASELINE,
            champion=None,
            bootstrap=None,
            candidate_segments=[],
            champion_segments=None,
            validation_passed=True,
            gate=GATE,
            candidate_classes=[],
            holdout_batches=WEEK,
        )


# --- the model, label issues and drift ------------------------------------------------


def _frame(rows: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, rows)
    return pd.DataFrame(
        {
            "row_id": [f"r{i:03d}" for i in range(rows)],
            "entity": [f"e{i:03d}" for i in range(rows)],
            "x": x,
            "group": rng.choice(["a", "b"], rows),
            "y": 3 * x + rng.normal(0, 0.1, rows),
        }
    )


def _contract():
    from datawheel.config.params import Contract

    return Contract(
        id_column="entity",
        time_column="t",
        target="y",
        task="regression",
        columns={
            "entity": {"type": "string"},
            "t": {"type": "datetime"},
            "x": {"type": "float"},
            "group": {"type": "category"},
            "y": {"type": "float"},
        },
    )


@pytest.mark.parametrize("estimator", ["ridge", "hist_gradient_boosting"])
def test_regressors_fit_and_predict_numbers(estimator):
    from datawheel.config.params import Model
    from datawheel.model.train import fit_model, predict_values

    frame = _frame()
    model = fit_model(frame, _contract(), Model(estimator=estimator, seed=0))
    kind = type(model[-1]).__name__
    assert (
        kind
        == {"ridge": "Ridge", "hist_gradient_boosting": "HistGradientBoostingRegressor"}[estimator]
    )
    predicted = predict_values(model, frame, _contract())
    assert predicted.shape == (len(frame),)
    assert regression_metrics(frame["y"], predicted)["r2"] > 0.8


def test_a_non_numeric_target_value_is_a_data_contract_error():
    from datawheel.config.params import Model
    from datawheel.errors import DataContractError
    from datawheel.model.train import fit_model

    frame = _frame()
    frame["y"] = frame["y"].astype(object)
    frame.loc[3, "y"] = None
    with pytest.raises(DataContractError, match="numeric_target"):
        fit_model(frame, _contract(), Model(estimator="ridge"))
