"""Distribution shift between two populations of rows, with effect sizes that hold at scale.

Used by `diff` and `report` (BASE's reference rows against the rows a change adds) and by
`datawheel drift` (the newest batches against the reference `drift.reference` names: the
champion's training rows, the recent batches or the same season earlier, see
`datawheel.review.drift_reference`).

Per column:
- numeric (contract int, float; datetime as seconds): two-sample Kolmogorov-Smirnov test;
  effect sizes PSI over the reference's quantile bins and the Wasserstein distance divided
  by the reference's interquartile range (its standard deviation when the IQR is 0), so it
  reads in "IQRs moved" whatever the unit;
- categorical (category, string, bool): chi-square test on the contingency table
  (categories too rare for the test's approximation are pooled); effect sizes PSI and the
  Jensen-Shannon distance (base 2, between 0 and 1);
- every column: the null rate, chi-square on nulls vs non-nulls, effect = its absolute change;
- the label (the contract's target) is tested like a categorical column, but its effect is
  the largest absolute change of any class's share (label balance).

All p-values of one comparison are corrected together (Benjamini-Hochberg). A column is
`shifted` only when a corrected p-value is below `drift.alpha` AND the effect size of that
test reaches its threshold (for the distribution: either of its two effect sizes); with a
million rows every p-value is tiny, and the effect size is what keeps a column stable.
A column with fewer than `drift.min_rows` non-null rows on a side is `not_tested` (its null
rate is still tested).

Pure statistics on frames: reading the batches of a revision is datawheel.review.monitor's,
drawing the PNGs datawheel.render.drift_plots', writing them datawheel.review.outputs'.

Counts, null rates, PSI, chi-square and the summaries use every row. Only the KS test and
the Wasserstein distance use a sample when a side has more than `drift.max_rows_per_side`
non-null values; the sample is drawn with a generator seeded by `drift.seed` and the column
name, so a report is the same on every run.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from datawheel.config.params import Contract, Drift
from datawheel.errors import DatawheelError

if TYPE_CHECKING:
    pass

Kind = Literal["numeric", "categorical"]
Verdict = Literal["shifted", "stable", "not_tested"]

NUMERIC_TYPES = ("int", "float", "datetime")
CATEGORICAL_TYPES = ("category", "string", "bool")
TOP_VALUES = 5
HISTOGRAM_BINS = 30
HISTOGRAM_CATEGORIES = 20
OTHER = "(other)"
_EPS = 1e-4  # floor of a bin's share in PSI, so an empty bin does not make it infinite
_MIN_EXPECTED = 5.0  # chi-square needs about this many expected rows per cell


class DriftDetected(DatawheelError):
    """At least one column shifted: a retraining trigger for CI (`datawheel drift`)."""

    exit_code = 7


# --- summaries ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnSummary:
    """Exact descriptive statistics of one column on one side of a comparison."""

    rows: int
    nulls: int
    null_rate: float | None
    distinct: int
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    p25: float | None = None
    p50: float | None = None
    p75: float | None = None
    max: float | None = None
    top: list[tuple[str, float]] = field(default_factory=list)  # categorical: (value, share)

    def to_dict(self) -> dict[str, Any]:
        data = _clean(asdict(self))
        data["top"] = [[value, _num(share)] for value, share in self.top]
        return data


def _num(value: Any) -> float | None:
    """A finite float, or None."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (_num(v) if isinstance(v, float | np.floating) else v) for k, v in data.items()}


def as_numbers(values: pd.Series) -> np.ndarray:
    """Non-null values as float64; datetimes as seconds since the epoch."""
    values = values.dropna()
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(values):
        per_second = _TICKS_PER_SECOND.get(getattr(values.dt, "unit", "ns"), 1e9)
        return values.astype("int64").to_numpy() / per_second
    if pd.api.types.is_bool_dtype(values):
        return values.astype("float64").to_numpy()
    return pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype="float64")


_TICKS_PER_SECOND = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}


def as_labels(values: pd.Series) -> pd.Series:
    """Non-null values as strings (categories, booleans and class labels compared as text)."""
    return values.dropna().astype("str")


def describe(values: pd.Series, kind: Kind) -> ColumnSummary:
    """Rows, nulls and either numeric quantiles or the most common values; every row used."""
    rows = len(values)
    nulls = int(values.isna().sum())
    null_rate = nulls / rows if rows else None
    if kind == "numeric":
        numbers = as_numbers(values)
        if not len(numbers):
            return ColumnSummary(rows, nulls, null_rate, 0)
        p25, p50, p75 = np.quantile(numbers, [0.25, 0.5, 0.75])
        return ColumnSummary(
            rows,
            nulls,
            null_rate,
            int(len(np.unique(numbers))),
            mean=float(numbers.mean()),
            std=float(numbers.std(ddof=1)) if len(numbers) > 1 else 0.0,
            min=float(numbers.min()),
            p25=float(p25),
            p50=float(p50),
            p75=float(p75),
            max=float(numbers.max()),
        )
    labels = as_labels(values)
    counts = labels.value_counts(sort=False)
    counts = counts.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
    total = int(counts.sum())
    top = [(str(v), int(c) / total) for v, c in counts.head(TOP_VALUES).items()] if total else []
    return ColumnSummary(rows, nulls, null_rate, int(len(counts)), top=top)


# --- results -----------------------------------------------------------------------------


@dataclass
class ColumnDrift:
    """One column compared: its summaries, tests, effect sizes and verdict."""

    column: str
    kind: Kind
    role: Literal["feature", "label"]
    before: ColumnSummary
    after: ColumnSummary
    verdict: Verdict = "not_tested"
    reasons: list[str] = field(default_factory=list)
    test: str | None = None  # "ks" or "chi2"
    statistic: float | None = None
    p_value: float | None = None
    q_value: float | None = None
    psi: float | None = None
    wasserstein: float | None = None  # in units of the reference IQR (or std)
    js_distance: float | None = None
    max_share_delta: float | None = None  # categorical: largest change of a value's share
    null_rate_delta: float | None = None
    null_p_value: float | None = None
    null_q_value: float | None = None
    sampled: bool = False
    histogram: dict[str, Any] = field(default_factory=dict)

    @property
    def shifted(self) -> bool:
        return self.verdict == "shifted"

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k not in ("before", "after")}
        data = _clean(data)
        data["before"] = self.before.to_dict()
        data["after"] = self.after.to_dict()
        return data


@dataclass
class DriftReport:
    """Every column compared between a reference ("before") and a current ("after") set."""

    rows_before: int
    rows_after: int
    columns: list[ColumnDrift]
    settings: dict[str, Any]
    before_label: str = "before"
    after_label: str = "after"
    notes: list[str] = field(default_factory=list)

    @property
    def shifted(self) -> list[str]:
        return [c.column for c in self.columns if c.shifted]

    @property
    def tested(self) -> list[str]:
        return [c.column for c in self.columns if c.verdict != "not_tested"]

    def column(self, name: str) -> ColumnDrift:
        for result in self.columns:
            if result.column == name:
                return result
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_before": self.rows_before,
            "rows_after": self.rows_after,
            "before_label": self.before_label,
            "after_label": self.after_label,
            "shifted": self.shifted,
            "settings": self.settings,
            "notes": list(self.notes),
            "columns": [c.to_dict() for c in self.columns],
        }


# --- effect sizes (pure, on arrays) ------------------------------------------------------


def psi(before_shares: np.ndarray, after_shares: np.ndarray) -> float:
    """Population stability index of two share vectors over the same bins."""
    b = np.maximum(np.asarray(before_shares, dtype="float64"), _EPS)
    a = np.maximum(np.asarray(after_shares, dtype="float64"), _EPS)
    return float(np.sum((a - b) * np.log(a / b)))


def quantile_edges(reference: np.ndarray, bins: int) -> np.ndarray:
    """Inner bin edges at the reference's quantiles (repeated edges merged)."""
    if not len(reference):
        return np.array([], dtype="float64")
    return np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))


def binned_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of values in each of the len(edges) + 1 bins the inner edges make."""
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    total = counts.sum()
    return counts / total if total else counts.astype("float64")


def numeric_psi(before: np.ndarray, after: np.ndarray, bins: int) -> float:
    """PSI over bins at the reference's quantiles."""
    edges = quantile_edges(before, bins)
    return psi(binned_shares(before, edges), binned_shares(after, edges))


def scale_of(reference: np.ndarray) -> float:
    """The unit a Wasserstein distance is divided by: the IQR, else the std, else 1."""
    if len(reference) == 0:
        return 1.0
    q25, q75 = np.quantile(reference, [0.25, 0.75])
    if q75 > q25:
        return float(q75 - q25)
    std = float(reference.std())
    return std if std > 0 else 1.0


def scaled_wasserstein(before: np.ndarray, after: np.ndarray) -> float:
    """Earth mover's distance between the samples, in units of the reference's spread."""
    from scipy.stats import wasserstein_distance

    return float(wasserstein_distance(before, after)) / scale_of(before)


def js_distance(before_shares: np.ndarray, after_shares: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2: 0 identical, 1 disjoint)."""
    from scipy.spatial.distance import jensenshannon

    value = float(jensenshannon(before_shares, after_shares, base=2))
    return 0.0 if not math.isfinite(value) else value


def pooled_table(before_counts: np.ndarray, after_counts: np.ndarray) -> np.ndarray:
    """2 x k contingency table with categories of too few expected rows pooled into one.

    Chi-square's approximation needs about five expected rows per cell; the rarest
    categories are merged (rarest first) until the pooled cell reaches that or none is left.
    """
    table = np.vstack([before_counts, after_counts]).astype("float64")
    table = table[:, table.sum(axis=0) > 0]
    side = table.sum(axis=1, keepdims=True)
    if table.shape[1] < 2 or (side == 0).any():
        return table
    expected_min = (table.sum(axis=0) * side.min() / side.sum()).ravel()
    order = np.argsort(expected_min, kind="stable")
    rare = [i for i in order if expected_min[i] < _MIN_EXPECTED]
    if not rare:
        return table
    keep = [i for i in range(table.shape[1]) if i not in set(rare)]
    pooled = table[:, rare].sum(axis=1, keepdims=True)
    return np.hstack([table[:, keep], pooled]) if keep else pooled


def chi_square(before_counts: np.ndarray, after_counts: np.ndarray) -> tuple[float, float]:
    """Chi-square statistic and p-value of homogeneity; (0, 1) when nothing can differ."""
    from scipy.stats import chi2_contingency

    table = pooled_table(before_counts, after_counts)
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0
    result = chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue)


def null_rate_test(
    nulls_before: int, rows_before: int, nulls_after: int, rows_after: int
) -> tuple[float, float] | None:
    """Chi-square on nulls vs non-nulls (with Yates' correction); None when untestable."""
    from scipy.stats import chi2_contingency

    if rows_before == 0 or rows_after == 0 or nulls_before + nulls_after == 0:
        return None
    if nulls_before == rows_before and nulls_after == rows_after:
        return None
    table = np.array(
        [[nulls_before, rows_before - nulls_before], [nulls_after, rows_after - nulls_after]]
    )
    result = chi2_contingency(table, correction=True)
    return float(result.statistic), float(result.pvalue)


def sample(values: np.ndarray, limit: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """At most `limit` values drawn without replacement (kept in their order)."""
    if len(values) <= limit:
        return values, False
    chosen = np.sort(rng.choice(len(values), size=limit, replace=False))
    return values[chosen], True


def column_rng(seed: int, column: str) -> np.random.Generator:
    """A generator per (seed, column): results do not depend on the order of columns."""
    return np.random.default_rng([seed, zlib.crc32(column.encode("utf-8"))])


# --- one column --------------------------------------------------------------------------


def _numeric_histogram(before: np.ndarray, after: np.ndarray) -> dict[str, Any]:
    both = np.concatenate([before, after])
    if not len(both):
        return {}
    low, high = np.quantile(both, [0.005, 0.995])
    if high <= low:
        low, high = float(both.min()), float(both.max())
    if high <= low:
        high = low + 1.0
    edges = np.linspace(low, high, HISTOGRAM_BINS + 1)

    def shares(values: np.ndarray) -> list[float]:
        counts, _ = np.histogram(np.clip(values, low, high), bins=edges)
        total = counts.sum()
        return (counts / total if total else counts.astype("float64")).tolist()

    return {"edges": edges.tolist(), "before": shares(before), "after": shares(after)}


def _categorical_histogram(
    categories: list[str], before: np.ndarray, after: np.ndarray
) -> dict[str, Any]:
    order = np.argsort(-(before + after), kind="stable")
    shown = order[:HISTOGRAM_CATEGORIES]
    names = [categories[i] for i in shown]
    b, a = before[shown].tolist(), after[shown].tolist()
    if len(order) > HISTOGRAM_CATEGORIES:
        rest = order[HISTOGRAM_CATEGORIES:]
        names.append(OTHER)
        b.append(float(before[rest].sum()))
        a.append(float(after[rest].sum()))
    return {"categories": names, "before": b, "after": a}


def _test_numeric(result: ColumnDrift, before: pd.Series, after: pd.Series, settings: Drift):
    from scipy.stats import ks_2samp

    b, a = as_numbers(before), as_numbers(after)
    if min(len(b), len(a)) < settings.min_rows:
        return
    rng = column_rng(settings.seed, result.column)
    b_sample, b_sampled = sample(b, settings.max_rows_per_side, rng)
    a_sample, a_sampled = sample(a, settings.max_rows_per_side, rng)
    ks = ks_2samp(b_sample, a_sample)
    result.test = "ks"
    result.statistic = float(ks.statistic)
    result.p_value = float(ks.pvalue)
    result.psi = numeric_psi(b, a, settings.bins)
    result.wasserstein = scaled_wasserstein(b_sample, a_sample)
    result.sampled = b_sampled or a_sampled
    result.histogram = _numeric_histogram(b, a)


def _test_categorical(result: ColumnDrift, before: pd.Series, after: pd.Series, settings: Drift):
    b_counts = as_labels(before).value_counts(sort=False)
    a_counts = as_labels(after).value_counts(sort=False)
    if min(int(b_counts.sum()), int(a_counts.sum())) < settings.min_rows:
        return
    categories = sorted(set(b_counts.index) | set(a_counts.index))
    b = b_counts.reindex(categories, fill_value=0).to_numpy(dtype="float64")
    a = a_counts.reindex(categories, fill_value=0).to_numpy(dtype="float64")
    result.test = "chi2"
    result.statistic, result.p_value = chi_square(b, a)
    b_shares, a_shares = b / b.sum(), a / a.sum()
    result.psi = psi(b_shares, a_shares)
    result.js_distance = js_distance(b_shares, a_shares)
    result.max_share_delta = float(np.abs(a_shares - b_shares).max())
    result.histogram = _categorical_histogram(categories, b_shares, a_shares)


def _compare_column(
    column: str,
    kind: Kind,
    role: Literal["feature", "label"],
    before: pd.Series,
    after: pd.Series,
    settings: Drift,
) -> ColumnDrift:
    result = ColumnDrift(column, kind, role, describe(before, kind), describe(after, kind))
    if kind == "numeric":
        _test_numeric(result, before, after, settings)
    else:
        _test_categorical(result, before, after, settings)
    if result.before.null_rate is not None and result.after.null_rate is not None:
        result.null_rate_delta = result.after.null_rate - result.before.null_rate
        null_test = null_rate_test(
            result.before.nulls, result.before.rows, result.after.nulls, result.after.rows
        )
        if null_test is not None and min(result.before.rows, result.after.rows) >= (
            settings.min_rows
        ):
            result.null_p_value = null_test[1]
    return result


# --- the comparison ----------------------------------------------------------------------


def column_kinds(contract: Contract, include_label: bool = True) -> dict[str, Kind]:
    """Columns worth comparing and how: features by type, then the target; the entity id
    and the event time are left out (ids are unique, time always moves on)."""
    kinds: dict[str, Kind] = {}
    for name in contract.feature_columns:
        kinds[name] = "numeric" if contract.columns[name].type in NUMERIC_TYPES else "categorical"
    if include_label:  # a regression target is a number: tested as a numeric column
        kinds[contract.target] = "numeric" if contract.is_regression else "categorical"
    return kinds


def _decide(result: ColumnDrift, settings: Drift) -> None:
    alpha = settings.alpha
    reasons: list[str] = []
    if result.q_value is not None and result.q_value < alpha:
        if result.role == "label" and result.kind == "categorical":
            if (result.max_share_delta or 0.0) >= settings.label_threshold:
                reasons.append(
                    f"label balance: a class's share moved by {result.max_share_delta:.3f} "
                    f"(>= {settings.label_threshold:g}), chi-square q={result.q_value:.2g}"
                )
        elif result.kind == "numeric":
            big = []
            if (result.psi or 0.0) >= settings.psi_threshold:
                big.append(f"PSI {result.psi:.3f} >= {settings.psi_threshold:g}")
            if (result.wasserstein or 0.0) >= settings.wasserstein_threshold:
                big.append(
                    f"Wasserstein {result.wasserstein:.3f} IQR >= "
                    f"{settings.wasserstein_threshold:g}"
                )
            if big:
                reasons.append(f"distribution: KS q={result.q_value:.2g}, " + ", ".join(big))
        else:
            big = []
            if (result.psi or 0.0) >= settings.psi_threshold:
                big.append(f"PSI {result.psi:.3f} >= {settings.psi_threshold:g}")
            if (result.js_distance or 0.0) >= settings.js_threshold:
                big.append(f"JS distance {result.js_distance:.3f} >= {settings.js_threshold:g}")
            if big:
                reasons.append(
                    f"distribution: chi-square q={result.q_value:.2g}, " + ", ".join(big)
                )
    if (
        result.null_q_value is not None
        and result.null_q_value < alpha
        and abs(result.null_rate_delta or 0.0) >= settings.null_rate_threshold
    ):
        reasons.append(
            f"null rate {result.before.null_rate:.1%} -> {result.after.null_rate:.1%} "
            f"(q={result.null_q_value:.2g})"
        )
    result.reasons = reasons
    if reasons:
        result.verdict = "shifted"
    elif result.test is not None or result.null_p_value is not None:
        result.verdict = "stable"
    else:
        result.verdict = "not_tested"
        result.reasons = [
            f"too few rows: {result.before.rows - result.before.nulls} before, "
            f"{result.after.rows - result.after.nulls} after (min_rows {settings.min_rows})"
        ]


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input's order."""
    if not p_values:
        return []
    from scipy.stats import false_discovery_control

    return [float(q) for q in false_discovery_control(np.asarray(p_values), method="bh")]


def compare(
    before: pd.DataFrame,
    after: pd.DataFrame,
    kinds: Mapping[str, Kind],
    settings: Drift,
    label: str | None = None,
    before_label: str = "before",
    after_label: str = "after",
) -> DriftReport:
    """Test every column in `kinds` between the two frames; pure, seeded, no I/O.

    `label` names the column tested as the label (class balance); a column missing from a
    frame is compared as if it were all null there.
    """
    results = []
    for column, kind in kinds.items():
        b = before[column] if column in before.columns else pd.Series([None] * len(before))
        a = after[column] if column in after.columns else pd.Series([None] * len(after))
        role: Literal["feature", "label"] = "label" if column == label else "feature"
        results.append(_compare_column(column, kind, role, b, a, settings))
    slots = [(r, "p_value") for r in results if r.p_value is not None]
    slots += [(r, "null_p_value") for r in results if r.null_p_value is not None]
    adjusted = benjamini_hochberg([getattr(r, name) for r, name in slots])
    for (result, name), q in zip(slots, adjusted, strict=True):
        setattr(result, "q_value" if name == "p_value" else "null_q_value", q)
    for result in results:
        _decide(result, settings)
    return DriftReport(
        rows_before=len(before),
        rows_after=len(after),
        columns=results,
        settings=settings.model_dump(),
        before_label=before_label,
        after_label=after_label,
    )
