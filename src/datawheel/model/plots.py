"""Curve data for DVC plots (CSV) and the same curves as PNGs with reproducible bytes.

`curve_data` is pure; `write_plots` and `segment_bar_png` are the only writers. The CSV
column names are what dvc.yaml `plots:` refers to: roc (fpr, tpr), precision_recall
(recall, precision), calibration (mean_predicted, fraction_positive), confusion (actual,
predicted). Matplotlib is imported inside the writers and draws on an Agg canvas bound to
its own Figure, so importing this module costs nothing and touches no global backend.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import precision_recall_curve, roc_curve

from datawheel.config.catalog import CONFUSION_PNG
from datawheel.io.files import atomic_write
from datawheel.model.metrics import encode_labels

CURVE_POINTS = 200
"""The most points kept of a ROC or precision-recall curve, so the CSVs stay small."""

CALIBRATION_BINS = 10

COLUMNS: dict[str, tuple[str, ...]] = {
    "roc": ("fpr", "tpr", "threshold"),
    "precision_recall": ("recall", "precision", "threshold"),
    "calibration": ("mean_predicted", "fraction_positive", "count"),
    "confusion": ("actual", "predicted"),
}

_AXIS_LABELS = {
    "fpr": "false positive rate",
    "tpr": "true positive rate",
    "recall": "recall",
    "precision": "precision",
    "mean_predicted": "mean predicted probability",
    "fraction_positive": "fraction positive",
}

# Pinned so two renders give the same bytes: no version or date in the PNG, fixed size.
_PNG_METADATA = {"Software": None}
_DPI = 100
_FIGSIZE = (6.0, 4.5)


def _thin(length: int, limit: int = CURVE_POINTS) -> np.ndarray:
    """At most `limit` evenly spaced indices out of `length`, always the first and last."""
    if length <= limit:
        return np.arange(length)
    return np.unique(np.linspace(0, length - 1, limit).round().astype(np.int64))


def _number(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _native(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _one_vs_rest(
    is_positive: np.ndarray, score: np.ndarray, extra: dict[str, Any]
) -> dict[str, list[dict]]:
    """ROC, precision-recall and calibration records for one positive class."""
    curves: dict[str, list[dict]] = {"roc": [], "precision_recall": [], "calibration": []}
    if is_positive.any() and not is_positive.all():
        # a curve needs both classes; with one, there is nothing meaningful to draw
        fpr, tpr, thresholds = roc_curve(is_positive, score)
        for i in _thin(len(fpr)):
            curves["roc"].append(
                {
                    **extra,
                    "fpr": float(fpr[i]),
                    "tpr": float(tpr[i]),
                    "threshold": _number(thresholds[i]),
                }
            )
        precision, recall, thresholds = precision_recall_curve(is_positive, score)
        for i in _thin(len(precision)):
            # the last point (recall 0, precision 1) has no threshold
            threshold = _number(thresholds[i]) if i < len(thresholds) else None
            curves["precision_recall"].append(
                {
                    **extra,
                    "recall": float(recall[i]),
                    "precision": float(precision[i]),
                    "threshold": threshold,
                }
            )
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    bins = np.searchsorted(edges[1:-1], score)  # the binning of sklearn's calibration_curve
    for b in range(CALIBRATION_BINS):
        in_bin = bins == b
        count = int(in_bin.sum())
        if count:
            curves["calibration"].append(
                {
                    **extra,
                    "mean_predicted": float(score[in_bin].mean()),
                    "fraction_positive": float(is_positive[in_bin].mean()),
                    "count": count,
                }
            )
    return curves


def curve_data(
    y_true: Sequence | np.ndarray, proba: np.ndarray, classes: Sequence
) -> dict[str, list[dict]]:
    """ROC, precision-recall, calibration and confusion records for DVC plots.

    Binary: curves for the positive class (classes[-1]). Multiclass: one curve per class,
    one-vs-rest, each record tagged with `class`. Confusion: one {actual, predicted} record
    per hold-out row, in hold-out order (the layout DVC's confusion template reads).
    A curve that needs both classes is empty when the hold-out lacks one.
    """
    codes = encode_labels(y_true, classes)
    proba = np.asarray(proba, dtype=np.float64)
    if proba.shape != (len(codes), len(classes)):
        raise ValueError(
            f"probabilities have shape {proba.shape}; expected ({len(codes)}, {len(classes)})"
        )
    curves: dict[str, list[dict]] = {"roc": [], "precision_recall": [], "calibration": []}
    positive_columns = [1] if len(classes) == 2 else range(len(classes))
    for column in positive_columns:
        extra = {} if len(classes) == 2 else {"class": _native(classes[column])}
        for name, records in _one_vs_rest(codes == column, proba[:, column], extra).items():
            curves[name].extend(records)
    labels = [_native(c) for c in classes]
    predicted = proba.argmax(axis=1)
    curves["confusion"] = [
        {"actual": labels[a], "predicted": labels[p]} for a, p in zip(codes, predicted, strict=True)
    ]
    return curves


def _columns_of(name: str, records: list[dict]) -> list[str]:
    columns = list(COLUMNS[name])
    if any("class" in record for record in records):
        columns.insert(0, "class")
    return columns


def _write_csv(path: Path, columns: list[str], records: list[dict]) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            for record in records:
                writer.writerow({column: record.get(column) for column in columns})

    atomic_write(path, write)


def _new_figure(figsize: tuple[float, float] = _FIGSIZE) -> Any:
    """A Figure drawn by its own Agg canvas: no pyplot, no global backend switch."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, dpi=_DPI)
    FigureCanvasAgg(figure)
    return figure


def _save_png(figure: Any, path: Path) -> None:
    figure.tight_layout()
    atomic_write(
        path,
        lambda tmp: figure.savefig(tmp, format="png", dpi=_DPI, metadata=_PNG_METADATA),
    )


def _groups(records: list[dict]) -> list[tuple[str | None, list[dict]]]:
    """Records split by their `class` field, in first-seen order (one group if none)."""
    groups: dict[Any, list[dict]] = {}
    for record in records:
        groups.setdefault(record.get("class"), []).append(record)
    return [(None if key is None else str(key), rows) for key, rows in groups.items()]


def _line_png(path: Path, records: list[dict], x: str, y: str, title: str, diagonal: bool) -> None:
    figure = _new_figure()
    axes = figure.add_subplot()
    if diagonal:
        axes.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    for label, rows in _groups(records):
        axes.plot(
            [r[x] for r in rows],
            [r[y] for r in rows],
            marker="o" if x == "mean_predicted" else None,
            label=f"class {label}" if label is not None else None,
        )
    if not records:
        axes.text(0.5, 0.5, "undefined: the hold-out has one class", ha="center", va="center")
    if any(label is not None for label, _ in _groups(records)):
        axes.legend(loc="best", fontsize="small")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.set_xlabel(_AXIS_LABELS[x])
    axes.set_ylabel(_AXIS_LABELS[y])
    axes.set_title(title)
    _save_png(figure, path)


def _sorted_labels(values: set) -> list:
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)


def _confusion_png(path: Path, records: list[dict]) -> None:
    labels = _sorted_labels({r["actual"] for r in records} | {r["predicted"] for r in records})
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for record in records:
        matrix[index[record["actual"]], index[record["predicted"]]] += 1
    figure = _new_figure((5.0, 4.5))
    axes = figure.add_subplot()
    image = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axes)
    threshold = matrix.max() / 2 if matrix.size else 0
    for (i, j), count in np.ndenumerate(matrix):
        colour = "white" if count > threshold else "black"
        axes.text(j, i, str(count), ha="center", va="center", color=colour)
    ticks = [str(label) for label in labels]
    axes.set_xticks(range(len(labels)), ticks)
    axes.set_yticks(range(len(labels)), ticks)
    axes.set_xlabel("predicted")
    axes.set_ylabel("actual")
    axes.set_title("Confusion matrix (hold-out)")
    _save_png(figure, path)


def write_plots(
    curves: dict[str, list[dict]], out_dir: str | Path, png_dir: str | Path | None = None
) -> list[Path]:
    """Write the four CSVs into out_dir and the four PNGs into png_dir (default out_dir)."""
    out_dir = Path(out_dir)
    png_dir = out_dir if png_dir is None else Path(png_dir)
    written = []
    for name in COLUMNS:
        records = curves.get(name, [])
        path = out_dir / f"{name}.csv"
        _write_csv(path, _columns_of(name, records), records)
        written.append(path)
    line_plots = {
        "roc": ("fpr", "tpr", "ROC (hold-out)", True),
        "precision_recall": ("recall", "precision", "Precision-recall (hold-out)", False),
        "calibration": ("mean_predicted", "fraction_positive", "Calibration (hold-out)", True),
    }
    for name, (x, y, title, diagonal) in line_plots.items():
        path = png_dir / f"{name}.png"
        _line_png(path, curves.get(name, []), x, y, title, diagonal)
        written.append(path)
    path = png_dir / CONFUSION_PNG
    _confusion_png(path, curves.get("confusion", []))
    written.append(path)
    return written


def segment_bar_png(
    segments: list[dict],
    metric: str,
    path: str | Path,
    champion_segments: list[dict] | None = None,
) -> Path:
    """Horizontal bars of `metric` per segment: the candidate, and the champion if given.

    `segments` and `champion_segments` are `evaluate.segment_metrics` outputs on the same
    hold-out; an undefined (NaN) value is drawn as an empty bar marked "n/a".
    """
    path = Path(path)
    names = [str(s["segment"]) for s in segments]
    series = [("candidate", {str(s["segment"]): s.get(metric) for s in segments})]
    if champion_segments is not None:
        series.append(("champion", {str(s["segment"]): s.get(metric) for s in champion_segments}))
    height = 0.8 / len(series)
    figure = _new_figure((6.0, max(2.5, 0.45 * len(names) * len(series) + 1.5)))
    axes = figure.add_subplot()
    positions = np.arange(len(names))
    for offset, (label, values) in enumerate(series):
        raw = [values.get(name) for name in names]
        defined = [v is not None and math.isfinite(float(v)) for v in raw]
        widths = [
            float(v) if ok and v is not None else 0.0 for v, ok in zip(raw, defined, strict=True)
        ]
        y = positions + (offset - (len(series) - 1) / 2) * height
        axes.barh(y, widths, height=height, label=label)
        for y_value, width, ok in zip(y, widths, defined, strict=True):
            text = f"{width:.3f}" if ok else "n/a"
            axes.text(width, y_value, f" {text}", va="center", fontsize="small")
    axes.set_yticks(positions, names)
    axes.invert_yaxis()
    axes.set_xlabel(metric.replace("_", " "))
    axes.set_ylabel("segment")
    axes.set_title(f"{metric} per segment (hold-out)")
    if len(series) > 1:
        axes.legend(loc="lower right", fontsize="small")
    _save_png(figure, path)
    return path


# --- regression --------------------------------------------------------------------------

REGRESSION_COLUMNS: dict[str, tuple[str, ...]] = {
    "predicted_vs_actual": ("actual", "predicted"),
    "residuals": ("predicted", "residual"),
}
"""The regression plots' CSV columns, which a regression project's dvc.yaml `plots:` names."""


def regression_curve_data(
    y_true: Sequence | np.ndarray, predicted: Sequence | np.ndarray
) -> dict[str, list[dict]]:
    """Predicted-vs-actual and residual (actual − predicted) records, one per hold-out row
    in hold-out order, as the confusion records are: DVC's scatter template reads them."""
    actual = np.asarray(y_true, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    if actual.shape != predicted.shape or actual.ndim != 1:
        raise ValueError(f"{predicted.shape} predictions for {actual.shape} targets")
    return {
        "predicted_vs_actual": [
            {"actual": float(a), "predicted": float(p)}
            for a, p in zip(actual, predicted, strict=True)
        ],
        "residuals": [
            {"predicted": float(p), "residual": float(a - p)}
            for a, p in zip(actual, predicted, strict=True)
        ],
    }


def _scatter_png(path: Path, records: list[dict], x: str, y: str, title: str) -> None:
    figure = _new_figure()
    axes = figure.add_subplot()
    xs, ys = [r[x] for r in records], [r[y] for r in records]
    axes.scatter(xs, ys, s=10, alpha=0.6)
    if records and y == "residual":
        axes.axhline(0.0, linestyle="--", color="grey", linewidth=1)
    elif records:  # the line of perfect predictions
        low, high = min(min(xs), min(ys)), max(max(xs), max(ys))
        axes.plot([low, high], [low, high], linestyle="--", color="grey", linewidth=1)
    axes.set_xlabel(x)
    axes.set_ylabel(y if y != "residual" else "residual (actual - predicted)")
    axes.set_title(title)
    _save_png(figure, path)


def check_declared_plots(dvc_yaml: str, task: str) -> None:
    """Refuse, naming the files, a dvc.yaml whose evaluate stage declares another task's
    plots: DVC would fail after the stage with "output ... does not exist" instead."""
    import yaml

    from datawheel.errors import ParamsError

    stage = (yaml.safe_load(dvc_yaml).get("stages") or {}).get("evaluate") or {}
    declared = {
        Path(str(name)).stem
        for entry in stage.get("plots") or []
        for name in (entry if isinstance(entry, dict) else [entry])
    }
    wanted = set(REGRESSION_COLUMNS if task == "regression" else COLUMNS)
    other = set(COLUMNS if task == "regression" else REGRESSION_COLUMNS)
    if declared & other or not wanted <= declared:
        raise ParamsError(
            f"dvc.yaml: the evaluate stage's plots: declare {sorted(declared)}, but "
            f"contract.task {task} writes {sorted(wanted)} (rule: plots_match_task); "
            f"`datawheel init --task {task}` writes that block (README, Regression)"
        )


def write_regression_plots(
    curves: dict[str, list[dict]], out_dir: str | Path, png_dir: str | Path | None = None
) -> list[Path]:
    """Write predicted_vs_actual.csv and residuals.csv into out_dir and their PNGs into
    png_dir (default out_dir): a regression run writes these instead of write_plots' four."""
    out_dir = Path(out_dir)
    png_dir = out_dir if png_dir is None else Path(png_dir)
    titles = {
        "predicted_vs_actual": "Predicted vs actual (hold-out)",
        "residuals": "Residuals (hold-out)",
    }
    written = []
    for name, columns in REGRESSION_COLUMNS.items():
        records = curves.get(name, [])
        path = out_dir / f"{name}.csv"
        _write_csv(path, list(columns), records)
        written.append(path)
        png = png_dir / f"{name}.png"
        _scatter_png(png, records, columns[0], columns[1], titles[name])
        written.append(png)
    return written
