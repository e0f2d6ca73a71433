"""The promotion gate: every check recorded with its numbers, promote only if all pass.

With a champion (re-scored on the candidate's hold-out): validation passed, the paired
bootstrap CI lower bound of the primary-metric improvement exceeds `gate.min_improvement`,
no guardrail metric regresses past its tolerance, and no large enough segment drops in the
primary metric past `gate.segment_tolerance`. With no champion yet: validation passed, and
the candidate beats the naive baseline and reaches `gate.absolute_floor`.

Sanity guards hold in both cases, whatever the champion comparison says: the candidate
beats the naive baseline on the primary metric and on a proper scoring rule
(`gate.scoring_rule`), its predictions have not collapsed onto one class
(`gate.max_predicted_class_share`, `gate.min_class_recall`), and no single batch makes up
most of the hold-out (`gate.max_batch_share_of_holdout`).

Each metric's direction comes from the metric (`datawheel.config.params.METRIC_SPECS`), so every
comparison works for errors (lower is better) and scores alike. The task is the primary
metric's: for regression the naive baseline predicts the training median (MAE) or mean
(RMSE), there is no absolute floor, and the class-collapse guards are skipped (recorded).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from datawheel.config.catalog import VALIDATION_MARKDOWN
from datawheel.config.params import METRIC_SPECS, Gate
from datawheel.errors import ParamsError
from datawheel.io.files import json_safe
from datawheel.model.metrics import HIGHER_IS_BETTER, BootstrapResult

# Comparisons against a tolerance allow this much floating-point noise, so that a
# regression of exactly the tolerance (0.44 - 0.42 vs 0.02) is not refused by rounding.
_NOISE = 1e-12


@dataclass(frozen=True)
class Check:
    """One gate rule applied: its name, whether it passed, why, and the numbers used."""

    name: str
    passed: bool
    detail: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GateDecision:
    """The gate's verdict with everything needed to explain it in a report or a PR."""

    decision: Literal["promote", "hold"]
    primary_metric: str
    candidate: dict[str, float]
    champion: dict[str, float] | None
    baseline: dict[str, float]
    bootstrap: BootstrapResult | None
    checks: list[Check]
    reasons: list[str]

    @property
    def promoted(self) -> bool:
        return self.decision == "promote"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: plain Python types, NaN as null."""
        return json_safe(
            {
                "decision": self.decision,
                "primary_metric": self.primary_metric,
                "candidate": self.candidate,
                "champion": self.champion,
                "baseline": self.baseline,
                "bootstrap": None if self.bootstrap is None else self.bootstrap.to_dict(),
                "checks": [asdict(check) for check in self.checks],
                "reasons": self.reasons,
            }
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateDecision:
        """Back from gate.json; KeyError or TypeError when it is not in that form."""
        bootstrap = data.get("bootstrap")
        return cls(
            decision=data["decision"],
            primary_metric=data["primary_metric"],
            candidate=data.get("candidate") or {},
            champion=data.get("champion"),
            baseline=data.get("baseline") or {},
            bootstrap=BootstrapResult(**bootstrap) if bootstrap else None,
            checks=[Check(**check) for check in data.get("checks") or []],
            reasons=list(data.get("reasons") or []),
        )


def _value(metrics: dict[str, Any] | None, metric: str) -> float:
    """The metric as a float; NaN when missing or None (undefined)."""
    value = (metrics or {}).get(metric)
    return float("nan") if value is None else float(value)


def _fmt(value: float, signed: bool = False) -> str:
    if not math.isfinite(value):
        return "undefined"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def _check_metric_names(gate: Gate) -> None:
    known = sorted(HIGHER_IS_BETTER)
    if gate.primary_metric not in HIGHER_IS_BETTER:
        raise ParamsError(
            f"params.yaml gate.primary_metric: unknown metric {gate.primary_metric!r}; "
            f"choose from {known}"
        )
    unknown = sorted(set(gate.guardrails) - set(HIGHER_IS_BETTER))
    if unknown:
        raise ParamsError(
            f"params.yaml gate.guardrails: unknown metric(s) {unknown}; choose from {known}"
        )


def _validation_check(validation_passed: bool) -> Check:
    if validation_passed:
        return Check("validation", True, "Data validation passed.", {"passed": True})
    return Check(
        "validation",
        False,
        "Data validation did not pass: a model trained on failing data is never promoted "
        f"(see reports/{VALIDATION_MARKDOWN}).",
        {"passed": False},
    )


def _new_model_check(champion_version: str | None) -> Check:
    name = f"the champion {champion_version}" if champion_version else "the champion"
    return Check(
        "new_model",
        False,
        f"The candidate is {name}: its model file is the one already in prod, so there "
        "is nothing new to promote.",
        {"champion_version": champion_version},
    )


def _improvement_check(bootstrap: BootstrapResult | None, gate: Gate) -> Check:
    metric = gate.primary_metric
    name = "primary_improvement"
    if bootstrap is None:
        return Check(name, False, f"No paired bootstrap of {metric} against the champion was run.")
    if bootstrap.metric != metric:
        return Check(
            name,
            False,
            f"The bootstrap compared {bootstrap.metric}, not the primary metric {metric}.",
            {"bootstrap_metric": bootstrap.metric},
        )
    values: dict[str, Any] = {
        "candidate": bootstrap.candidate,
        "champion": bootstrap.champion,
        "delta": bootstrap.delta,
        "ci_low": bootstrap.ci_low,
        "ci_high": bootstrap.ci_high,
        "confidence": bootstrap.confidence,
        "samples": bootstrap.samples,
        "min_improvement": gate.min_improvement,
    }
    if not math.isfinite(bootstrap.ci_low):
        return Check(
            name,
            False,
            f"The {metric} improvement is undefined on this hold-out "
            f"({bootstrap.samples} of {bootstrap.samples_requested} resamples usable); "
            "the hold-out may lack a class.",
            values,
        )
    values["direction"] = METRIC_SPECS[metric].direction
    orientation = (
        "" if HIGHER_IS_BETTER[metric] else " (lower is better; positive = candidate better)"
    )
    interval = (
        f"{metric} improvement {_fmt(bootstrap.delta, True)}{orientation}, "
        f"{bootstrap.confidence:.0%} CI [{_fmt(bootstrap.ci_low, True)}, "
        f"{_fmt(bootstrap.ci_high, True)}] over {bootstrap.samples} paired resamples "
        f"(candidate {_fmt(bootstrap.candidate)} vs champion {_fmt(bootstrap.champion)})"
    )
    if bootstrap.ci_low > gate.min_improvement:
        detail = f"{interval}: the lower bound exceeds the margin {gate.min_improvement:g}."
        return Check(name, True, detail, values)
    detail = (
        f"{interval}: the lower bound is not above the margin {gate.min_improvement:g}, "
        "so the improvement over the champion is not established."
    )
    return Check(name, False, detail, values)


def _guardrail_check(metric: str, tolerance: float, candidate: dict, champion: dict) -> Check:
    name = f"guardrail:{metric}"
    new, old = _value(candidate, metric), _value(champion, metric)
    regression = (old - new) if HIGHER_IS_BETTER[metric] else (new - old)
    values = {"candidate": new, "champion": old, "regression": regression, "tolerance": tolerance}
    if not math.isfinite(regression):
        return Check(
            name,
            False,
            f"Guardrail {metric} is undefined (candidate {_fmt(new)}, champion {_fmt(old)}).",
            values,
        )
    comparison = f"candidate {_fmt(new)} vs champion {_fmt(old)}"
    if regression <= tolerance + _NOISE:
        detail = f"Guardrail {metric} holds: {comparison}, within the tolerated {tolerance:g}."
        return Check(name, True, detail, values)
    detail = (
        f"Guardrail {metric} regressed by {_fmt(regression)} ({comparison}), "
        f"more than the tolerated {tolerance:g}."
    )
    return Check(name, False, detail, values)


def _segment_check(
    candidate_segments: list[dict], champion_segments: list[dict] | None, gate: Gate
) -> Check:
    metric = gate.primary_metric
    name = "segments"
    base = {"tolerance": gate.segment_tolerance, "min_segment_rows": gate.min_segment_rows}
    if not candidate_segments:
        return Check(name, True, "No segments to compare (the contract names no segment).", base)
    if champion_segments is None:
        return Check(name, False, "The champion has no per-segment metrics to compare.", base)
    champion_by_name = {str(s["segment"]): s for s in champion_segments}
    drops: dict[str, float] = {}
    failing: list[str] = []
    missing: list[str] = []
    undefined: list[str] = []
    too_small: list[str] = []
    for segment in candidate_segments:
        label = str(segment["segment"])
        if int(segment["rows"]) < gate.min_segment_rows:
            too_small.append(label)
            continue
        if label not in champion_by_name:
            missing.append(label)
            continue
        new, old = _value(segment, metric), _value(champion_by_name[label], metric)
        if math.isnan(new) and math.isnan(old):
            undefined.append(label)  # e.g. one class only: no model can be judged there
            continue
        drop = (old - new) if HIGHER_IS_BETTER[metric] else (new - old)
        drops[label] = drop
        if not math.isfinite(drop) or drop > gate.segment_tolerance + _NOISE:
            failing.append(label)
    gated = len(drops)
    values = {
        **base,
        "drops": drops,
        "failing": failing,
        "missing_from_champion": missing,
        "undefined": undefined,
        "too_small": too_small,
    }
    notes = [f"{gated} segment(s) gated"]
    if too_small:
        notes.append(f"{len(too_small)} under {gate.min_segment_rows} rows not gated")
    if undefined:
        notes.append(f"{metric} undefined for both models in {', '.join(undefined)}")
    if failing or missing:
        parts = []
        if failing:
            named = ", ".join(f"{label} (drop {_fmt(drops[label])})" for label in failing)
            parts.append(
                f"{metric} drops by more than {gate.segment_tolerance:g} in segment(s) {named}"
            )
        if missing:
            parts.append(f"segment(s) {', '.join(missing)} missing from the champion's metrics")
        return Check(name, False, "; ".join(parts + notes) + ".", values)
    detail = (
        f"No segment with at least {gate.min_segment_rows} rows drops in {metric} by more than "
        f"{gate.segment_tolerance:g} ({'; '.join(notes)})."
    )
    return Check(name, True, detail, values)


def _baseline_check(
    candidate: dict, baseline: dict, metric: str, name: str = "beats_baseline"
) -> Check:
    new, naive = _value(candidate, metric), _value(baseline, metric)
    values = {"metric": metric, "candidate": new, "baseline": naive}
    if not (math.isfinite(new) and math.isfinite(naive)):
        detail = (
            f"{metric} is undefined on this hold-out (candidate {_fmt(new)}, baseline "
            f"{_fmt(naive)}), so the candidate cannot be shown to beat the naive baseline."
        )
        return Check(name, False, detail, values)
    better = new > naive if HIGHER_IS_BETTER[metric] else new < naive
    if better:
        detail = f"{metric} {_fmt(new)} beats the naive baseline's {_fmt(naive)}."
        return Check(name, True, detail, values)
    detail = (
        f"{metric} {_fmt(new)} does not beat the naive baseline's {_fmt(naive)}, which "
        f"predicts {_NAIVE.get(metric, 'the training class frequencies')} for every row."
    )
    return Check(name, False, detail, values)


# What the naive baseline predicts for each regression metric (evaluate.naive_regression_metrics).
_NAIVE = {"mae": "the training median", "rmse": "the training mean", "r2": "the training mean"}


def _scoring_rule_check(candidate: dict, baseline: dict, rule: str) -> Check:
    """The proper scoring rule against the prior: ranking well is not enough (see decide)."""
    check = _baseline_check(candidate, baseline, rule, name=f"beats_baseline:{rule}")
    if check.passed:
        return check
    if METRIC_SPECS[rule].task == "regression":
        detail = f"{check.detail} On the error {rule} too it must beat the naive baseline."
    else:
        detail = (
            f"{check.detail} On the proper scoring rule {rule} the candidate's probabilities "
            "are no better than the prior's, whatever its ranking metrics say."
        )
    return Check(check.name, False, detail, check.values)


def _share(part: float, whole: float) -> str:
    return f"{part / whole:.1%}" if whole else "undefined"


def _collapse_check(classes: list[dict] | None, gate: Gate) -> Check:
    """Hold a candidate whose predicted classes collapse (argmax, as the metrics decide)."""
    name = "prediction_collapse"
    if classes is None:
        detail = (
            "Skipped: gate.max_predicted_class_share and gate.min_class_recall judge "
            "predicted classes; a regression model predicts numbers."
        )
        return Check(name, True, detail, {"skipped": "regression"})
    total = sum(int(c["rows"]) for c in classes)
    values: dict[str, Any] = {
        "max_predicted_class_share": gate.max_predicted_class_share,
        "min_class_recall": gate.min_class_recall,
        "min_class_rows": gate.min_class_rows,
        "classes": classes,
    }
    if not total:
        return Check(name, False, "The hold-out has no rows, so predictions cannot be judged.")
    dominant = max(classes, key=lambda c: int(c["predicted"]))
    predicted_share = int(dominant["predicted"]) / total
    holdout_share = int(dominant["rows"]) / total
    values.update(
        dominant_class=dominant["class"],
        predicted_share=predicted_share,
        holdout_share=holdout_share,
    )
    problems = []
    # A class that really is nearly all of the hold-out may be predicted for nearly all of it.
    if (
        predicted_share > gate.max_predicted_class_share + _NOISE
        and holdout_share <= gate.max_predicted_class_share
    ):
        problems.append(
            f"The candidate predicts class {dominant['class']} for {int(dominant['predicted']):,} "
            f"of {total:,} hold-out rows ({predicted_share:.1%}), more than the allowed "
            f"{gate.max_predicted_class_share:.0%}, though that class is only "
            f"{holdout_share:.1%} of the hold-out: its predictions have collapsed onto one class."
        )
    gated = [c for c in classes if int(c["rows"]) >= gate.min_class_rows]
    values["not_gated"] = [c["class"] for c in classes if 0 < int(c["rows"]) < gate.min_class_rows]
    low = []
    if gate.min_class_recall is not None:
        low = [c for c in gated if not float(c["recall"]) > gate.min_class_recall + _NOISE]
    values["low_recall"] = [c["class"] for c in low]
    if low:
        named = ", ".join(
            f"class {c['class']} (recall {_fmt(float(c['recall']))} over {int(c['rows']):,} "
            "hold-out rows)"
            for c in low
        )
        consequence = (
            "it never predicts such a row correctly"
            if gate.min_class_recall == 0
            else "it finds too few of those rows"
        )
        problems.append(
            f"The candidate's recall is not above the minimum {gate.min_class_recall:g} for "
            f"{named}: {consequence}."
        )
    if problems:
        return Check(name, False, " ".join(problems), values)
    notes = [
        f"the most predicted class, {dominant['class']}, is {predicted_share:.1%} of the "
        f"predictions (limit {gate.max_predicted_class_share:.0%})"
    ]
    if gate.min_class_recall is not None and gated:
        lowest = min(gated, key=lambda c: float(c["recall"]))
        notes.append(
            f"every class with at least {gate.min_class_rows} hold-out rows has recall above "
            f"{gate.min_class_recall:g} (lowest: class {lowest['class']}, "
            f"{_fmt(float(lowest['recall']))})"
        )
    if values["not_gated"]:
        notes.append(
            f"class(es) {', '.join(values['not_gated'])} under {gate.min_class_rows} rows "
            "not gated on recall"
        )
    return Check(name, True, f"Predictions have not collapsed: {'; '.join(notes)}.", values)


# The gate.json record lists at most this many of the largest hold-out batches.
_LISTED_BATCHES = 5


def _holdout_share_check(holdout_batches: dict[str, int], gate: Gate) -> Check:
    """Hold when one batch is most of the hold-out: its metrics would measure that batch."""
    name = "holdout_batch_share"
    limit = gate.max_batch_share_of_holdout
    ranked = sorted(holdout_batches.items(), key=lambda item: (-int(item[1]), item[0]))
    total = sum(int(rows) for _, rows in ranked)
    values: dict[str, Any] = {
        "max_batch_share_of_holdout": limit,
        "rows": total,
        "batches": len(ranked),
        "largest": dict(ranked[:_LISTED_BATCHES]),
    }
    if not total:
        return Check(name, False, "The hold-out has no rows from any batch.", values)
    batch, rows = ranked[0]
    share = int(rows) / total
    values.update(largest_batch=batch, largest_share=share)
    if len(ranked) == 1:
        detail = (
            f"The hold-out comes from one batch, {batch}; a share of the hold-out is only "
            "judged among two or more batches (the volume expectation judges the batch)."
        )
        return Check(name, True, detail, values)
    if share > limit + _NOISE:
        detail = (
            f"Batch {batch} makes up {share:.1%} of the hold-out ({int(rows):,} of {total:,} "
            f"rows), more than the allowed {limit:.0%}: the hold-out does not represent the "
            "window, so its metrics mostly measure that one batch."
        )
        return Check(name, False, detail, values)
    detail = (
        f"No batch dominates the hold-out: the largest, {batch}, is {share:.1%} of its "
        f"{total:,} rows from {len(ranked)} batches (limit {limit:.0%})."
    )
    return Check(name, True, detail, values)


def _floor_check(candidate: dict, metric: str, floor: float | None) -> Check:
    if floor is None:
        detail = (
            "No absolute floor (gate.absolute_floor is null, as for regression): beating "
            "the naive baseline is the bar for a first model."
        )
        return Check("absolute_floor", True, detail, {"skipped": "no floor", "floor": None})
    new = _value(candidate, metric)
    values = {"candidate": new, "floor": floor}
    higher = HIGHER_IS_BETTER[metric]
    # for a loss the floor is a ceiling: the candidate must be at most that bad
    word = "at least" if higher else "at most"
    if not math.isfinite(new):
        detail = f"{metric} is undefined on this hold-out; it must be {word} {floor:g}."
        return Check("absolute_floor", False, detail, values)
    if (new >= floor) if higher else (new <= floor):
        detail = f"{metric} {_fmt(new)} is {word} the floor {floor:g}."
        return Check("absolute_floor", True, detail, values)
    detail = f"{metric} {_fmt(new)} does not reach the floor: it must be {word} {floor:g}."
    return Check("absolute_floor", False, detail, values)


def _summary(
    metric: str,
    candidate: dict,
    baseline: dict,
    champion: dict | None,
    bootstrap: BootstrapResult | None,
    gate: Gate,
) -> str:
    if champion is None or bootstrap is None:
        floor = (
            "" if gate.absolute_floor is None else f" and reaches the floor {gate.absolute_floor:g}"
        )
        return (
            f"Promote: no champion yet; {metric} {_fmt(_value(candidate, metric))} beats the "
            f"naive baseline's {_fmt(_value(baseline, metric))}{floor}; validation and the "
            "sanity guards hold."
        )
    return (
        f"Promote: {metric} {_fmt(bootstrap.candidate)} vs champion "
        f"{_fmt(bootstrap.champion)}, improvement {_fmt(bootstrap.delta, True)} with "
        f"{bootstrap.confidence:.0%} CI [{_fmt(bootstrap.ci_low, True)}, "
        f"{_fmt(bootstrap.ci_high, True)}] above the margin {gate.min_improvement:g}; "
        "validation, the sanity guards, guardrails and segments hold."
    )


def decide(
    candidate: dict[str, float],
    baseline: dict[str, float],
    champion: dict[str, float] | None,
    bootstrap: BootstrapResult | None,
    candidate_segments: list[dict],
    champion_segments: list[dict] | None,
    validation_passed: bool,
    gate: Gate,
    *,
    candidate_classes: list[dict] | None,
    holdout_batches: dict[str, int],
    champion_version: str | None = None,
    candidate_is_champion: bool = False,
    pinned: str | None = None,
) -> GateDecision:
    """Apply every gate rule; promote only when all of them pass.

    `pinned`: the reason prod is pinned (champion.json `pin`), which holds every candidate;
    the other checks are still run and reported.

    `candidate_classes`: the candidate's `evaluate.class_profile` on the hold-out (None
    for a regression primary metric, whose model predicts no classes);
    `holdout_batches`: hold-out rows per raw batch. Both feed sanity guards, which are
    required arguments so that no caller can skip them.
    `candidate_is_champion`: the candidate's model bytes are the champion's (the state
    right after a promotion, re-evaluated): there is nothing new to promote.
    """
    _check_metric_names(gate)
    metric = gate.primary_metric
    regression = METRIC_SPECS[metric].task == "regression"
    if (candidate_classes is None) != regression:
        raise ValueError(
            f"candidate_classes must be given exactly when {metric} is a classification metric"
        )
    # The sanity guards, the baseline and the floor hold with or without a champion: after
    # abrupt drift a candidate can beat a broken champion and still be worse than the prior;
    # a model can rank rows well (high AUC) while predicting one class for every row.
    checks = [
        _validation_check(validation_passed),
        _baseline_check(candidate, baseline, metric),
    ]
    if gate.scoring_rule is not None and gate.scoring_rule != metric:
        checks.append(_scoring_rule_check(candidate, baseline, gate.scoring_rule))
    checks += [
        _collapse_check(candidate_classes, gate),
        _holdout_share_check(holdout_batches, gate),
        _floor_check(candidate, metric, gate.absolute_floor),
    ]
    if champion is not None:
        if candidate_is_champion:
            checks.insert(0, _new_model_check(champion_version))
        checks.append(_improvement_check(bootstrap, gate))
        for guarded, tolerance in sorted(gate.guardrails.items()):
            checks.append(_guardrail_check(guarded, tolerance, candidate, champion))
        checks.append(_segment_check(candidate_segments, champion_segments, gate))
    if pinned:
        checks.insert(0, Check("pin", False, pinned, {"pinned": True}))
    failed = [check for check in checks if not check.passed]
    if failed and failed[0].name == "new_model":
        reasons = [failed[0].detail]  # comparing a model with itself says nothing more
    elif failed:
        reasons = [check.detail for check in failed]
    else:
        reasons = [_summary(metric, candidate, baseline, champion, bootstrap, gate)]
    return GateDecision(
        decision="hold" if failed else "promote",
        primary_metric=metric,
        candidate=dict(candidate),
        champion=None if champion is None else dict(champion),
        baseline=dict(baseline),
        bootstrap=bootstrap,
        checks=checks,
        reasons=reasons,
    )
