"""Metrics against hand-computed cases and sklearn; the resampled engine; the bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import (
    brier_score_loss,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from datawheel.model.metrics import (
    HIGHER_IS_BETTER,
    METRICS,
    class_profile,
    classification_metrics,
    encode_labels,
    metric_on_resamples,
    paired_bootstrap,
    prior_proba,
    segment_metrics,
)


def binary_proba(score: np.ndarray) -> np.ndarray:
    return np.column_stack([1 - score, score])


def random_binary(rows: int, seed: int, separation: float = 1.0, ties: bool = False):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, rows)
    score = 1 / (1 + np.exp(-(separation * (y - 0.5) * 2 + rng.normal(0, 1, rows))))
    if ties:
        score = score.round(2)
    return y, binary_proba(score)


def random_multiclass(rows: int, classes: int, seed: int):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, rows)
    logits = rng.normal(0, 1, (rows, classes))
    logits[np.arange(rows), y] += 1.0
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, proba


def test_binary_metrics_match_a_hand_computed_case():
    y = [0, 0, 1, 1]
    proba = binary_proba(np.array([0.1, 0.6, 0.4, 0.9]))
    metrics = classification_metrics(y, proba, [0, 1])
    # predicted 0,1,0,1: one true positive, one false positive, one false negative
    assert metrics["accuracy"] == pytest.approx(0.5)
    assert metrics["precision"] == pytest.approx(0.5)
    assert metrics["recall"] == pytest.approx(0.5)
    assert metrics["f1"] == pytest.approx(0.5)
    # positive scores 0.4, 0.9 against negatives 0.1, 0.6: 3 of 4 pairs ordered right
    assert metrics["roc_auc"] == pytest.approx(0.75)
    assert metrics["brier"] == pytest.approx((0.01 + 0.36 + 0.36 + 0.01) / 4)
    assert metrics["log_loss"] == pytest.approx(-(math.log(0.9) + math.log(0.4)) / 2)
    assert set(metrics) == set(METRICS) == set(HIGHER_IS_BETTER) - {"mae", "rmse", "r2"}


def test_binary_metrics_match_sklearn_on_random_data():
    y, proba = random_binary(500, seed=3)
    metrics = classification_metrics(y, proba, [0, 1])
    predicted = (proba[:, 1] > 0.5).astype(int)
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(y, proba[:, 1]), abs=1e-12)
    assert metrics["log_loss"] == pytest.approx(log_loss(y, y_proba=proba), abs=1e-12)
    assert metrics["brier"] == pytest.approx(brier_score_loss(y, proba[:, 1]), abs=1e-12)
    assert metrics["precision"] == pytest.approx(precision_score(y, predicted))
    assert metrics["recall"] == pytest.approx(recall_score(y, predicted))
    assert metrics["f1"] == pytest.approx(f1_score(y, predicted))


def test_positive_class_is_the_last_class_whatever_its_label():
    # class 0 is the positive one here: ordered last, so the second column is P(y == 0)
    proba = binary_proba(np.array([0.1, 0.6, 0.4, 0.9]))
    flipped = classification_metrics([1, 1, 0, 0], proba, [1, 0])
    reference = classification_metrics([0, 0, 1, 1], proba, [0, 1])
    assert flipped == pytest.approx(reference)
    named = classification_metrics(["stay", "stay", "churn", "churn"], proba, ["stay", "churn"])
    assert named == pytest.approx(reference)


def test_multiclass_metrics_match_sklearn_and_a_hand_computed_brier():
    y, proba = random_multiclass(400, 3, seed=5)
    metrics = classification_metrics(y, proba, [0, 1, 2])
    predicted = proba.argmax(axis=1)
    expected_auc = roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=[0, 1, 2])
    assert metrics["roc_auc"] == pytest.approx(expected_auc, abs=1e-12)
    assert metrics["f1"] == pytest.approx(f1_score(y, predicted, average="macro"))
    assert metrics["precision"] == pytest.approx(precision_score(y, predicted, average="macro"))
    assert metrics["recall"] == pytest.approx(recall_score(y, predicted, average="macro"))
    assert metrics["log_loss"] == pytest.approx(log_loss(y, y_proba=proba, labels=[0, 1, 2]))

    single = classification_metrics([0], np.array([[0.7, 0.2, 0.1]]), [0, 1, 2])
    assert single["brier"] == pytest.approx(0.09 + 0.04 + 0.01)


def test_missing_class_gives_nan_auc_not_a_crash():
    proba = binary_proba(np.array([0.2, 0.7, 0.4]))
    metrics = classification_metrics([0, 0, 0], proba, [0, 1])
    assert math.isnan(metrics["roc_auc"])
    assert math.isfinite(metrics["log_loss"])
    assert metrics["accuracy"] == pytest.approx(2 / 3)
    assert metrics["precision"] == 0.0


def test_multiclass_metrics_average_over_the_classes_present():
    """A hold-out without class 2 of [0, 1, 2]: macro metrics over classes 0 and 1 (sklearn
    with labels=[0, 1]), so ROC AUC is defined and an absent class does not count as 0."""
    y, proba = random_multiclass(300, 3, seed=1)
    keep = y != 2
    y, proba = y[keep], proba[keep]
    metrics = classification_metrics(y, proba, [0, 1, 2])
    predicted = proba.argmax(axis=1)
    expected_auc = np.mean([roc_auc_score(y == c, proba[:, c]) for c in (0, 1)])
    assert metrics["roc_auc"] == pytest.approx(expected_auc, abs=1e-12)
    for name, score in (("precision", precision_score), ("recall", recall_score)):
        expected = score(y, predicted, labels=[0, 1], average="macro", zero_division=0)
        assert metrics[name] == pytest.approx(expected)
    assert math.isfinite(metrics["log_loss"])

    prior = np.tile([0.5, 0.3, 0.2], (len(y), 1))  # always predicts class 0
    assert classification_metrics(y, prior, [0, 1, 2])["recall"] == pytest.approx(1 / 2)

    only = classification_metrics([1, 1], np.array([[0.1, 0.8, 0.1], [0.2, 0.5, 0.3]]), [0, 1, 2])
    assert math.isnan(only["roc_auc"]) and only["recall"] == 1.0


def test_bad_labels_and_shapes_are_clear_errors():
    with pytest.raises(ValueError, match="not among the classes"):
        classification_metrics([0, 7], binary_proba(np.array([0.1, 0.2])), [0, 1])
    with pytest.raises(ValueError, match="expected \\(2, 2\\)"):
        classification_metrics([0, 1], np.array([0.1, 0.2]), [0, 1])
    with pytest.raises(ValueError, match="empty"):
        classification_metrics([], np.zeros((0, 2)), [0, 1])


def test_encode_labels_follows_class_order():
    assert encode_labels(["b", "a", "b"], ["b", "a"]).tolist() == [0, 1, 0]


def test_segment_metrics_per_segment_sorted_with_counts():
    y, proba = random_binary(300, seed=2)
    segments = np.array(["west", "east", "north"] * 100, dtype=object)
    segments[0] = None
    result = segment_metrics(y, proba, segments, [0, 1])
    names = [entry["segment"] for entry in result]
    assert names == sorted(names) == ["(missing)", "east", "north", "west"]
    assert sum(entry["rows"] for entry in result) == 300
    east = result[1]
    mask = segments == "east"
    assert east["rows"] == mask.sum()
    assert east["positives"] == int(y[mask].sum())
    expected = classification_metrics(y[mask], proba[mask], [0, 1])
    for metric in ("roc_auc", "accuracy", "log_loss", "brier"):
        assert east[metric] == pytest.approx(expected[metric])
    assert "f1" not in east


def test_segment_metrics_multiclass_counts_each_class():
    y, proba = random_multiclass(90, 3, seed=4)
    result = segment_metrics(y, proba, np.repeat(["a", "b", "c"], 30), [0, 1, 2], ("f1",))
    assert [set(entry) for entry in result] == [{"segment", "rows", "class_counts", "f1"}] * 3
    assert result[0]["class_counts"] == {str(c): int((y[:30] == c).sum()) for c in range(3)}


def test_class_profile_counts_rows_predictions_and_recall_per_class():
    y = np.array(["a", "a", "b", "b", "b", "c"])
    proba = np.array(
        [[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.1, 0.8, 0.1], [0.6, 0.3, 0.1],
         [0.1, 0.8, 0.1]]
    )  # fmt: skip
    assert class_profile(y, proba, ["a", "b", "c"]) == [
        {"class": "a", "rows": 2, "predicted": 2, "recall": 0.5},
        {"class": "b", "rows": 3, "predicted": 4, "recall": pytest.approx(2 / 3)},
        {"class": "c", "rows": 1, "predicted": 0, "recall": 0.0},
    ]
    missing = class_profile(["0", "0"], binary_proba(np.array([0.2, 0.9])), ["0", "1"])
    assert missing[1]["rows"] == 0 and missing[1]["predicted"] == 1
    assert math.isnan(missing[1]["recall"])
    # the prior never predicts the minority class: the collapse the gate guards against
    prior = class_profile(["0", "0", "1"], prior_proba(["0", "0", "1"], ["0", "1"], 3), ["0", "1"])
    assert [c["predicted"] for c in prior] == [3, 0] and prior[1]["recall"] == 0.0


def test_prior_proba_is_the_training_class_frequency():
    proba = prior_proba([0, 0, 0, 1], [0, 1], 5)
    assert proba.shape == (5, 2)
    np.testing.assert_allclose(proba, [[0.75, 0.25]] * 5)
    metrics = classification_metrics([0, 1, 0, 1, 0], proba, [0, 1])
    assert metrics["roc_auc"] == pytest.approx(0.5)
    assert metrics["accuracy"] == pytest.approx(0.6)


@pytest.mark.parametrize("ties", [False, True])
def test_resampled_auc_equals_sklearn(ties):
    y, proba = random_binary(2000, seed=11, ties=ties)
    rng = np.random.default_rng(0)
    rows = rng.integers(0, len(y), size=(20, len(y)))
    fast = metric_on_resamples(y, proba, [0, 1], "roc_auc", rows)
    for b in range(len(rows)):
        assert fast[b] == pytest.approx(roc_auc_score(y[rows[b]], proba[rows[b], 1]), abs=1e-12)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("classes", [2, 3])
def test_resampled_metrics_equal_classification_metrics(metric, classes):
    if classes == 2:
        y, proba = random_binary(150, seed=7, ties=True)
    else:
        y, proba = random_multiclass(150, 3, seed=7)
    labels = list(range(classes))
    rng = np.random.default_rng(1)
    rows = rng.integers(0, len(y), size=(5, len(y)))
    rows[0] = np.arange(len(y))
    values = metric_on_resamples(y, proba, labels, metric, rows)
    for b in range(len(rows)):
        expected = classification_metrics(y[rows[b]], proba[rows[b]], labels)[metric]
        assert values[b] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("metric", METRICS)
def test_resampled_metrics_average_over_the_classes_each_resample_holds(metric):
    # five listed classes, one never in the hold-out and one with a single row: most
    # resamples lack a class, and each must still equal the point metric on its own rows
    rng = np.random.default_rng(3)
    y = rng.choice([0, 1, 2], size=120)
    y[7] = 3
    proba = rng.dirichlet(np.ones(5), size=len(y))
    labels = list(range(5))
    rows = rng.integers(0, len(y), size=(30, len(y)))
    values = metric_on_resamples(y, proba, labels, metric, rows)
    lacking = 0
    for b in range(len(rows)):
        lacking += 3 not in y[rows[b]]
        expected = classification_metrics(y[rows[b]], proba[rows[b]], labels)[metric]
        assert values[b] == pytest.approx(expected, abs=1e-12)
    assert np.isfinite(values).all() and lacking > 0


def test_bootstrap_of_macro_auc_is_defined_when_the_holdout_lacks_classes():
    rng = np.random.default_rng(5)
    y = rng.choice([0, 1, 4], size=90)
    candidate = rng.dirichlet(np.ones(5), size=len(y))
    champion = rng.dirichlet(np.ones(5), size=len(y))
    result = paired_bootstrap(y, candidate, champion, "roc_auc", range(5), 200, 0, 0.95)
    assert result.samples == 200
    assert result.ci_low <= result.delta <= result.ci_high


def test_resampled_auc_is_nan_when_a_resample_has_one_class():
    y = np.array([0, 1, 0, 1])
    proba = binary_proba(np.array([0.1, 0.8, 0.3, 0.6]))
    values = metric_on_resamples(y, proba, [0, 1], "roc_auc", [[0, 2, 0, 2], [0, 1, 2, 3]])
    assert math.isnan(values[0])
    assert values[1] == pytest.approx(1.0)


def bootstrap(y, candidate, champion, metric="roc_auc", seed=0, samples=500):
    return paired_bootstrap(y, candidate, champion, metric, [0, 1], samples, seed, 0.95)


def test_bootstrap_is_deterministic_for_a_seed():
    y, candidate = random_binary(400, seed=1, separation=1.0)
    _, champion = random_binary(400, seed=2, separation=0.8)
    first = bootstrap(y, candidate, champion, seed=5)
    assert bootstrap(y, candidate, champion, seed=5) == first
    assert bootstrap(y, candidate, champion, seed=6).ci_low != first.ci_low


def test_bootstrap_ci_covers_the_true_delta_of_a_clearly_better_model():
    rng = np.random.default_rng(42)
    rows = 3000
    y = rng.integers(0, 2, rows)
    # score = class shift + N(0, 1) noise: population AUC = Phi(shift / sqrt(2))
    strong, weak = 1.5, 0.5
    candidate = 1 / (1 + np.exp(-(strong * y + rng.normal(0, 1, rows))))
    champion = 1 / (1 + np.exp(-(weak * y + rng.normal(0, 1, rows))))
    true_delta = norm.cdf(strong / math.sqrt(2)) - norm.cdf(weak / math.sqrt(2))
    result = bootstrap(y, binary_proba(candidate), binary_proba(champion), samples=1000)
    assert result.ci_low > 0
    assert result.ci_low <= true_delta <= result.ci_high
    assert result.ci_low <= result.delta <= result.ci_high
    assert result.candidate == pytest.approx(roc_auc_score(y, candidate))
    assert result.champion == pytest.approx(roc_auc_score(y, champion))
    assert result.samples == result.samples_requested == 1000


def test_bootstrap_of_identical_models_contains_zero():
    y, proba = random_binary(300, seed=9)
    result = bootstrap(y, proba, proba)
    assert result.delta == 0
    assert result.ci_low <= 0 <= result.ci_high


def test_bootstrap_delta_is_positive_when_a_loss_improves():
    y, candidate = random_binary(500, seed=4, separation=1.5)
    worse = binary_proba(np.clip(candidate[:, 1] * 0.5 + 0.25, 0, 1))
    result = bootstrap(y, candidate, worse, metric="log_loss")
    assert result.candidate < result.champion
    assert result.delta == pytest.approx(result.champion - result.candidate)
    assert result.delta > 0


def test_bootstrap_skips_resamples_where_the_metric_is_undefined():
    y = np.array([1] + [0] * 9)
    proba = binary_proba(np.linspace(0.1, 0.9, 10))
    result = bootstrap(y, proba, proba[::-1], samples=400)
    # a resample misses the single positive with probability 0.9**10 ~ 35%
    assert 0 < result.samples < result.samples_requested == 400

    none = bootstrap(np.zeros(10, dtype=int), proba, proba[::-1], samples=100)
    assert none.samples == 0
    assert math.isnan(none.ci_low)
    assert none.to_dict()["ci_low"] is None


def test_bootstrap_runs_on_multiclass():
    y, proba = random_multiclass(300, 3, seed=8)
    rng = np.random.default_rng(0)
    noisy = proba + rng.uniform(0, 0.5, proba.shape)
    noisy /= noisy.sum(axis=1, keepdims=True)
    result = paired_bootstrap(y, proba, noisy, "roc_auc", [0, 1, 2], 200, 0, 0.9)
    assert result.ci_low > 0
    assert result.confidence == 0.9


def test_bootstrap_rejects_an_unknown_metric():
    y, proba = random_binary(20, seed=0)
    with pytest.raises(ValueError, match="unknown metric"):
        bootstrap(y, proba, proba, metric="auc")
