"""Evaluation as the evaluate stage runs it: candidate, baseline and champion on one hold-out.

metrics.json, which dvc.yaml declares as the pipeline's metric, holds numbers only, so that
`dvc metrics show/diff` and `dvc exp show` read it: the metric groups (`candidate`,
`baseline`, and `champion` when there is one), the gate's paired delta with its CI (`gate`,
with a champion only), and `holdout`, which hold-out was scored (its rows, its event-time
dates and a fingerprint: the only non-numbers). Which champion version was scored is in
models/champion.json, the pointer evaluate read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from datawheel.config.catalog import PNG_FOLDER, SEGMENTS_PNG
from datawheel.config.params import Params
from datawheel.io.files import json_safe
from datawheel.io.models import load_model
from datawheel.model.metrics import (
    BootstrapResult,
    class_profile,
    classification_metrics,
    holdout_identity,
    naive_regression_metrics,
    paired_bootstrap,
    paired_bootstrap_regression,
    prior_proba,
    regression_metrics,
    regression_segment_metrics,
    segment_metrics,
)
from datawheel.model.train import ordered_classes, predict_proba, predict_values, regression_target
from datawheel.registry.champion import load_champion_model, pin_reason, read_champion
from datawheel.registry.gate import GateDecision, decide


@dataclass
class EvaluationResult:
    metrics: dict
    segments: dict
    decision: GateDecision
    curves: dict
    # The staged model's prospective check and whether the candidate beats it (staging on).
    staging: dict | None = None
    task: str = "classification"

    def write_plots(self, out_dir: Path) -> None:
        """DVC plots data (CSV) and PNGs for people, the segment chart among them: the
        classification curves or, for regression, predicted-vs-actual and residuals."""
        from datawheel.model.plots import segment_bar_png, write_plots, write_regression_plots

        writer = write_regression_plots if self.task == "regression" else write_plots
        writer(self.curves, out_dir, png_dir=out_dir / PNG_FOLDER)
        segment_bar_png(
            self.segments["candidate"],
            self.decision.primary_metric,
            out_dir / PNG_FOLDER / SEGMENTS_PNG,
            champion_segments=self.segments.get("champion"),
        )


@dataclass(frozen=True)
class _Scorer:
    """What differs by task: how a model predicts the hold-out and how that is scored.

    Predictions are a (rows, classes) probability matrix for classification and one number
    per row for regression; either way `y[mask]` and `predictions[mask]` select rows."""

    y: np.ndarray
    predict: Callable[[object, pd.DataFrame], np.ndarray]
    metrics: Callable[[np.ndarray, np.ndarray], dict]
    baseline: dict
    segments: Callable[[np.ndarray, np.ndarray], list[dict]]
    bootstrap: Callable[[np.ndarray, np.ndarray, np.ndarray, str], BootstrapResult]
    class_profile: Callable[[np.ndarray], list[dict] | None]
    curves: Callable[[np.ndarray], dict]
    labels: list[str] | None = None


def _scorer(params: Params, train: pd.DataFrame, holdout: pd.DataFrame) -> _Scorer:
    """The scorer of contract.task for this hold-out, its naive baseline from `train`."""
    from datawheel.model.plots import curve_data, regression_curve_data

    contract, gate = params.contract, params.gate
    segments_of = holdout[contract.segment].to_numpy() if contract.segment else None

    def by_segment(segment_metrics_of: Callable) -> Callable:
        """Per-segment metrics; none when the contract names no segment (`segment: null`),
        so the gate's segment check says so instead of judging one invented segment."""

        def compute(y: np.ndarray, predictions: np.ndarray) -> list[dict]:
            return [] if segments_of is None else segment_metrics_of(y, predictions, segments_of)

        return compute

    if contract.is_regression:
        y = regression_target(holdout[contract.target], "hold-out")
        return _Scorer(
            y=y,
            predict=lambda model, frame: predict_values(model, frame, contract),
            metrics=regression_metrics,
            baseline=naive_regression_metrics(
                y, regression_target(train[contract.target], "training data")
            ),
            segments=by_segment(regression_segment_metrics),
            bootstrap=lambda y, first, second, metric: paired_bootstrap_regression(
                y,
                first,
                second,
                metric,
                samples=gate.bootstrap_samples,
                seed=gate.seed,
                confidence=gate.confidence,
            ),
            class_profile=lambda predictions: None,
            curves=lambda predictions: regression_curve_data(y, predictions),
        )
    labels = [str(c) for c in ordered_classes(contract)]
    y = holdout[contract.target].astype(str).to_numpy()
    y_train = train[contract.target].astype(str).to_numpy()
    return _Scorer(
        y=y,
        predict=lambda model, frame: predict_proba(model, frame, contract),
        metrics=lambda y, proba: classification_metrics(y, proba, labels),
        baseline=classification_metrics(y, prior_proba(y_train, labels, len(y)), labels),
        segments=by_segment(lambda y, proba, of: segment_metrics(y, proba, of, labels)),
        bootstrap=lambda y, first, second, metric: paired_bootstrap(
            y,
            first,
            second,
            metric,
            labels,
            samples=gate.bootstrap_samples,
            seed=gate.seed,
            confidence=gate.confidence,
        ),
        class_profile=lambda proba: class_profile(y, proba, labels),
        curves=lambda proba: curve_data(y, proba, labels),
        labels=labels,
    )


def evaluate_candidate(
    params: Params,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    card: dict,
    validation: dict,
    root: Path = Path("."),
) -> EvaluationResult:
    """Score the candidate, the naive baseline and the current champion; decide the gate.

    The naive baseline is the training class frequencies (classification) or the training
    median and mean (regression, see evaluate.naive_regression_metrics)."""
    contract, gate = params.contract, params.gate
    scorer = _scorer(params, train, holdout)
    y = scorer.y

    candidate_model = load_model(root / params.paths.model, expected_md5=card["model"]["md5"])
    candidate_predictions = scorer.predict(candidate_model, holdout)
    metrics = {
        "candidate": scorer.metrics(y, candidate_predictions),
        "baseline": scorer.baseline,
    }
    segments = {"candidate": scorer.segments(y, candidate_predictions)}

    champion = read_champion(root / params.paths.champion)
    bootstrap = None
    champion_predictions = None
    if champion is not None:
        champion_predictions = scorer.predict(load_champion_model(champion, root), holdout)
        metrics["champion"] = scorer.metrics(y, champion_predictions)
        segments["champion"] = scorer.segments(y, champion_predictions)
        bootstrap = scorer.bootstrap(
            y, candidate_predictions, champion_predictions, gate.primary_metric
        )
    decision = decide(
        candidate=metrics["candidate"],
        baseline=metrics["baseline"],
        champion=metrics.get("champion"),
        bootstrap=bootstrap,
        candidate_segments=segments["candidate"],
        champion_segments=segments.get("champion"),
        validation_passed=bool(validation and validation.get("passed")),
        gate=gate,
        candidate_classes=scorer.class_profile(candidate_predictions),
        holdout_batches=holdout_batch_rows(holdout),
        champion_version=champion.version if champion else None,
        candidate_is_champion=champion is not None and champion.model_md5 == card["model"]["md5"],
        pinned=pin_reason(champion.pin) if champion and champion.pin else None,
    )
    staging = None
    if gate.staging.enabled and champion is not None and champion.staging:
        staging = _staging_check(
            params, champion, holdout, scorer, candidate_predictions, champion_predictions, root
        )
    identity = holdout_identity(
        holdout["row_id"], holdout[contract.target], holdout[contract.time_column]
    )
    absent = [label for label in scorer.labels or [] if label not in set(y)]
    if absent:  # the metrics average over the classes present (see classification_metrics)
        identity["classes_absent"] = " ".join(absent)
    return EvaluationResult(
        metrics_record(metrics, identity, bootstrap),
        json_safe(segments),
        decision,
        scorer.curves(candidate_predictions),
        staging,
        contract.task,
    )


def _staging_check(
    params, champion, holdout, scorer, candidate_predictions, champion_predictions, root
):
    """The staged model against the champion on the rows after its selection, and the
    candidate against the staged model on the whole hold-out (datawheel.registry.staging)."""
    from datawheel.registry.champion import load_recorded_model
    from datawheel.registry.staging import prospective_rows, verdict

    gate, contract, staged = params.gate, params.contract, champion.staging
    label = f"{params.paths.model} (staged {staged['version']})"
    staged_predictions = scorer.predict(
        load_recorded_model(staged["model_md5"], label, root), holdout
    )
    new = prospective_rows(holdout[contract.time_column], staged["selected_through"])
    y = scorer.y

    def compare(mask, first, second):
        if mask.sum() == 0:
            return None
        return scorer.bootstrap(y[mask], first[mask], second[mask], gate.primary_metric)

    check = verdict(
        staged["version"],
        int(new.sum()),
        compare(new, staged_predictions, champion_predictions),
        gate.staging.min_new_rows,
        gate.min_improvement,
    )
    everything = np.ones(len(y), dtype=bool)
    versus = compare(everything, candidate_predictions, staged_predictions)
    beats = versus is not None and bool(versus.ci_low > gate.min_improvement)
    return {
        "verdict": check.to_dict(),
        "candidate_beats_staged": beats,
        "candidate_vs_staged": None if versus is None else versus.to_dict(),
    }


def holdout_batch_rows(holdout: pd.DataFrame) -> dict[str, int]:
    """Hold-out rows per raw batch (ingest's `batch` provenance column), by batch name."""
    counts = holdout["batch"].astype(str).value_counts(sort=False)
    return {str(batch): int(rows) for batch, rows in sorted(counts.items())}


def metrics_record(
    groups: dict[str, dict[str, float]], holdout: dict, bootstrap: BootstrapResult | None
) -> dict:
    """metrics.json: the metric groups, the gate's delta (with a champion only), the hold-out.

    NaN (an undefined metric) becomes null, which `dvc metrics show` leaves out.
    """
    record: dict[str, dict] = {
        name: groups[name] for name in ("candidate", "champion", "baseline") if name in groups
    }
    if bootstrap is not None:
        record["gate"] = gate_delta(bootstrap)
    record["holdout"] = holdout
    return json_safe(record)


def gate_delta(bootstrap: BootstrapResult) -> dict[str, float]:
    """The gate's paired primary-metric delta and its CI, as metrics.json numbers.

    Taken as the gate computed it: positive means the candidate is better on the same rows
    (candidate minus champion; champion minus candidate for a loss such as log_loss).
    """
    return {"delta": bootstrap.delta, "ci_low": bootstrap.ci_low, "ci_high": bootstrap.ci_high}
