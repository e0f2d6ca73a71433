"""Hold-out metrics, per-segment metrics, the naive baseline and the paired bootstrap.

Pure functions over arrays, nothing read from or written to disk. Classification: labels
and an (n, k) probability matrix whose columns follow `classes`; for a binary target the
caller orders `classes` so that the positive class is last (see
`datawheel.model.train.ordered_classes`). Regression: numeric targets and one prediction per row.
Each metric's direction is in the one table `datawheel.config.params.METRIC_SPECS`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    log_loss,
    precision_recall_fscore_support,
    roc_auc_score,
)

from datawheel.config.params import METRIC_SPECS, metrics_of
from datawheel.io.files import json_safe

METRICS = tuple(metrics_of("classification"))
REGRESSION_METRICS = tuple(metrics_of("regression"))

HIGHER_IS_BETTER: dict[str, bool] = {
    name: spec.higher_is_better for name, spec in METRIC_SPECS.items()
}

# Resamples are drawn and scored in blocks of about this many (resample, row) cells, which
# keeps memory flat (about 16 MB per working array) whatever the hold-out size.
_BLOCK_CELLS = 2_000_000


def encode_labels(y_true: Sequence | np.ndarray, classes: Sequence) -> np.ndarray:
    """Labels as codes 0..k-1 in `classes` order; a label outside `classes` is an error."""
    lookup = {str(c): i for i, c in enumerate(classes)}
    labels = pd.Series(np.asarray(y_true)).astype(str)
    codes = labels.map(lookup)
    if codes.isna().any():
        bad = sorted(set(labels[codes.isna()]))[:5]
        raise ValueError(f"label value(s) {bad} are not among the classes {list(classes)}")
    return codes.to_numpy(dtype=np.int64)


def _check_proba(proba: np.ndarray, rows: int, classes: Sequence) -> np.ndarray:
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or proba.shape != (rows, len(classes)):
        raise ValueError(
            f"probabilities have shape {proba.shape}; expected ({rows}, {len(classes)}): "
            "one row per label and one column per class"
        )
    if rows == 0:
        raise ValueError("cannot score an empty hold-out")
    return proba


def _binary_auc(is_positive: np.ndarray, score: np.ndarray) -> float:
    if is_positive.all() or not is_positive.any():
        return float("nan")
    return float(roc_auc_score(is_positive, score))


def classification_metrics(
    y_true: Sequence | np.ndarray, proba: np.ndarray, classes: Sequence
) -> dict[str, float]:
    """Accuracy, precision, recall, f1, ROC AUC, log loss and Brier score of one model.

    Binary: positive class = classes[-1]. Multiclass: macro precision/recall/f1 and
    one-vs-rest macro ROC AUC averaged over the classes present in these rows (a class with
    no hold-out row has no recall and no ROC AUC to average; counting it as 0 would make the
    baseline's recall 1/k), and the multi-class Brier score (sum over classes, mean over
    rows). So ROC AUC is defined whenever two classes are present; binary ROC AUC is NaN
    when the rows lack one. The predicted class is the column with the highest probability
    (the first one on a tie).
    """
    codes = encode_labels(y_true, classes)
    proba = _check_proba(proba, len(codes), classes)
    k = len(classes)
    predicted = proba.argmax(axis=1)
    onehot = np.eye(k)[codes]
    if k == 2:
        precision, recall, f1, _ = precision_recall_fscore_support(
            codes, predicted, labels=[0, 1], average=None, zero_division=0
        )
        precision, recall, f1 = precision[1], recall[1], f1[1]
        roc_auc = _binary_auc(codes == 1, proba[:, 1])
        brier = float(np.mean((proba[:, 1] - onehot[:, 1]) ** 2))
    else:
        present = [int(c) for c in np.unique(codes)]
        precision, recall, f1, _ = precision_recall_fscore_support(
            codes, predicted, labels=present, average="macro", zero_division=0
        )
        per_class = [_binary_auc(codes == c, proba[:, c]) for c in present]
        roc_auc = float(np.mean(per_class)) if len(present) > 1 else float("nan")
        brier = float(np.mean(np.sum((proba - onehot) ** 2, axis=1)))
    return {
        "accuracy": float(accuracy_score(codes, predicted)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "roc_auc": roc_auc,
        "log_loss": float(log_loss(codes, y_proba=proba, labels=list(range(k)))),
        "brier": brier,
    }


def class_profile(
    y_true: Sequence | np.ndarray, proba: np.ndarray, classes: Sequence
) -> list[dict[str, Any]]:
    """Per class, in `classes` order: hold-out rows, rows predicted as it, and its recall.

    The predicted class is the argmax, as in `classification_metrics`; recall is NaN for a
    class with no hold-out rows. This is what the gate's collapse guard reads.
    """
    codes = encode_labels(y_true, classes)
    proba = _check_proba(proba, len(codes), classes)
    k = len(classes)
    predicted = proba.argmax(axis=1)
    actual = np.bincount(codes, minlength=k)
    predicted_as = np.bincount(predicted, minlength=k)
    correct = np.bincount(codes[predicted == codes], minlength=k)
    return [
        {
            "class": str(classes[c]),
            "rows": int(actual[c]),
            "predicted": int(predicted_as[c]),
            "recall": float(correct[c] / actual[c]) if actual[c] else float("nan"),
        }
        for c in range(k)
    ]


def segment_metrics(
    y_true: Sequence | np.ndarray,
    proba: np.ndarray,
    segments: Sequence | np.ndarray,
    classes: Sequence,
    metrics: Sequence[str] = ("roc_auc", "accuracy", "log_loss", "brier"),
) -> list[dict[str, Any]]:
    """Metrics per segment value, sorted by segment name.

    Each entry: segment (as text; a missing value is "(missing)"), rows, then `positives`
    for a binary target or `class_counts` for a multiclass one, then the metric values.
    """
    unknown = sorted(set(metrics) - set(METRICS))
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; choose from {list(METRICS)}")
    codes = encode_labels(y_true, classes)
    proba = _check_proba(proba, len(codes), classes)
    series = pd.Series(np.asarray(segments, dtype=object))
    if len(series) != len(codes):
        raise ValueError(f"{len(series)} segment values for {len(codes)} hold-out rows")
    names = series.astype(str).where(series.notna(), "(missing)").to_numpy()
    results = []
    for name in sorted(set(names)):
        mask = names == name
        entry: dict[str, Any] = {"segment": str(name), "rows": int(mask.sum())}
        counts = np.bincount(codes[mask], minlength=len(classes))
        if len(classes) == 2:
            entry["positives"] = int(counts[1])
        else:
            entry["class_counts"] = {str(c): int(n) for c, n in zip(classes, counts, strict=True)}
        values = classification_metrics(codes[mask], proba[mask], range(len(classes)))
        entry.update({metric: values[metric] for metric in metrics})
        results.append(entry)
    return results


def prior_proba(y_train: Sequence | np.ndarray, classes: Sequence, n: int) -> np.ndarray:
    """The naive baseline: the training class frequencies as the prediction for n rows."""
    codes = encode_labels(y_train, classes)
    if len(codes) == 0:
        raise ValueError("cannot build a baseline from an empty training set")
    frequencies = np.bincount(codes, minlength=len(classes)) / len(codes)
    return np.tile(frequencies, (n, 1))


# --- regression ---------------------------------------------------------------------


def _check_values(values: Sequence | np.ndarray, what: str, rows: int | None = None) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or (rows is not None and len(array) != rows):
        raise ValueError(f"{what} have shape {array.shape}; expected ({rows},): one per row")
    if len(array) == 0:
        raise ValueError("cannot score an empty hold-out")
    if not np.isfinite(array).all():
        raise ValueError(f"{what} hold a missing or infinite value")
    return array


def regression_metrics(
    y_true: Sequence | np.ndarray, predicted: Sequence | np.ndarray
) -> dict[str, float]:
    """MAE, RMSE and R² of one model's predictions.

    R² is 1 − SSE/SST, NaN when the targets are all equal (SST = 0: nothing to explain),
    as in the bootstrap; scikit-learn would report 0 or 1 there instead.
    """
    y = _check_values(y_true, "targets")
    error = _check_values(predicted, "predictions", len(y)) - y
    spread = float(np.mean((y - y.mean()) ** 2))
    mse = float(np.mean(error**2))
    return {
        "mae": float(np.mean(np.abs(error))),
        "rmse": math.sqrt(mse),
        "r2": 1.0 - mse / spread if spread > 0 else float("nan"),
    }


def naive_regression_metrics(
    y_true: Sequence | np.ndarray, y_train: Sequence | np.ndarray
) -> dict[str, float]:
    """The naive baseline for each error: the training median for MAE (the constant with
    the least absolute error), the training mean for RMSE and R² (least squared error)."""
    train = _check_values(y_train, "training targets")
    y = _check_values(y_true, "targets")
    median = np.full(len(y), float(np.median(train)))
    mean = np.full(len(y), float(np.mean(train)))
    by_mean = regression_metrics(y, mean)
    return {
        "mae": regression_metrics(y, median)["mae"],
        "rmse": by_mean["rmse"],
        "r2": by_mean["r2"],
    }


def regression_segment_metrics(
    y_true: Sequence | np.ndarray,
    predicted: Sequence | np.ndarray,
    segments: Sequence | np.ndarray,
    metrics: Sequence[str] = REGRESSION_METRICS,
) -> list[dict[str, Any]]:
    """Regression metrics per segment value, sorted by segment name: segment (as text; a
    missing value is "(missing)"), rows, the mean target, then the metric values."""
    unknown = sorted(set(metrics) - set(REGRESSION_METRICS))
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; choose from {list(REGRESSION_METRICS)}")
    y = _check_values(y_true, "targets")
    predicted = _check_values(predicted, "predictions", len(y))
    series = pd.Series(np.asarray(segments, dtype=object))
    if len(series) != len(y):
        raise ValueError(f"{len(series)} segment values for {len(y)} hold-out rows")
    names = series.astype(str).where(series.notna(), "(missing)").to_numpy()
    results = []
    for name in sorted(set(names)):
        mask = names == name
        values = regression_metrics(y[mask], predicted[mask])
        entry: dict[str, Any] = {
            "segment": str(name),
            "rows": int(mask.sum()),
            "target_mean": float(y[mask].mean()),
        }
        entry.update({metric: values[metric] for metric in metrics})
        results.append(entry)
    return results


def _resampled_regression(
    y: np.ndarray, predicted: np.ndarray, metric: str
) -> Callable[[np.ndarray], np.ndarray]:
    """A regression metric per resample, from a (resamples, m) matrix of row indices."""
    error = predicted - y
    if metric == "mae":
        absolute = np.abs(error)
        return lambda rows: absolute[rows].mean(axis=1)
    squared = error**2
    if metric == "rmse":
        return lambda rows: np.sqrt(squared[rows].mean(axis=1))

    def r2(rows: np.ndarray) -> np.ndarray:
        drawn = y[rows]
        spread = drawn.var(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = 1.0 - squared[rows].mean(axis=1) / spread
        value[spread <= 0] = np.nan
        return value

    return r2


# --- metrics over resamples: the engine of the bootstrap -------------------------------
#
# A block of resamples is a (resamples, m) matrix of hold-out row indices. Every metric
# here is a mean of a per-row value or a function of counts per row category (confusion
# cell; score block and class), so a whole block is scored per model with one gather and
# one mean or bincount, instead of one sklearn call per resample. The results equal
# classification_metrics on y[rows], proba[rows] (tested).


def _counts_per_resample(row_keys: np.ndarray, rows: np.ndarray, bins: int) -> np.ndarray:
    """(resamples, bins) integer counts of each key among the rows of each resample."""
    keys = row_keys[rows]
    keys += np.arange(len(rows), dtype=keys.dtype)[:, None] * bins
    counts = np.bincount(keys.ravel(), minlength=len(rows) * bins)
    return counts.reshape(len(rows), bins)


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (sklearn's zero_division=0)."""
    out = np.zeros_like(numerator, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _resampled_auc(is_positive: np.ndarray, score: np.ndarray) -> Callable:
    """ROC AUC of each resample by the rank (Mann-Whitney) formula, without sorting it.

    AUC = P(score of a positive > score of a negative) + 0.5 P(equal). The hold-out is
    sorted by score once and split into blocks of tied scores; a resample is then just
    the count of positives and negatives it drew in each block, and a cumulative sum over
    the blocks gives, for each positive, the negatives ranked below it.
    """
    order = np.argsort(score, kind="stable")
    sorted_score = score[order]
    block_of_sorted = np.cumsum(np.r_[False, sorted_score[1:] != sorted_score[:-1]])
    blocks = int(block_of_sorted[-1]) + 1
    block = np.empty(len(score), dtype=np.int64)
    block[order] = block_of_sorted
    # negatives count in bins 0..blocks-1, positives in blocks..2*blocks-1
    row_keys = is_positive.astype(np.int64) * blocks + block

    def compute(rows: np.ndarray) -> np.ndarray:
        counts = _counts_per_resample(row_keys, rows, 2 * blocks).reshape(len(rows), 2, blocks)
        negatives, positives = counts[:, 0], counts[:, 1]
        # twice (negatives strictly below + half the tied ones): exact integer arithmetic
        below_twice = 2 * np.cumsum(negatives, axis=1) - negatives
        wins_twice = np.einsum("ij,ij->i", positives, below_twice)
        n_pos = positives.sum(axis=1)
        n_neg = negatives.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            auc = wins_twice / (2.0 * n_pos * n_neg)
        auc[(n_pos == 0) | (n_neg == 0)] = np.nan
        return auc

    return compute


def _resampled_scorer(
    codes: np.ndarray, proba: np.ndarray, metric: str
) -> Callable[[np.ndarray], np.ndarray]:
    """A function from a (resamples, m) matrix of row indices to the metric per resample."""
    k = proba.shape[1]
    predicted = proba.argmax(axis=1)

    def mean_of(per_row: np.ndarray) -> Callable:
        return lambda rows: per_row[rows].mean(axis=1)

    if metric == "accuracy":
        return mean_of((predicted == codes).astype(np.float64))
    if metric == "log_loss":
        eps = np.finfo(np.float64).eps  # the clipping sklearn's log_loss applies
        picked = np.clip(proba, eps, 1 - eps)[np.arange(len(codes)), codes]
        return mean_of(-np.log(picked))
    if metric == "brier":
        onehot = np.eye(k)[codes]
        if k == 2:
            return mean_of((proba[:, 1] - onehot[:, 1]) ** 2)
        return mean_of(np.sum((proba - onehot) ** 2, axis=1))
    if metric in ("precision", "recall", "f1"):
        return _resampled_prf(codes, predicted, k, metric)
    if metric == "roc_auc":
        return _resampled_roc_auc(codes, proba)
    raise ValueError(f"unknown metric {metric!r}; choose from {list(METRICS)}")


def _resampled_prf(
    codes: np.ndarray, predicted: np.ndarray, k: int, metric: str
) -> Callable[[np.ndarray], np.ndarray]:
    """Precision, recall or F1 per resample, from each resample's confusion matrix."""
    cell = codes * k + predicted  # the confusion-matrix cell of each row

    def prf(rows: np.ndarray) -> np.ndarray:
        confusion = _counts_per_resample(cell, rows, k * k).reshape(len(rows), k, k)
        true_positives = np.diagonal(confusion, axis1=1, axis2=2)
        actual = confusion.sum(axis=2)
        predicted_as = confusion.sum(axis=1)
        if metric == "precision":
            value = _safe_divide(true_positives, predicted_as)
        elif metric == "recall":
            value = _safe_divide(true_positives, actual)
        else:
            value = _safe_divide(2 * true_positives, actual + predicted_as)
        if k == 2:
            return value[:, 1]
        # macro over the classes each resample holds, as the point metric averages
        present = actual > 0
        return np.where(present, value, 0.0).sum(axis=1) / present.sum(axis=1)

    return prf


def _resampled_roc_auc(codes: np.ndarray, proba: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """ROC AUC per resample: binary, or the macro mean over the classes a resample holds."""
    k = proba.shape[1]
    if k == 2:
        return _resampled_auc(codes == 1, proba[:, 1])
    per_class = [_resampled_auc(codes == c, proba[:, c]) for c in range(k)]

    def macro_auc(rows: np.ndarray) -> np.ndarray:
        # a class the resample lacks has no AUC (NaN): the mean is over the classes it
        # holds, as in the point metric, and NaN only when it holds fewer than two
        aucs = np.vstack([auc(rows) for auc in per_class])
        held = np.isfinite(aucs)
        total = np.where(held, aucs, 0.0).sum(axis=0)
        count = held.sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(count > 0, total / count, np.nan)

    return macro_auc


def metric_on_resamples(
    y_true: Sequence | np.ndarray,
    proba: np.ndarray,
    classes: Sequence,
    metric: str,
    rows: np.ndarray,
) -> np.ndarray:
    """The metric on each resample, given as a (resamples, m) matrix of hold-out row indices.

    Resample b scores y_true[rows[b]] against proba[rows[b]], exactly as
    `classification_metrics` would; NaN where the metric is undefined for it.
    """
    codes = encode_labels(y_true, classes)
    proba = _check_proba(proba, len(codes), classes)
    rows = np.atleast_2d(np.asarray(rows, dtype=np.int64))
    return _resampled_scorer(codes, proba, metric)(rows)


@dataclass(frozen=True)
class BootstrapResult:
    """Paired bootstrap of a metric difference between two models on the same hold-out.

    `delta` is oriented so that positive always means the candidate is better: candidate −
    champion for higher-is-better metrics, champion − candidate for losses (log_loss,
    brier). `ci_low`/`ci_high` are the percentile interval of that delta over the
    `samples` resamples where the metric was defined (out of `samples_requested`).
    """

    metric: str
    candidate: float
    champion: float
    delta: float
    ci_low: float
    ci_high: float
    samples: int
    confidence: float
    samples_requested: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return json_safe(asdict(self))


def _check_bootstrap_settings(metric: str, samples: int, confidence: float) -> None:
    if metric not in HIGHER_IS_BETTER:
        raise ValueError(f"unknown metric {metric!r}; choose from {list(HIGHER_IS_BETTER)}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")


def paired_bootstrap(
    y_true: Sequence | np.ndarray,
    proba_candidate: np.ndarray,
    proba_champion: np.ndarray,
    metric: str,
    classes: Sequence,
    samples: int,
    seed: int,
    confidence: float,
) -> BootstrapResult:
    """Percentile CI of the metric delta, both models scored on the same resampled rows.

    Pairing removes the hold-out's own sampling noise that both models share, so the
    interval reflects only how differently they rank the same rows. Resamples in which
    the metric is undefined (e.g. one class only, for ROC AUC) are skipped and counted.
    """
    if metric in REGRESSION_METRICS:
        raise ValueError(f"{metric} is a regression metric; use paired_bootstrap_regression")
    _check_bootstrap_settings(metric, samples, confidence)
    codes = encode_labels(y_true, classes)
    rows = len(codes)
    candidate = _resampled_scorer(codes, _check_proba(proba_candidate, rows, classes), metric)
    champion = _resampled_scorer(codes, _check_proba(proba_champion, rows, classes), metric)
    return _paired(candidate, champion, rows, metric, samples, seed, confidence)


def paired_bootstrap_regression(
    y_true: Sequence | np.ndarray,
    predicted_candidate: Sequence | np.ndarray,
    predicted_champion: Sequence | np.ndarray,
    metric: str,
    samples: int,
    seed: int,
    confidence: float,
) -> BootstrapResult:
    """The paired bootstrap of `paired_bootstrap` for a regression metric (mae, rmse, r2):
    the same resampled rows score both models' predictions; for an error the delta is
    champion − candidate, so positive still means the candidate is better."""
    if metric not in REGRESSION_METRICS:
        raise ValueError(f"{metric!r} is not a regression metric {list(REGRESSION_METRICS)}")
    _check_bootstrap_settings(metric, samples, confidence)
    y = _check_values(y_true, "targets")
    candidate = _resampled_regression(
        y, _check_values(predicted_candidate, "predictions", len(y)), metric
    )
    champion = _resampled_regression(
        y, _check_values(predicted_champion, "predictions", len(y)), metric
    )
    return _paired(candidate, champion, len(y), metric, samples, seed, confidence)


def _paired(
    candidate: Callable[[np.ndarray], np.ndarray],
    champion: Callable[[np.ndarray], np.ndarray],
    rows: int,
    metric: str,
    samples: int,
    seed: int,
    confidence: float,
) -> BootstrapResult:
    """The bootstrap itself, given each model's scorer of a (resamples, m) row matrix."""
    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0

    everything = np.arange(rows)[None, :]
    candidate_value = float(candidate(everything)[0])
    champion_value = float(champion(everything)[0])

    rng = np.random.default_rng(seed)
    block = max(1, _BLOCK_CELLS // rows)
    deltas = []
    for start in range(0, samples, block):
        # the same drawn rows score both models: that is what makes the bootstrap paired
        drawn = rng.integers(0, rows, size=(min(block, samples - start), rows))
        deltas.append(sign * (candidate(drawn) - champion(drawn)))
    delta_draws = np.concatenate(deltas)
    delta_draws = delta_draws[np.isfinite(delta_draws)]
    alpha = 1.0 - confidence
    if len(delta_draws):
        ci_low, ci_high = np.quantile(delta_draws, [alpha / 2, 1 - alpha / 2])
    else:
        ci_low = ci_high = float("nan")
    return BootstrapResult(
        metric=metric,
        candidate=candidate_value,
        champion=champion_value,
        delta=sign * (candidate_value - champion_value),
        ci_low=float(ci_low),
        ci_high=float(ci_high),
        samples=int(len(delta_draws)),
        confidence=float(confidence),
        samples_requested=int(samples),
        seed=int(seed),
    )


def holdout_identity(
    row_ids: Sequence | np.ndarray | pd.Series,
    labels: Sequence | np.ndarray | pd.Series,
    times: Sequence | np.ndarray | pd.Series,
) -> dict[str, Any]:
    """Which hold-out was scored: its size, event-time dates and a fingerprint of its rows.

    The fingerprint is 12 hex characters of sha256 over the sorted "row id, label" pairs:
    the same rows with the same labels give the same value in any order, on any machine;
    one row more, less or relabelled gives another. `dvc metrics diff` shows it changing.
    """
    ids = pd.Series(np.asarray(row_ids, dtype=object)).astype(str).to_numpy()
    targets = pd.Series(np.asarray(labels, dtype=object)).astype(str).to_numpy()
    if len(ids) != len(targets) or len(ids) != len(times):
        raise ValueError(f"{len(ids)} row ids, {len(targets)} labels and {len(times)} times")
    if len(ids) == 0:
        raise ValueError("cannot identify an empty hold-out")
    pairs = sorted(zip(ids, targets, strict=True))
    digest = hashlib.sha256("".join(f"{i}\t{t}\n" for i, t in pairs).encode("utf-8"))
    stamps = pd.to_datetime(pd.Series(times))
    return {
        "rows": len(ids),
        "start": stamps.min().date().isoformat(),
        "end": stamps.max().date().isoformat(),
        "fingerprint": digest.hexdigest()[:12],
    }
