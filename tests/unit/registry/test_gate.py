"""The gate promotes only when every check passes, and names what failed."""

from __future__ import annotations

import json
import math

import pytest

from datawheel.config.params import Gate
from datawheel.errors import ParamsError
from datawheel.model.metrics import BootstrapResult
from datawheel.registry.gate import GateDecision, decide
from datawheel.render.gate import render_decision

GATE = Gate(
    primary_metric="roc_auc",
    min_improvement=0.0,
    guardrails={"log_loss": 0.02, "brier": 0.01},
    segment_tolerance=0.05,
    min_segment_rows=100,
    absolute_floor=0.6,
)

CANDIDATE = {"roc_auc": 0.82, "log_loss": 0.40, "brier": 0.13, "accuracy": 0.80}
CHAMPION = {"roc_auc": 0.80, "log_loss": 0.41, "brier": 0.135, "accuracy": 0.79}
BASELINE = {"roc_auc": 0.5, "log_loss": 0.60, "brier": 0.20, "accuracy": 0.70}


def boot(ci_low=0.01, ci_high=0.03, metric="roc_auc", samples=1000) -> BootstrapResult:
    return BootstrapResult(
        metric=metric,
        candidate=CANDIDATE[metric],
        champion=CHAMPION[metric],
        delta=CANDIDATE[metric] - CHAMPION[metric],
        ci_low=ci_low,
        ci_high=ci_high,
        samples=samples,
        confidence=0.95,
        samples_requested=1000,
        seed=0,
    )


def segments(**values: tuple[int, float]) -> list[dict]:
    return [{"segment": name, "rows": rows, "roc_auc": auc} for name, (rows, auc) in values.items()]


CANDIDATE_SEGMENTS = segments(east=(400, 0.83), west=(300, 0.81), tiny=(20, 0.50))
CHAMPION_SEGMENTS = segments(east=(400, 0.80), west=(300, 0.80), tiny=(20, 0.90))


def profile(*classes: tuple[str, int, int, float]) -> list[dict]:
    """class_profile entries: (class, hold-out rows, rows predicted as it, recall)."""
    return [
        {"class": name, "rows": rows, "predicted": predicted, "recall": recall}
        for name, rows, predicted, recall in classes
    ]


# A healthy binary candidate: 700 hold-out rows, 22 % positives, some of them found.
CLASSES = profile(("0", 546, 580, 0.93), ("1", 154, 120, 0.45))
# The C=0.0001 logistic regression of issue 14: every row predicted negative.
COLLAPSED = profile(("0", 546, 700, 1.0), ("1", 154, 0, 0.0))
WEEK = {f"data/raw/2026-01-{day:02d}.csv": 100 for day in range(22, 29)}


def with_champion(**overrides) -> GateDecision:
    arguments = {
        "candidate_classes": CLASSES,
        "holdout_batches": WEEK,
        "candidate": CANDIDATE,
        "baseline": BASELINE,
        "champion": CHAMPION,
        "bootstrap": boot(),
        "candidate_segments": CANDIDATE_SEGMENTS,
        "champion_segments": CHAMPION_SEGMENTS,
        "validation_passed": True,
        "gate": GATE,
    }
    arguments.update(overrides)
    return decide(**arguments)


def first_time(**overrides) -> GateDecision:
    return with_champion(champion=None, bootstrap=None, champion_segments=None, **overrides)


def failed(decision: GateDecision) -> list[str]:
    return [check.name for check in decision.checks if not check.passed]


def test_promotes_when_every_check_passes():
    decision = with_champion()
    assert decision.decision == "promote" and decision.promoted
    assert [check.name for check in decision.checks] == [
        "validation",
        "beats_baseline",
        "beats_baseline:log_loss",
        "prediction_collapse",
        "holdout_batch_share",
        "absolute_floor",
        "primary_improvement",
        "guardrail:brier",
        "guardrail:log_loss",
        "segments",
    ]
    assert all(check.passed for check in decision.checks)
    assert len(decision.reasons) == 1
    assert decision.reasons[0].startswith("Promote")
    # the small segment's collapse is reported, not gated
    segment_check = decision.checks[-1]
    assert segment_check.values["too_small"] == ["tiny"]


def test_holds_when_validation_failed():
    decision = with_champion(validation_passed=False)
    assert decision.decision == "hold"
    assert failed(decision) == ["validation"]
    assert decision.reasons == [decision.checks[0].detail]
    assert "validation" in decision.reasons[0].lower()


@pytest.mark.parametrize("ci_low", [0.0, -0.01, 0.004])
def test_holds_when_the_ci_lower_bound_is_not_above_the_margin(ci_low):
    gate = GATE.model_copy(update={"min_improvement": 0.005})
    decision = with_champion(bootstrap=boot(ci_low=ci_low), gate=gate)
    assert decision.decision == "hold"
    assert failed(decision) == ["primary_improvement"]
    assert "lower bound is not above the margin 0.005" in decision.reasons[0]


def test_holds_when_the_bootstrap_is_missing_or_undefined():
    assert failed(with_champion(bootstrap=None)) == ["primary_improvement"]
    undefined = with_champion(bootstrap=boot(ci_low=math.nan, ci_high=math.nan, samples=0))
    assert failed(undefined) == ["primary_improvement"]
    assert "undefined" in undefined.reasons[0]
    wrong_metric = with_champion(bootstrap=boot(metric="log_loss"))
    assert failed(wrong_metric) == ["primary_improvement"]


def test_holds_when_a_guardrail_regresses_past_its_tolerance():
    worse = {**CANDIDATE, "log_loss": 0.44}  # champion 0.41: a regression of 0.03 > 0.02
    decision = with_champion(candidate=worse)
    assert failed(decision) == ["guardrail:log_loss"]
    assert "log_loss regressed by 0.0300" in decision.reasons[0]
    check = next(c for c in decision.checks if c.name == "guardrail:log_loss")
    assert check.values["regression"] == pytest.approx(0.03)


def test_a_regression_of_exactly_the_tolerance_passes():
    edge = {**CANDIDATE, "log_loss": 0.43}  # 0.43 - 0.41 is 0.0200000000000000x in floats
    assert with_champion(candidate=edge).promoted


def test_a_higher_is_better_guardrail_uses_its_own_direction():
    gate = GATE.model_copy(update={"guardrails": {"accuracy": 0.01}})
    assert with_champion(gate=gate).promoted
    decision = with_champion(candidate={**CANDIDATE, "accuracy": 0.77}, gate=gate)
    assert failed(decision) == ["guardrail:accuracy"]


def test_nan_guardrail_fails_with_a_clear_detail():
    decision = with_champion(candidate={**CANDIDATE, "brier": math.nan})
    assert failed(decision) == ["guardrail:brier"]
    assert "undefined" in decision.reasons[0]


def test_holds_and_names_the_segment_that_drops():
    dropped = segments(east=(400, 0.83), west=(300, 0.70), tiny=(20, 0.50))
    decision = with_champion(candidate_segments=dropped)
    assert failed(decision) == ["segments"]
    assert "west" in decision.reasons[0]
    assert "east" not in decision.reasons[0]
    check = decision.checks[-1]
    assert check.values["failing"] == ["west"]
    assert check.values["drops"]["west"] == pytest.approx(0.10)


def test_segment_undefined_for_both_models_is_not_gated_but_one_sided_nan_fails():
    both = with_champion(
        candidate_segments=[*CANDIDATE_SEGMENTS, *segments(south=(200, math.nan))],
        champion_segments=[*CHAMPION_SEGMENTS, *segments(south=(200, math.nan))],
    )
    assert both.promoted
    assert both.checks[-1].values["undefined"] == ["south"]
    one_sided = with_champion(
        candidate_segments=[*CANDIDATE_SEGMENTS, *segments(south=(200, math.nan))],
        champion_segments=[*CHAMPION_SEGMENTS, *segments(south=(200, 0.7))],
    )
    assert failed(one_sided) == ["segments"]
    assert "south" in one_sided.reasons[0]


def test_segment_missing_from_the_champion_fails():
    decision = with_champion(champion_segments=CHAMPION_SEGMENTS[:1])
    assert failed(decision) == ["segments"]
    assert "west" in decision.reasons[0]


def test_no_segments_at_all_passes():
    assert with_champion(candidate_segments=[], champion_segments=[]).promoted


def test_every_failing_check_gives_one_reason():
    decision = with_champion(
        validation_passed=False,
        bootstrap=boot(ci_low=-0.01),
        candidate={**CANDIDATE, "brier": 0.2},
    )
    assert failed(decision) == ["validation", "primary_improvement", "guardrail:brier"]
    assert len(decision.reasons) == 3


def test_beating_a_broken_champion_is_not_enough():
    """After abrupt drift the champion may score below the prior; so may the candidate."""
    decision = with_champion(
        candidate={**CANDIDATE, "roc_auc": 0.30},
        champion={**CHAMPION, "roc_auc": 0.25},
    )
    assert decision.decision == "hold"
    assert {"beats_baseline", "absolute_floor"} <= set(failed(decision))


def test_first_model_promotes_above_baseline_and_floor():
    decision = first_time()
    assert decision.promoted
    assert [check.name for check in decision.checks] == [
        "validation",
        "beats_baseline",
        "beats_baseline:log_loss",
        "prediction_collapse",
        "holdout_batch_share",
        "absolute_floor",
    ]
    assert "no champion" in decision.reasons[0]


def test_first_model_below_the_floor_is_held():
    decision = first_time(candidate={**CANDIDATE, "roc_auc": 0.58})
    assert failed(decision) == ["absolute_floor"]
    assert "floor" in decision.reasons[0]


def test_first_model_not_beating_the_baseline_is_held():
    gate = GATE.model_copy(update={"absolute_floor": 0.4})
    decision = first_time(candidate={**CANDIDATE, "roc_auc": 0.5}, gate=gate)
    assert failed(decision) == ["beats_baseline"]
    assert "does not beat the naive baseline" in decision.reasons[0]


def test_first_model_with_undefined_primary_metric_is_held():
    decision = first_time(candidate={**CANDIDATE, "roc_auc": math.nan})
    assert failed(decision) == ["beats_baseline", "absolute_floor"]
    assert all("undefined" in reason for reason in decision.reasons)


def test_a_loss_as_primary_metric_flips_the_floor_and_baseline():
    gate = GATE.model_copy(update={"primary_metric": "log_loss", "absolute_floor": 0.5})
    assert first_time(gate=gate).promoted  # 0.40 below the 0.60 baseline and the 0.5 ceiling
    decision = first_time(candidate={**CANDIDATE, "log_loss": 0.55}, gate=gate)
    assert failed(decision) == ["absolute_floor"]


def test_unknown_metric_names_in_params_are_params_errors():
    with pytest.raises(ParamsError, match="gate.primary_metric"):
        with_champion(gate=GATE.model_copy(update={"primary_metric": "auc"}))
    with pytest.raises(ParamsError, match="gate.guardrails"):
        with_champion(gate=GATE.model_copy(update={"guardrails": {"logloss": 0.1}}))


def test_to_dict_is_json_ready_with_nan_as_null():
    decision = with_champion(candidate={**CANDIDATE, "brier": math.nan})
    data = decision.to_dict()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text)["candidate"]["brier"] is None
    assert data["decision"] == "hold"
    assert data["bootstrap"]["ci_low"] == 0.01
    assert {check["name"] for check in data["checks"]} >= {"validation", "segments"}
    assert json.dumps(first_time().to_dict(), allow_nan=False)


def test_render_decision_is_markdown_with_one_row_per_check():
    decision = with_champion(candidate_segments=segments(east=(400, 0.83), west=(300, 0.70)))
    text = render_decision(decision)
    assert text.startswith("**Gate: HOLD**")
    assert "| Check | Result | Detail |" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 1 + len(decision.checks)
    assert "| segments | **FAIL** |" in text
    assert "west" in text
    assert render_decision(with_champion()).startswith("**Gate: PROMOTE**")


def test_gate_json_round_trips():
    decision = with_champion()
    assert GateDecision.from_dict(decision.to_dict()).to_dict() == decision.to_dict()
    with pytest.raises(KeyError):
        GateDecision.from_dict({"reasons": []})


def test_a_candidate_that_is_the_champion_is_held_with_that_reason_alone():
    # Right after a promotion the re-evaluated candidate is the champion's own file: even
    # with numbers that would pass, there is nothing new to promote.
    decision = with_champion(champion_version="v1.3.0", candidate_is_champion=True)
    assert decision.decision == "hold"
    assert failed(decision)[0] == "new_model"
    assert decision.reasons == [
        "The candidate is the champion v1.3.0: its model file is the one already in prod, "
        "so there is nothing new to promote."
    ]


def test_the_champion_identity_check_only_applies_with_a_champion():
    decision = first_time(candidate_is_champion=True)
    assert decision.decision == "promote" and "new_model" not in failed(decision)


def test_a_pinned_prod_holds_every_candidate_and_still_reports_the_other_checks():
    reason = "prod pinned by Ops <ops@example.com> at 2026-12-03T08:00:00Z: rolled back."
    decision = with_champion(pinned=reason)
    assert decision.decision == "hold"
    assert failed(decision) == ["pin"]  # everything else passed, and says so
    assert decision.reasons == [reason]
    weak = with_champion(pinned=reason, validation_passed=False)
    assert failed(weak) == ["pin", "validation"] and weak.reasons[0] == reason
    first = first_time(pinned=reason)
    assert first.decision == "hold" and first.reasons == [reason]


# --- sanity guards: with or without a champion, no comparison skips them ------------------


@pytest.mark.parametrize("make", [with_champion, first_time], ids=["champion", "first"])
def test_a_collapsed_candidate_is_held_whatever_the_comparison_says(make):
    # Issue 14: AUC 0.82 beats the champion and the baseline, yet no row is predicted positive.
    decision = make(candidate_classes=COLLAPSED)
    assert decision.decision == "hold"
    assert failed(decision) == ["prediction_collapse"]
    (reason,) = decision.reasons
    assert "predicts class 0 for 700 of 700 hold-out rows (100.0%)" in reason
    assert "more than the allowed 99%" in reason and "only 78.0% of the hold-out" in reason
    assert "recall is not above the minimum 0 for class 1 (recall 0.0000 over 154" in reason
    check = next(c for c in decision.checks if c.name == "prediction_collapse")
    assert check.values["dominant_class"] == "0"
    assert check.values["predicted_share"] == 1.0
    assert check.values["holdout_share"] == pytest.approx(0.78)
    assert check.values["low_recall"] == ["1"]
    assert check.values["classes"] == COLLAPSED


def test_predicting_the_class_that_is_nearly_all_of_the_holdout_is_not_a_collapse():
    # 99.5 % negatives: predicting negative for 99.8 % of rows is what a good model does.
    rare = profile(("0", 995, 998, 1.0), ("1", 5, 2, 0.4))
    decision = with_champion(candidate_classes=rare)
    assert "prediction_collapse" not in failed(decision)
    check = next(c for c in decision.checks if c.name == "prediction_collapse")
    assert check.values["not_gated"] == ["1"]  # 5 rows < min_class_rows: reported only
    assert "class(es) 1 under 20 rows not gated on recall" in check.detail


def test_zero_recall_of_a_class_with_enough_rows_holds_even_without_one_class_dominating():
    multiclass = profile(("a", 300, 500, 0.9), ("b", 250, 300, 0.8), ("c", 50, 0, 0.0))
    decision = first_time(candidate_classes=multiclass)
    assert failed(decision) == ["prediction_collapse"]
    assert "class c (recall 0.0000 over 50 hold-out rows)" in decision.reasons[0]
    assert "predicts class a" not in decision.reasons[0]  # 500 of 600 is under 99 %


def test_min_class_recall_and_the_share_limit_are_settings():
    weak = profile(("0", 546, 600, 0.95), ("1", 154, 100, 0.15))
    strict = GATE.model_copy(update={"min_class_recall": 0.2})
    decision = first_time(candidate_classes=weak, gate=strict)
    assert failed(decision) == ["prediction_collapse"]
    assert "it finds too few of those rows" in decision.reasons[0]
    off = GATE.model_copy(update={"min_class_recall": None, "max_predicted_class_share": 1.0})
    assert first_time(candidate_classes=COLLAPSED, gate=off).promoted


def test_the_candidate_must_beat_the_baseline_on_the_proper_scoring_rule():
    # Ranking better than the prior (AUC) with probabilities worse than the prior (log loss).
    poor = {**CANDIDATE, "log_loss": 0.61}
    decision = first_time(candidate=poor)
    assert failed(decision) == ["beats_baseline:log_loss"]
    assert "log_loss 0.6100 does not beat the naive baseline's 0.6000" in decision.reasons[0]
    assert "proper scoring rule" in decision.reasons[0]
    check = next(c for c in decision.checks if c.name == "beats_baseline:log_loss")
    assert check.values == {"metric": "log_loss", "candidate": 0.61, "baseline": 0.60}
    # with a champion too, even when the guardrail tolerates the regression
    assert "beats_baseline:log_loss" in failed(with_champion(candidate=poor))


def test_the_scoring_rule_can_be_brier_and_is_not_repeated_when_it_is_the_primary_metric():
    brier = GATE.model_copy(update={"scoring_rule": "brier"})
    decision = first_time(candidate={**CANDIDATE, "brier": 0.21}, gate=brier)
    assert failed(decision) == ["beats_baseline:brier"]
    as_primary = GATE.model_copy(update={"primary_metric": "log_loss", "absolute_floor": 0.5})
    names = [c.name for c in first_time(gate=as_primary).checks]
    assert names.count("beats_baseline") == 1 and "beats_baseline:log_loss" not in names


@pytest.mark.parametrize("make", [with_champion, first_time], ids=["champion", "first"])
def test_one_batch_dominating_the_holdout_is_held_with_its_name_and_share(make):
    # Issue 14: a day of 214,323 rows among days of about 200.
    spiked = {**WEEK, "data/raw/2026-01-28.csv": 214_323}
    decision = make(holdout_batches=spiked)
    assert failed(decision) == ["holdout_batch_share"]
    assert decision.reasons == [
        "Batch data/raw/2026-01-28.csv makes up 99.7% of the hold-out (214,323 of 214,923 "
        "rows), more than the allowed 50%: the hold-out does not represent the window, so its "
        "metrics mostly measure that one batch."
    ]
    check = next(c for c in decision.checks if c.name == "holdout_batch_share")
    assert check.values["largest_batch"] == "data/raw/2026-01-28.csv"
    assert check.values["batches"] == 7 and check.values["rows"] == 214_923


def test_an_ordinary_week_and_a_one_batch_holdout_pass_the_share_rule():
    jittered = dict(zip(WEEK, [91, 105, 110, 98, 96, 100, 109], strict=True))
    assert "holdout_batch_share" not in failed(first_time(holdout_batches=jittered))
    single = first_time(holdout_batches={"data/raw/2026-01-28.csv": 700})
    assert single.promoted
    check = next(c for c in single.checks if c.name == "holdout_batch_share")
    assert "comes from one batch" in check.detail
    just_over = {"a.csv": 51, "b.csv": 49}
    assert failed(first_time(holdout_batches=just_over)) == ["holdout_batch_share"]
    lenient = GATE.model_copy(update={"max_batch_share_of_holdout": 0.6})
    assert first_time(holdout_batches=just_over, gate=lenient).promoted


def test_guard_settings_are_validated():
    with pytest.raises(ValueError, match="scoring_rule"):
        Gate(scoring_rule="accuracy")
    with pytest.raises(ValueError, match="max_predicted_class_share"):
        Gate(max_predicted_class_share=0.4)
    with pytest.raises(ValueError, match="min_class_recall"):
        Gate(min_class_recall=1.0)
    with pytest.raises(ValueError, match="max_batch_share_of_holdout"):
        Gate(max_batch_share_of_holdout=0)
