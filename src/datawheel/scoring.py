"""Evaluation as the evaluate stage runs it: candidate, baseline and champion on one hold-out.

metrics.json, which dvc.yaml declares as the pipeline's metric, holds numbers only, so that
`dvc metrics show/diff` and `dvc exp show` read it: the metric groups (`candidate`,
`baseline`, and `champion` when there is one), the gate's paired delta with its CI (`gate`,
with a champion only), and `holdout`, which hold-out was scored (its rows, its event-time
dates and a fingerprint: the only non-numbers). Which champion version was scored is in
models/champion.json, the pointer evaluate read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from datawheel.champion import load_champion_model, pin_reason, read_champion
from datawheel.evaluate import (
    BootstrapResult,
    class_profile,
    classification_metrics,
    holdout_identity,
    json_ready,
    paired_bootstrap,
    prior_proba,
    segment_metrics,
)
from datawheel.gate import GateDecision, decide
from datawheel.modelio import load_model
from datawheel.params import Params
from datawheel.train import ordered_classes, predict_proba


@dataclass
class EvaluationResult:
    metrics: dict
    segments: dict
    decision: GateDecision
    curves: dict
    # The staged model's prospective check and whether the candidate beats it (staging on).
    staging: dict | None = None

    def write_plots(self, out_dir: Path) -> None:
        """DVC plots data (CSV) and PNGs for people, the segment chart among them."""
        from datawheel.plots import segment_bar_png, write_plots

        write_plots(self.curves, out_dir, png_dir=out_dir / "png")
        segment_bar_png(
            self.segments["candidate"],
            self.decision.primary_metric,
            out_dir / "png" / "segments.png",
            champion_segments=self.segments.get("champion"),
        )


def evaluate_candidate(
    params: Params,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    card: dict,
    validation: dict,
    root: Path = Path("."),
) -> EvaluationResult:
    """Score the candidate, the prior baseline and the current champion; decide the gate."""
    from datawheel.plots import curve_data

    contract, gate = params.contract, params.gate
    classes = ordered_classes(contract)
    y_train = train[contract.target].astype(str).to_numpy()
    y = holdout[contract.target].astype(str).to_numpy()
    labels = [str(c) for c in classes]
    segments_of = holdout[contract.segment].to_numpy() if contract.segment else None

    candidate_model = load_model(root / params.paths.model, expected_md5=card["model"]["md5"])
    candidate_proba = predict_proba(candidate_model, holdout, contract)
    baseline_proba = prior_proba(y_train, labels, len(y))
    metrics = {
        "candidate": classification_metrics(y, candidate_proba, labels),
        "baseline": classification_metrics(y, baseline_proba, labels),
    }
    segments = {"candidate": _by_segment(y, candidate_proba, segments_of, labels)}

    champion = read_champion(root / params.paths.champion)
    bootstrap = None
    if champion is not None:
        champion_proba = predict_proba(load_champion_model(champion, root), holdout, contract)
        metrics["champion"] = classification_metrics(y, champion_proba, labels)
        segments["champion"] = _by_segment(y, champion_proba, segments_of, labels)
        bootstrap = paired_bootstrap(
            y,
            candidate_proba,
            champion_proba,
            gate.primary_metric,
            labels,
            samples=gate.bootstrap_samples,
            seed=gate.seed,
            confidence=gate.confidence,
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
        candidate_classes=class_profile(y, candidate_proba, labels),
        holdout_batches=holdout_batch_rows(holdout),
        champion_version=champion.version if champion else None,
        candidate_is_champion=champion is not None and champion.model_md5 == card["model"]["md5"],
        pinned=pin_reason(champion.pin) if champion and champion.pin else None,
    )
    staging = None
    if gate.staging.enabled and champion is not None and champion.staging:
        staging = _staging_check(
            params, champion, holdout, y, labels, candidate_proba, champion_proba, root
        )
    identity = holdout_identity(
        holdout["row_id"], holdout[contract.target], holdout[contract.time_column]
    )
    absent = [label for label in labels if label not in set(y)]
    if absent:  # the metrics average over the classes present (see classification_metrics)
        identity["classes_absent"] = " ".join(absent)
    return EvaluationResult(
        metrics_record(metrics, identity, bootstrap),
        json_ready(segments),
        decision,
        curve_data(y, candidate_proba, labels),
        staging,
    )


def _staging_check(params, champion, holdout, y, labels, candidate_proba, champion_proba, root):
    """The staged model against the champion on the rows after its selection, and the
    candidate against the staged model on the whole hold-out (datawheel.staging)."""
    from datawheel.champion import load_recorded_model
    from datawheel.staging import prospective_rows, verdict

    gate, contract, staged = params.gate, params.contract, champion.staging
    label = f"{params.paths.model} (staged {staged['version']})"
    staged_proba = predict_proba(
        load_recorded_model(staged["model_md5"], label, root), holdout, contract
    )
    new = prospective_rows(holdout[contract.time_column], staged["selected_through"])

    def compare(mask, first, second):
        if mask.sum() == 0:
            return None
        return paired_bootstrap(
            y[mask],
            first[mask],
            second[mask],
            gate.primary_metric,
            labels,
            samples=gate.bootstrap_samples,
            seed=gate.seed,
            confidence=gate.confidence,
        )

    check = verdict(
        staged["version"],
        int(new.sum()),
        compare(new, staged_proba, champion_proba),
        gate.staging.min_new_rows,
        gate.min_improvement,
    )
    everything = np.ones(len(y), dtype=bool)
    versus = compare(everything, candidate_proba, staged_proba)
    beats = versus is not None and bool(versus.ci_low > gate.min_improvement)
    return {
        "verdict": check.to_dict(),
        "candidate_beats_staged": beats,
        "candidate_vs_staged": None if versus is None else versus.to_dict(),
    }


def _by_segment(y, proba, segments_of, labels) -> list[dict]:
    """Per-segment metrics; none when the contract names no segment (`segment: null`), so
    the gate's segment check says so instead of judging one invented segment."""
    return [] if segments_of is None else segment_metrics(y, proba, segments_of, labels)


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
    record = {
        name: groups[name] for name in ("candidate", "champion", "baseline") if name in groups
    }
    if bootstrap is not None:
        record["gate"] = gate_delta(bootstrap)
    record["holdout"] = holdout
    return json_ready(record)


def gate_delta(bootstrap: BootstrapResult) -> dict[str, float]:
    """The gate's paired primary-metric delta and its CI, as metrics.json numbers.

    Taken as the gate computed it: positive means the candidate is better on the same rows
    (candidate minus champion; champion minus candidate for a loss such as log_loss).
    """
    return {"delta": bootstrap.delta, "ci_low": bootstrap.ci_low, "ci_high": bootstrap.ci_high}
