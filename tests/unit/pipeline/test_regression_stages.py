"""contract.task regression through the stages' library code: curate skips the label-issue
search, scoring and the gate on the built-in stream, the plots, drift on the target."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from datawheel.config.params import parse_params
from tests.unit.model.test_regression import _contract, regression_params


def test_drift_tests_a_regression_target_as_a_numeric_column():
    from datawheel.review.drift import column_kinds

    assert column_kinds(_contract()) == {"x": "numeric", "group": "categorical", "y": "numeric"}


def test_plots_records_of_predictions(tmp_path):
    from datawheel.model.plots import regression_curve_data, write_regression_plots

    curves = regression_curve_data([1.0, 2.0], [1.5, 1.0])
    assert curves["predicted_vs_actual"] == [
        {"actual": 1.0, "predicted": 1.5},
        {"actual": 2.0, "predicted": 1.0},
    ]
    assert curves["residuals"][0] == {"predicted": 1.5, "residual": -0.5}
    written = write_regression_plots(curves, tmp_path, png_dir=tmp_path / "png")
    assert sorted(p.name for p in written) == [
        "predicted_vs_actual.csv",
        "predicted_vs_actual.png",
        "residuals.csv",
        "residuals.png",
    ]
    assert (tmp_path / "residuals.csv").read_text() == ("predicted,residual\n1.5,-0.5\n1.0,1.0\n")


# --- the evaluate stage's scoring, on the built-in stream with a numeric target ---------


def _stream(params, days: int = 10) -> pd.DataFrame:
    from datawheel.data.contract import read_batch, with_provenance
    from datawheel.data.simulate import simulate_day

    frames = []
    for i in range(days):
        day = dt.date(2026, 2, 1) + dt.timedelta(days=i)
        csv = simulate_day(day, 80, 4).to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
        typed, lines = read_batch(csv.encode(), f"{day}.csv", params.contract)
        frames.append(with_provenance(typed, f"data/raw/{day}.csv", f"md5-{i}", lines))
    return pd.concat(frames, ignore_index=True)


def test_curate_and_scoring_on_a_numeric_target(tmp_path):
    from datawheel.io.models import save_model
    from datawheel.model.train import fit_model
    from datawheel.pipeline.curate import curate
    from datawheel.pipeline.evaluate import evaluate_candidate

    params = parse_params(regression_params(bootstrap_samples=100, min_segment_rows=10))
    train, holdout, report = curate(_stream(params), set(), params)
    assert "contract.task is regression" in report.label_search["skipped"]
    assert report.counts["label_issues_flagged"] == 0

    model = fit_model(train, params.contract, params.model)
    path = tmp_path / params.paths.model
    path.parent.mkdir(parents=True)
    md5 = save_model(model, path)
    result = evaluate_candidate(
        params, train, holdout, {"model": {"md5": md5}}, {"passed": True}, root=tmp_path
    )
    assert (
        set(result.metrics["candidate"])
        == set(result.metrics["baseline"])
        == {
            "mae",
            "rmse",
            "r2",
        }
    )
    assert result.metrics["candidate"]["rmse"] < result.metrics["baseline"]["rmse"]
    assert result.decision.primary_metric == "rmse" and result.decision.promoted
    assert {"segment", "rows", "target_mean", "rmse"} <= set(result.segments["candidate"][0])
    assert len(result.curves["residuals"]) == len(holdout)
    result.write_plots(tmp_path / "plots")
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "png",
        "predicted_vs_actual.csv",
        "residuals.csv",
    ]
    assert sorted(p.name for p in (tmp_path / "plots/png").iterdir()) == [
        "predicted_vs_actual.png",
        "residuals.png",
        "segments.png",
    ]


def test_metric_tables_show_the_task_s_metrics():
    from rich.console import Console

    from datawheel.render.summary import _metrics_section
    from datawheel.render.terminal import metrics_table, task_metrics

    regression = {
        "candidate": {"mae": 40.1, "rmse": 52.0, "r2": 0.45},
        "baseline": {"mae": 60.0, "rmse": 75.0, "r2": -0.01},
    }
    assert task_metrics(list(regression.values())) == ["rmse", "mae", "r2"]
    assert task_metrics([{"roc_auc": None}])[0] == "roc_auc"
    console = Console(width=120, record=True)
    console.print(metrics_table(regression))
    shown = console.export_text()
    assert "rmse" in shown and "52.0000" in shown and "roc_auc" not in shown
    section = _metrics_section(regression, {"primary_metric": "rmse"})
    assert "| **rmse** (primary) | 52.0000 | 75.0000 |" in section


def test_the_champion_and_the_staged_model_are_re_scored_on_the_same_rows(tmp_path, monkeypatch):
    """With a champion (and a staged model), each is scored on the candidate's hold-out and
    compared row by row on rmse; the models here are a stronger and a weaker regressor."""
    import datawheel.pipeline.evaluate
    import datawheel.registry.champion
    from datawheel.config.params import Model
    from datawheel.io.files import write_json
    from datawheel.io.models import save_model
    from datawheel.model.train import fit_model
    from datawheel.pipeline.curate import curate
    from datawheel.pipeline.evaluate import evaluate_candidate

    params = parse_params(
        regression_params(
            bootstrap_samples=100, min_segment_rows=10, staging={"enabled": True, "min_new_rows": 5}
        )
    )
    train, holdout, _ = curate(_stream(params), set(), params)
    candidate = fit_model(train, params.contract, params.model)
    weak = fit_model(
        train.head(40), params.contract, Model(estimator="ridge", ridge={"alpha": 1000.0})
    )
    path = tmp_path / params.paths.model
    path.parent.mkdir(parents=True)
    md5 = save_model(candidate, path)
    selected = str(holdout[params.contract.time_column].min())
    write_json(
        tmp_path / params.paths.champion,
        {
            "version": "v1.0.0",
            "model_md5": "0" * 32,
            "commit": "c" * 40,
            "model_path": params.paths.model,
            "staging": {"version": "v1.1.0", "model_md5": "1" * 32, "selected_through": selected},
        },
    )
    monkeypatch.setattr(
        datawheel.pipeline.evaluate, "load_champion_model", lambda champion, root: weak
    )
    monkeypatch.setattr(
        datawheel.registry.champion, "load_recorded_model", lambda md5, label, root: weak
    )
    result = evaluate_candidate(
        params, train, holdout, {"model": {"md5": md5}}, {"passed": True}, root=tmp_path
    )
    boot = result.decision.bootstrap
    assert boot.metric == "rmse" and boot.candidate < boot.champion
    assert boot.delta == pytest.approx(boot.champion - boot.candidate) and boot.ci_low > 0
    assert result.metrics["champion"]["rmse"] == pytest.approx(boot.champion)
    assert result.metrics["gate"]["delta"] == pytest.approx(boot.delta)
    assert result.decision.promoted, result.decision.reasons
    assert [s["segment"] for s in result.segments["champion"]] == [
        s["segment"] for s in result.segments["candidate"]
    ]
    assert result.staging["candidate_beats_staged"] is True
    assert result.staging["candidate_vs_staged"]["metric"] == "rmse"
