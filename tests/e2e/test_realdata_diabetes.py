"""Diabetes progression (scikit-learn): a regression target, an int id, a segment (sex),
daily batches. Played end to end from `datawheel init --task regression`."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from sklearn.datasets import load_diabetes

from datawheel.io.files import read_json
from tests.e2e.realdata import Dataset, check_scenario, cli, play

FEATURES = ("age", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")
DAYS = 30


def patients() -> pd.DataFrame:
    """The 442 patients in the data set's order, spread over 30 days from 2026-03-01, with
    an int id and the sex as a category."""
    frame = load_diabetes(scaled=False, as_frame=True).frame
    rows = len(frame)
    day = pd.Series(range(rows)) * DAYS // rows
    start = pd.Timestamp("2026-03-01", tz="UTC")
    return pd.DataFrame(
        {
            "patient_id": range(1, rows + 1),
            "event_time": start
            + pd.to_timedelta(day, unit="D")
            + pd.to_timedelta(pd.Series(range(rows)) % 24, unit="h"),
            "sex": frame["sex"].map({1.0: "one", 2.0: "two"}),
            **{name: frame[name] for name in FEATURES},
            "progression": frame["target"],
        }
    ).astype({"age": "int64"})


DIABETES = Dataset(
    name="diabetes-progression",
    load=patients,
    contract={
        "id_column": "patient_id",
        "time_column": "event_time",
        "target": "progression",
        "task": "regression",
        "segment": "sex",
        "null_values": [],
        "columns": {
            "patient_id": {"type": "int", "nullable": False},
            "event_time": {"type": "datetime", "nullable": False},
            "sex": {"type": "category", "nullable": False},
            "age": {"type": "int", "nullable": False},
            **{name: {"type": "float", "nullable": False} for name in FEATURES[1:]},
            "progression": {"type": "float", "nullable": False},
        },
    },
    period="day",
    history=22,
    settings={
        ("window", "days"): 0,
        ("split", "holdout_days"): 7,
        ("model", "estimator"): "ridge",
        ("gate", "guardrails"): {"mae": 5.0},
        ("gate", "segment_tolerance"): 10.0,
        ("gate", "min_segment_rows"): 20,
        ("drift", "min_rows"): 20,
    },
    ranges={"progression": (0.0, 1000.0), "bmi": (10.0, 60.0), "age": (0, 120)},
)


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    return play(DIABETES, tmp_path_factory.mktemp("diabetes"))


def test_diabetes_end_to_end(played):
    check_scenario(DIABETES, played)


def test_diabetes_metrics_gate_and_plots_are_regression(played):
    root = played.root
    metrics = played.metrics
    assert set(metrics["candidate"]) == set(metrics["baseline"]) == {"mae", "rmse", "r2"}
    assert metrics["candidate"]["rmse"] < metrics["baseline"]["rmse"]
    # the second data commit re-scored the champion, paired row by row, on rmse
    assert set(metrics["champion"]) == {"mae", "rmse", "r2"}
    gate = read_json(root / "reports/gate.json")
    assert gate["primary_metric"] == "rmse" and gate["bootstrap"]["metric"] == "rmse"
    checks = {check["name"]: check for check in gate["checks"]}
    assert checks["primary_improvement"]["values"]["direction"] == "lower is better"
    assert checks["prediction_collapse"]["values"]["skipped"] == "regression"
    boot = gate["bootstrap"]  # positive = the candidate is better: champion error - candidate's
    assert boot["delta"] == pytest.approx(boot["champion"] - boot["candidate"])
    segments = read_json(root / "reports/segments.json")["candidate"]
    assert [s["segment"] for s in segments] == ["one", "two"]
    assert "regression" in read_json(root / "reports/curation.json")["label_search"]["skipped"]
    card = read_json(root / "models/card.json")
    assert card["model"]["task"] == "regression" and card["model"]["classes"] is None
    plots = root / "reports/plots"
    assert sorted(p.name for p in plots.glob("*.csv")) == [
        "predicted_vs_actual.csv",
        "residuals.csv",
    ]
    shown = json.loads(cli(root, "status", "--json").stdout)
    assert shown["champion"]["primary"]["metric"] == "rmse"


def test_diabetes_review_shows_errors_not_class_metrics(played):
    report = cli(played.root, "report", "--base", played.commits[0]).stdout
    assert "rmse" in report and "roc_auc" not in report
    drift = json.loads(cli(played.root, "drift", "--last", "3", "--json", ok=(0, 7)).stdout)
    target = next(c for c in drift["columns"] if c["column"] == "progression")
    assert (target["role"], target["kind"], target["test"]) == ("label", "numeric", "ks")
