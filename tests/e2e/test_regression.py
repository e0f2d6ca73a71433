"""A regression project end to end: scikit-learn's diabetes data (442 rows) as daily batches,
`dvc repro`, a first promotion to v1.0.0, then a retrain re-scored against that champion."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from datawheel.fileio import read_json
from datawheel.workspace import command_env, dvc

from .conftest import Project

pytestmark = pytest.mark.e2e

NAME = "diabetes-model"
START = dt.date(2026, 3, 1)
DAYS = 30
FEATURES = ("age", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")


def _diabetes() -> pd.DataFrame:
    """The 442 patients with an int id, the sex as a category, one event time each, spread
    over DAYS days in the order of the data set."""
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(scaled=False, as_frame=True).frame
    rows = len(frame)
    day = [i * DAYS // rows for i in range(rows)]
    return pd.DataFrame(
        {
            "patient_id": range(1, rows + 1),
            "event_time": [
                pd.Timestamp(START) + pd.Timedelta(days=d, hours=i % 24) for i, d in enumerate(day)
            ],
            "sex": frame["sex"].map({1.0: "one", 2.0: "two"}),
            **{name: frame[name] for name in FEATURES},
            "progression": frame["target"],
        }
    ).astype({"age": "int64"})


def _write_days(root: Path, data: pd.DataFrame, first: int, last: int) -> None:
    """Days [first, last) as data/raw/YYYY-MM-DD.csv, one batch per day."""
    raw = root / "data/raw"
    raw.mkdir(parents=True, exist_ok=True)
    for offset in range(first, last):
        day = START + dt.timedelta(days=offset)
        rows = data[data["event_time"].dt.date == day]
        rows.to_csv(raw / f"{day}.csv", index=False, date_format="%Y-%m-%dT%H:%M:%SZ")


PARAMS = {
    "contract": {
        "id_column": "patient_id",
        "time_column": "event_time",
        "target": "progression",
        "task": "regression",
        "segment": "sex",
        # null, not left out: dvc.yaml's curate stage tracks both keys
        "classes": None,
        "positive_class": None,
        "columns": {
            "patient_id": {"type": "int"},
            "event_time": {"type": "datetime"},
            "sex": {"type": "category"},
            "age": {"type": "int"},
            **{name: {"type": "float"} for name in FEATURES[1:]},
            "progression": {"type": "float"},
        },
    },
    "validate": {"acknowledged_batches": []},
    "window": {"days": 0},
    "split": {"holdout_days": 7},
    "leakage": {"check_entities": True},
    "label_issues": {"enabled": True},
    "model": {
        "estimator": "ridge",
        "seed": 0,
        "ridge": {"alpha": 1.0},
        "hist_gradient_boosting": {"max_iter": 50, "min_samples_leaf": 10},
    },
    "gate": {
        "bootstrap_samples": 200,
        "guardrails": {"mae": 5.0},
        "segment_tolerance": 10.0,
        "min_segment_rows": 20,
    },
    "drift": {"min_rows": 20},
}


def _suite(name: str, expectations: list[dict]) -> dict:
    return {
        "expectations": expectations,
        "id": None,
        "meta": {"great_expectations_version": "1.24.1"},
        "name": name,
        "notes": f"The diabetes project's {name} checks.",
    }


def _expectation(kind: str, severity: str, description: str, **kwargs) -> dict:
    return {
        "kwargs": kwargs,
        "meta": {"catches": description, "description": description},
        "severity": severity,
        "type": kind,
    }


def _make_regression_project(root: Path) -> None:
    """The template turned into the diabetes project: params, suites, dvc.yaml plots."""
    (root / "params.yaml").write_text(yaml.safe_dump(PARAMS, sort_keys=False))
    for suite in (root / "expectations").glob("*.json"):
        suite.unlink()
    columns = ["row_id", "batch", "batch_md5", "line", *PARAMS["contract"]["columns"]]
    suites = {
        "schema": [
            _expectation(
                "expect_table_columns_to_match_set",
                "critical",
                "the contract columns plus provenance",
                column_set=columns,
            )
        ],
        "target": [
            _expectation(
                "expect_column_values_to_not_be_null",
                "critical",
                "every patient has a progression score",
                column="progression",
            ),
            _expectation(
                "expect_column_values_to_be_between",
                "critical",
                "a progression score is between 0 and 1000",
                column="progression",
                min_value=0,
                max_value=1000,
            ),
        ],
        "uniqueness": [
            _expectation(
                "expect_column_values_to_be_unique",
                "warning",
                "one event per patient",
                column="patient_id",
            )
        ],
    }
    for name, expectations in suites.items():
        (root / "expectations" / f"{name}.json").write_text(
            json.dumps(_suite(name, expectations), indent=2, sort_keys=True) + "\n"
        )
    pipeline = yaml.safe_load((root / "dvc.yaml").read_text())
    pipeline["vars"][0]["registry"]["model_name"] = NAME
    pipeline["artifacts"] = {
        "${registry.model_name}": {
            "path": "${paths.model}",
            "type": "model",
            "desc": "Diabetes progression regressor",
            "labels": ["tabular", "regression"],
        }
    }
    # A regression run writes these two plots instead of the four classification curves.
    pipeline["stages"]["evaluate"]["plots"] = [
        {
            "${paths.plots}/predicted_vs_actual.csv": {
                "cache": False,
                "template": "scatter",
                "x": "actual",
                "y": "predicted",
                "title": "Predicted vs actual (hold-out)",
            }
        },
        {
            "${paths.plots}/residuals.csv": {
                "cache": False,
                "template": "scatter",
                "x": "predicted",
                "y": "residual",
                "title": "Residuals (hold-out)",
            }
        },
    ]
    (root / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))


def _cli(project: Project, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "datawheel", *args],
        cwd=project.root,
        capture_output=True,
        text=True,
        env=command_env(),
        check=False,
    )


def test_a_regression_project_from_first_batch_to_a_re_scored_champion(flywheel: Project):
    project = flywheel
    root = project.root
    _make_regression_project(root)
    project.commit("diabetes: a regression project")
    data = _diabetes()
    _write_days(root, data, 0, 22)
    project.commit_data("data: three weeks of patients")
    project.git.git.push("origin", "main")
    project.repro()

    metrics = read_json(root / "reports/metrics.json")
    candidate, baseline = metrics["candidate"], metrics["baseline"]
    assert set(candidate) == set(baseline) == {"mae", "rmse", "r2"}
    assert candidate["rmse"] < baseline["rmse"] and candidate["r2"] > 0.2
    gate = read_json(root / "reports/gate.json")
    assert gate["decision"] == "promote" and gate["primary_metric"] == "rmse", gate["reasons"]
    checks = {check["name"]: check for check in gate["checks"]}
    assert checks["prediction_collapse"]["values"]["skipped"] == "regression"
    assert checks["absolute_floor"]["values"]["floor"] is None
    segments = read_json(root / "reports/segments.json")["candidate"]
    assert [s["segment"] for s in segments] == ["one", "two"]
    curation = read_json(root / "reports/curation.json")
    assert "regression" in curation["label_search"]["skipped"]
    card = read_json(root / "models/card.json")
    assert card["model"]["task"] == "regression" and card["model"]["classes"] is None
    plots = root / "reports/plots"
    assert sorted(p.name for p in plots.glob("*.csv")) == [
        "predicted_vs_actual.csv",
        "residuals.csv",
    ]
    assert {p.name for p in (plots / "png").iterdir()} == {
        "predicted_vs_actual.png",
        "residuals.png",
        "segments.png",
    }
    shown = json.loads(dvc("metrics", "show", "--json", cwd=root).stdout)
    assert "rmse" in json.dumps(shown)

    result = _cli(project, "promote")
    assert result.returncode == 0, result.stdout + result.stderr
    assert read_json(root / "models/champion.json")["version"] == "v1.0.0"
    gto = subprocess.run(
        [str(Path(sys.executable).parent / "gto"), "show", NAME],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "v1.0.0" in gto and "prod" in gto
    status = _cli(project, "status", "--json")
    assert status.returncode == 0, status.stderr
    state = json.loads(status.stdout)
    assert state["last_gate"]["primary_metric"] == "rmse"
    assert state["champion"]["primary"]["metric"] == "rmse"

    # The last days: the champion is re-scored on the new hold-out, paired row by row.
    _write_days(root, data, 22, DAYS)
    project.commit_data("data: the last days")
    project.repro()
    metrics = read_json(root / "reports/metrics.json")
    assert set(metrics["champion"]) == {"mae", "rmse", "r2"}
    gate = read_json(root / "reports/gate.json")
    assert gate["bootstrap"]["metric"] == "rmse"
    improvement = next(c for c in gate["checks"] if c["name"] == "primary_improvement")
    assert improvement["values"]["direction"] == "lower is better"
    # positive = the candidate is better: champion's error minus the candidate's
    boot = gate["bootstrap"]
    assert boot["delta"] == pytest.approx(boot["champion"] - boot["candidate"])
    assert metrics["gate"]["delta"] == pytest.approx(boot["delta"])

    for command in (
        ("summary",),
        ("report", "--base", "HEAD~1"),
        ("drift", "--last", "7"),
        ("trace", "v1.0.0"),
    ):
        result = _cli(project, *command)
        assert result.returncode in (0, 7), (command, result.stdout + result.stderr)
        assert "Traceback" not in result.stderr, (command, result.stderr)
    report = _cli(project, "report", "--base", "HEAD~1").stdout
    assert "rmse" in report and "roc_auc" not in report
