"""Built-in data stream: deterministic daily batches for a customer-churn problem."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from datawheel.io.files import atomic_write

# --- data contract ---------------------------------------------------------------------------

COLUMNS: tuple[str, ...] = (
    "customer_id",
    "event_time",
    "region",
    "plan",
    "contract_type",
    "payment_method",
    "tenure_months",
    "monthly_charges",
    "support_calls",
    "data_usage_gb",
    "age",
    "churned",
)
ENTITY_COLUMN = "customer_id"
TIME_COLUMN = "event_time"
LABEL_COLUMN = "churned"

REGIONS: tuple[str, ...] = tuple(f"R{i:02d}" for i in range(1, 25))
PLANS: tuple[str, ...] = ("basic", "standard", "premium")
CONTRACT_TYPES: tuple[str, ...] = ("monthly", "annual", "two_year")
PAYMENT_METHODS: tuple[str, ...] = ("card", "bank_transfer", "paypal", "invoice")
LABELS: tuple[int, ...] = (0, 1)

CATEGORY_DOMAINS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "region": REGIONS,
        "plan": PLANS,
        "contract_type": CONTRACT_TYPES,
        "payment_method": PAYMENT_METHODS,
    }
)
NUMERIC_RANGES: Mapping[str, tuple[float, float]] = MappingProxyType(
    {
        "tenure_months": (0, 120),
        "monthly_charges": (10.0, 250.0),
        "support_calls": (0, 20),
        "data_usage_gb": (0.0, 500.0),
        "age": (18, 95),
        "churned": (0, 1),
    }
)
INTEGER_COLUMNS: tuple[str, ...] = ("tenure_months", "support_calls", "age", "churned")
FLOAT_COLUMNS: tuple[str, ...] = ("monthly_charges", "data_usage_gb")

FORMATS: tuple[str, ...] = ("csv", "parquet")
CSV_FLOAT_FORMAT = "%.2f"
CSV_TIME_SUFFIX = "Z"
MAX_ROWS_PER_DAY = 10_000_000

# --- injections ------------------------------------------------------------------------------

INJECTION_KINDS: tuple[str, ...] = (
    "gradual_drift",
    "concept_drift",
    "label_noise",
    "bad_label",
    "null_burst",
    "out_of_range",
    "schema_break",
    "missing_column",
    "duplicates",
    "leakage",
    "volume_spike",  # last: each kind's side stream is its index, so appending keeps the rest
)
PERSISTENT_KINDS: tuple[str, ...] = ("gradual_drift", "concept_drift")
# Order in which one-day injections are applied when several hit the same day.
DAY_ONLY_ORDER: tuple[str, ...] = (
    "leakage",
    "label_noise",
    "bad_label",
    "null_burst",
    "out_of_range",
    "duplicates",
    "schema_break",
    "missing_column",
)

GRADUAL_DRIFT_RATE = 0.03  # +3 % of the mean per day since the drift started
LABEL_NOISE_FRACTION = 0.20
BAD_LABEL_FRACTION = 0.05
BAD_LABEL_VALUES: tuple[int, ...] = (-1, 2)
NULL_BURST_FRACTION = 0.30
NULL_BURST_COLUMNS: tuple[str, ...] = ("monthly_charges", "region")
OUT_OF_RANGE_FRACTION = 0.05
SCHEMA_BREAK_RENAME: Mapping[str, str] = MappingProxyType({"monthly_charges": "monthly_charge"})
MISSING_COLUMN = "support_calls"
DUPLICATE_FRACTION = 0.10
LEAKAGE_FRACTION = 0.10
LEAKAGE_LAG_DAYS = 7
VOLUME_SPIKE_FACTOR = 1000  # `volume_spike@DAY`; `volume_spike:50@DAY` sets another factor
ROW_JITTER = 0.10  # rows of a day vary within +-10 % of the nominal rows per day


@dataclass(frozen=True)
class Injection:
    """A data incident injected into the stream on (or from) a given day."""

    kind: str
    day: dt.date
    factor: int | None = None  # volume_spike only: rows times this (VOLUME_SPIKE_FACTOR)

    def __post_init__(self) -> None:
        """Reject unknown kinds, days that are not plain dates and misplaced factors."""
        if self.kind not in INJECTION_KINDS:
            raise ValueError(f"unknown injection kind {self.kind!r}; {_valid_kinds_hint()}")
        if isinstance(self.day, dt.datetime) or not isinstance(self.day, dt.date):
            raise ValueError(f"injection day must be a date, got {self.day!r}")
        if self.factor is not None:
            if self.kind != "volume_spike":
                raise ValueError(f"only volume_spike takes a factor, not {self.kind!r}")
            _check_int("volume_spike factor", self.factor, 2, MAX_ROWS_PER_DAY)

    @property
    def rows_factor(self) -> int:
        """How many times the nominal rows the day delivers (volume_spike), else 1."""
        if self.kind != "volume_spike":
            return 1
        return VOLUME_SPIKE_FACTOR if self.factor is None else self.factor


def _valid_kinds_hint() -> str:
    """Sentence listing the valid injection kinds."""
    return "valid kinds: " + ", ".join(INJECTION_KINDS)


def parse_injection(text: str, start: dt.date) -> Injection:
    """Parse `KIND@DAY` where DAY is `YYYY-MM-DD` or a 0-based day offset from start.

    `volume_spike:FACTOR@DAY` delivers FACTOR times the day's rows (default 1000).
    """
    kind, sep, day_text = text.strip().partition("@")
    kind, day_text = kind.strip(), day_text.strip()
    if not sep or not day_text:
        raise ValueError(f"injection {text!r} is not KIND@DAY; {_valid_kinds_hint()}")
    kind, colon, factor_text = kind.partition(":")
    if kind not in INJECTION_KINDS:
        raise ValueError(f"unknown injection kind {kind!r} in {text!r}; {_valid_kinds_hint()}")
    factor = None
    if colon:
        if not factor_text.strip().isdigit():
            raise ValueError(f"bad factor in {text!r}: expected volume_spike:FACTOR@DAY")
        factor = int(factor_text)
    return Injection(kind, _parse_day(day_text, start, text), factor)


def _parse_day(day_text: str, start: dt.date, text: str) -> dt.date:
    """Day of an injection from an ISO date or a non-negative offset from start."""
    if day_text.isdigit():
        return start + dt.timedelta(days=int(day_text))
    try:
        return dt.date.fromisoformat(day_text)
    except ValueError:
        raise ValueError(
            f"bad day {day_text!r} in {text!r}: expected YYYY-MM-DD or a day offset >= 0; "
            f"{_valid_kinds_hint()}"
        ) from None


# --- churn model -----------------------------------------------------------------------------

# Relative frequencies of R01..R24 (fixed, unequal).
REGION_WEIGHTS: tuple[float, ...] = (
    12.0, 10.0, 9.0, 8.0, 7.0, 6.5, 6.0, 5.5, 5.0, 4.5, 4.0, 3.5,
    3.0, 3.0, 2.5, 2.5, 2.0, 2.0, 1.5, 1.5, 1.0, 1.0, 1.0, 0.5,
)  # fmt: skip
PLAN_WEIGHTS: tuple[float, ...] = (0.45, 0.35, 0.20)
PAYMENT_WEIGHTS: tuple[float, ...] = (0.40, 0.25, 0.20, 0.15)
PLAN_BASE_CHARGES: tuple[float, ...] = (35.0, 75.0, 130.0)
PLAN_MEDIAN_USAGE_GB: tuple[float, ...] = (12.0, 40.0, 95.0)


@dataclass(frozen=True)
class ChurnEffects:
    """Coefficients of the logistic churn model (log-odds)."""

    intercept: float
    per_tenure_month: float
    contract: tuple[float, ...]  # by CONTRACT_TYPES
    per_support_call: float
    per_10_charges: float  # per 10 currency units above 70
    payment: tuple[float, ...]  # by PAYMENT_METHODS
    per_decade_of_age: float  # per 10 years above 45
    region: tuple[float, ...]  # by REGIONS


BASE_REGION_EFFECTS: tuple[float, ...] = (
    0.0, -0.3, 0.4, 0.1, -0.5, 0.6, 0.0, -0.2, 0.7, -0.4, 0.2, 0.0,
    -0.6, 0.5, 0.1, -0.2, 0.8, 0.0, -0.7, 0.3, -0.1, 0.2, 0.9, -0.5,
)  # fmt: skip

BASE_EFFECTS = ChurnEffects(
    intercept=-1.6,
    per_tenure_month=-0.035,
    contract=(0.9, -0.4, -1.2),
    per_support_call=0.38,
    per_10_charges=0.14,
    payment=(0.0, -0.2, 0.1, 0.35),
    per_decade_of_age=-0.08,
    region=BASE_REGION_EFFECTS,
)
# After concept drift: tenure, contract, support calls, charges and regions act the other way.
DRIFTED_EFFECTS = ChurnEffects(
    intercept=-1.6,
    per_tenure_month=0.02,
    contract=(-0.7, 0.3, 0.9),
    per_support_call=-0.3,
    per_10_charges=-0.12,
    payment=(0.0, -0.2, 0.1, 0.35),
    per_decade_of_age=-0.08,
    region=tuple(-effect for effect in BASE_REGION_EFFECTS),
)


@dataclass(frozen=True)
class Features:
    """Feature columns of one day as arrays (categoricals as codes into their domains)."""

    region: np.ndarray
    plan: np.ndarray
    contract_type: np.ndarray
    payment_method: np.ndarray
    tenure_months: np.ndarray
    monthly_charges: np.ndarray
    support_calls: np.ndarray
    data_usage_gb: np.ndarray
    age: np.ndarray


def churn_logit(features: Features, effects: ChurnEffects) -> np.ndarray:
    """Log-odds of churn for each row."""
    return (
        effects.intercept
        + effects.per_tenure_month * features.tenure_months
        + np.asarray(effects.contract)[features.contract_type]
        + effects.per_support_call * features.support_calls
        + effects.per_10_charges * (features.monthly_charges - 70.0) / 10.0
        + np.asarray(effects.payment)[features.payment_method]
        + effects.per_decade_of_age * (features.age - 45.0) / 10.0
        + np.asarray(effects.region)[features.region]
    )


def churn_probability(features: Features, effects: ChurnEffects) -> np.ndarray:
    """Probability of churn for each row."""
    return 1.0 / (1.0 + np.exp(-churn_logit(features, effects)))


# --- pure generation -------------------------------------------------------------------------


def day_rng(seed: int, day: dt.date, stream: int = 0) -> np.random.Generator:
    """RNG derived from (seed, day) only; stream > 0 gives independent side streams."""
    key = [seed, day.toordinal()] + ([stream] if stream else [])
    return np.random.default_rng(key)


def _injection_rng(seed: int, day: dt.date, kind: str) -> np.random.Generator:
    """Side stream of one injection kind, so injections never disturb the clean data."""
    return day_rng(seed, day, stream=1 + INJECTION_KINDS.index(kind))


def jittered_rows(rows: int, rng: np.random.Generator) -> int:
    """Actual row count of a day: nominal rows varied by up to +-ROW_JITTER, at least 1."""
    return max(1, round(rows * (1.0 + rng.uniform(-ROW_JITTER, ROW_JITTER))))


def _categorical(rng: np.random.Generator, weights: Sequence[float], n: int) -> np.ndarray:
    """Codes drawn with the given relative weights."""
    cumulative = np.cumsum(weights) / np.sum(weights)
    return np.minimum(np.searchsorted(cumulative, rng.random(n), side="right"), len(weights) - 1)


def _contract_codes(rng: np.random.Generator, tenure: np.ndarray) -> np.ndarray:
    """Contract codes: long-tenure customers hold longer contracts."""
    p_monthly = 0.15 + 0.65 * np.exp(-tenure / 30.0)
    p_annual = (1.0 - p_monthly) * 0.55
    u = rng.random(tenure.shape[0])
    return (u >= p_monthly).astype(np.int64) + (u >= p_monthly + p_annual).astype(np.int64)


def draw_features(rng: np.random.Generator, n: int, drift_factor: float = 1.0) -> Features:
    """Draw n customers; drift_factor scales the means of charges and data usage."""
    region = _categorical(rng, REGION_WEIGHTS, n)
    plan = _categorical(rng, PLAN_WEIGHTS, n)
    payment = _categorical(rng, PAYMENT_WEIGHTS, n)
    tenure = np.clip(np.floor(rng.exponential(28.0, n)), 0, 120).astype(np.int64)
    contract = _contract_codes(rng, tenure)
    usage_median = np.asarray(PLAN_MEDIAN_USAGE_GB)[plan] * drift_factor
    usage = np.clip(np.round(usage_median * rng.lognormal(0.0, 0.7, n), 2), 0.0, 500.0)
    charges_raw = np.asarray(PLAN_BASE_CHARGES)[plan] * rng.lognormal(0.0, 0.15, n)
    charges = np.clip(np.round(charges_raw * drift_factor + 0.08 * usage, 2), 10.0, 250.0)
    calls_rate = 0.9 + 0.5 * (plan == 0) + 1.2 * (tenure < 12)
    calls = np.minimum(rng.poisson(calls_rate), 20).astype(np.int64)
    age = np.clip(np.round(rng.normal(46.0, 15.0, n)), 18, 95).astype(np.int64)
    return Features(region, plan, contract, payment, tenure, charges, calls, usage, age)


def draw_labels(rng: np.random.Generator, probability: np.ndarray) -> np.ndarray:
    """Bernoulli labels (0/1 int64) from per-row probabilities."""
    return (rng.random(probability.shape[0]) < probability).astype(np.int64)


# Relative volume of events per hour of the day (UTC): quiet nights, busy evenings.
HOURLY_WEIGHTS: tuple[float, ...] = (
    1.0, 0.6, 0.4, 0.3, 0.3, 0.5, 1.0, 2.0, 3.0, 3.5, 3.5, 3.5,
    4.0, 4.0, 3.5, 3.5, 3.5, 4.0, 4.5, 5.0, 4.5, 3.5, 2.5, 1.5,
)  # fmt: skip


def draw_event_seconds(rng: np.random.Generator, n: int) -> np.ndarray:
    """Sorted seconds since midnight following the daily volume profile."""
    hours = _categorical(rng, HOURLY_WEIGHTS, n)
    return np.sort(hours * 3600 + rng.integers(0, 3600, n))


def event_times(day: dt.date, seconds: np.ndarray) -> pd.Series:
    """UTC timestamps (microsecond dtype) of seconds since midnight of day."""
    midnight = np.datetime64(day.isoformat(), "s")
    stamps = (midnight + seconds.astype("timedelta64[s]")).astype("datetime64[us]")
    return pd.Series(stamps).dt.tz_localize("UTC")


_MASK48 = (1 << 48) - 1
_ROW_BITS = 26  # rows per day < 2**26; day ordinals (< 2**22) take the other 22 bits
_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _seed_key(seed: int) -> int:
    """48-bit key derived from the seed."""
    return int.from_bytes(hashlib.blake2b(str(seed).encode(), digest_size=6).digest(), "big")


def _mix48(x: np.ndarray) -> np.ndarray:
    """Bijective scramble of 48-bit integers (xorshift-multiply rounds modulo 2**48)."""
    mask = np.uint64(_MASK48)
    x = x & mask
    x ^= x >> np.uint64(23)
    x = (x * np.uint64(0x9E3779B97F4B)) & mask
    x ^= x >> np.uint64(21)
    x = (x * np.uint64(0xBF58476D1CE5)) & mask
    x ^= x >> np.uint64(24)
    return x


def customer_ids(seed: int, day: dt.date, n: int) -> np.ndarray:
    """Ids `C` + 12 hex chars for rows 0..n-1 of day; never collide within a seed."""
    counters = (np.uint64(day.toordinal()) << np.uint64(_ROW_BITS)) + np.arange(n, dtype=np.uint64)
    codes = _mix48(counters ^ np.uint64(_seed_key(seed)))
    shifts = np.arange(44, -4, -4, dtype=np.uint64)
    nibbles = ((codes[:, None] >> shifts) & np.uint64(0xF)).astype(np.intp)
    chars = np.concatenate([np.full((n, 1), ord("C"), np.uint8), _HEX_DIGITS[nibbles]], axis=1)
    return np.ascontiguousarray(chars).view("S13").ravel().astype(str)


def features_frame(
    day: dt.date, seed: int, seconds: np.ndarray, features: Features, labels: np.ndarray
) -> pd.DataFrame:
    """Assemble the delivered frame (contract columns, in order)."""
    n = labels.shape[0]
    columns = {
        "customer_id": customer_ids(seed, day, n),
        "event_time": event_times(day, seconds),
        "region": np.asarray(REGIONS)[features.region],
        "plan": np.asarray(PLANS)[features.plan],
        "contract_type": np.asarray(CONTRACT_TYPES)[features.contract_type],
        "payment_method": np.asarray(PAYMENT_METHODS)[features.payment_method],
        "tenure_months": features.tenure_months,
        "monthly_charges": features.monthly_charges,
        "support_calls": features.support_calls,
        "data_usage_gb": features.data_usage_gb,
        "age": features.age,
        "churned": labels,
    }
    return pd.DataFrame(columns, columns=list(COLUMNS))


def gradual_drift_factor(day: dt.date, injections: Sequence[Injection]) -> float:
    """Mean multiplier of charges/usage: grows by GRADUAL_DRIFT_RATE per day from the drift day."""
    starts = [i.day for i in injections if i.kind == "gradual_drift" and i.day <= day]
    if not starts:
        return 1.0
    return 1.0 + GRADUAL_DRIFT_RATE * ((day - min(starts)).days + 1)


def churn_effects(day: dt.date, injections: Sequence[Injection]) -> ChurnEffects:
    """Label mechanism in force on day (drifted from any concept_drift day onward)."""
    drifted = any(i.kind == "concept_drift" and i.day <= day for i in injections)
    return DRIFTED_EFFECTS if drifted else BASE_EFFECTS


def stream_day(
    day: dt.date, rows: int, seed: int, injections: Sequence[Injection] = ()
) -> pd.DataFrame:
    """The day with only persistent (drift) injections applied: the stream's ground truth."""
    rng = day_rng(seed, day)
    n = jittered_rows(rows, rng)
    features = draw_features(rng, n, gradual_drift_factor(day, injections))
    labels = draw_labels(rng, churn_probability(features, churn_effects(day, injections)))
    seconds = draw_event_seconds(rng, n)
    return features_frame(day, seed, seconds, features, labels)


# --- one-day injections (pure: frame in, frame out) ------------------------------------------


def _pick(rng: np.random.Generator, n: int, fraction: float) -> np.ndarray:
    """Sorted distinct row positions, about fraction of n and at least one."""
    k = min(n, max(1, round(fraction * n)))
    return np.sort(rng.choice(n, size=k, replace=False))


def _by_time(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows stably sorted by event_time with a fresh index."""
    return frame.sort_values(TIME_COLUMN, kind="stable", ignore_index=True)


def inject_label_noise(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Flip about LABEL_NOISE_FRACTION of the labels."""
    out = frame.copy()
    rows = _pick(rng, len(out), LABEL_NOISE_FRACTION)
    labels = out[LABEL_COLUMN].to_numpy().copy()
    labels[rows] = 1 - labels[rows]
    out[LABEL_COLUMN] = labels
    return out


def inject_bad_label(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Set about BAD_LABEL_FRACTION of the labels to values outside {0, 1}."""
    out = frame.copy()
    rows = _pick(rng, len(out), BAD_LABEL_FRACTION)
    labels = out[LABEL_COLUMN].to_numpy().copy()
    labels[rows] = rng.choice(np.asarray(BAD_LABEL_VALUES), size=rows.shape[0])
    out[LABEL_COLUMN] = labels
    return out


def inject_null_burst(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Empty the NULL_BURST_COLUMNS in about NULL_BURST_FRACTION of the rows."""
    out = frame.copy()
    rows = _pick(rng, len(out), NULL_BURST_FRACTION)
    for name in NULL_BURST_COLUMNS:
        out.loc[rows, name] = None
    return out


def inject_out_of_range(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Give about OUT_OF_RANGE_FRACTION of the rows one impossible value each."""
    out = frame.copy()
    rows = _pick(rng, len(out), OUT_OF_RANGE_FRACTION)
    which = rng.integers(0, 3, size=rows.shape[0])
    tenure, age, charges = rows[which == 0], rows[which == 1], rows[which == 2]
    out.loc[tenure, "tenure_months"] = -rng.integers(1, 25, size=tenure.shape[0])
    out.loc[age, "age"] = rng.integers(150, 200, size=age.shape[0])
    out.loc[charges, "monthly_charges"] = -np.round(rng.uniform(1.0, 100.0, charges.shape[0]), 2)
    return out


def inject_schema_break(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Rename columns as in SCHEMA_BREAK_RENAME."""
    return frame.rename(columns=dict(SCHEMA_BREAK_RENAME))


def inject_missing_column(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Drop MISSING_COLUMN."""
    return frame.drop(columns=MISSING_COLUMN)


def inject_duplicates(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Append about DUPLICATE_FRACTION of the rows again, then re-sort by time."""
    rows = _pick(rng, len(frame), DUPLICATE_FRACTION)
    return _by_time(pd.concat([frame, frame.iloc[rows]], ignore_index=True))


def inject_leakage(
    frame: pd.DataFrame, rng: np.random.Generator, earlier: pd.DataFrame
) -> pd.DataFrame:
    """Replace about LEAKAGE_FRACTION of the rows by rows of earlier, moved LEAKAGE_LAG_DAYS on."""
    k = min(len(frame), len(earlier), max(1, round(LEAKAGE_FRACTION * len(frame))))
    dropped = rng.choice(len(frame), size=k, replace=False)
    copied = np.sort(rng.choice(len(earlier), size=k, replace=False))
    leaked = earlier.iloc[copied].copy()
    leaked[TIME_COLUMN] = leaked[TIME_COLUMN] + pd.Timedelta(days=LEAKAGE_LAG_DAYS)
    kept = frame.drop(index=frame.index[dropped])
    return _by_time(pd.concat([kept, leaked], ignore_index=True))


_DAY_INJECTORS: Mapping[str, Callable[[pd.DataFrame, np.random.Generator], pd.DataFrame]] = (
    MappingProxyType(
        {
            "label_noise": inject_label_noise,
            "bad_label": inject_bad_label,
            "null_burst": inject_null_burst,
            "out_of_range": inject_out_of_range,
            "schema_break": inject_schema_break,
            "missing_column": inject_missing_column,
            "duplicates": inject_duplicates,
        }
    )
)


def simulate_day(
    day: dt.date, rows: int, seed: int, injections: Sequence[Injection] = ()
) -> pd.DataFrame:
    """Raw frame of one day as delivered; rows is the nominal size (actual varies +-10 %).

    A volume_spike day is the stream's day drawn at its factor times the rows: valid rows,
    new customers, only far too many of them.
    """
    _check_int("rows", rows, 1, MAX_ROWS_PER_DAY)
    _check_int("seed", seed, 0, None)
    factor = max([i.rows_factor for i in injections if i.day == day], default=1)
    _check_int("rows of a volume_spike day", rows * factor, 1, MAX_ROWS_PER_DAY)
    frame = stream_day(day, rows * factor, seed, injections)
    todays = {i.kind for i in injections if i.day == day}
    for kind in (k for k in DAY_ONLY_ORDER if k in todays):
        rng = _injection_rng(seed, day, kind)
        if kind == "leakage":
            source_day = day - dt.timedelta(days=LEAKAGE_LAG_DAYS)
            frame = inject_leakage(frame, rng, stream_day(source_day, rows, seed, injections))
        else:
            frame = _DAY_INJECTORS[kind](frame, rng)
    return frame


# --- validation ------------------------------------------------------------------------------


def _check_int(name: str, value: int, low: int, high: int | None) -> None:
    """Raise ValueError naming the argument unless low <= value (<= high)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"between {low} and {high}"
        raise ValueError(f"{name} must be {bound}, got {value}")


def _check_format(fmt: str) -> None:
    """Raise ValueError naming fmt unless it is a supported format."""
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")


# --- file writing (thin edge) ----------------------------------------------------------------


def iso_utc_seconds(values: pd.Series) -> pd.Series:
    """Timestamps as `YYYY-MM-DDTHH:MM:SSZ` strings (empty for missing)."""
    stamps = pd.to_datetime(values, utc=True)
    naive = stamps.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[s]")
    text = np.char.add(np.datetime_as_string(naive, unit="s"), CSV_TIME_SUFFIX)
    return pd.Series(np.where(stamps.isna().to_numpy(), "", text), index=values.index)


def csv_text(frame: pd.DataFrame) -> str:
    """Deterministic CSV text: no index, `\\n` line ends, fixed float format, empty nulls."""
    out = frame.copy()
    for name in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[name]):
            out[name] = iso_utc_seconds(out[name])
    return out.to_csv(index=False, lineterminator="\n", na_rep="", float_format=CSV_FLOAT_FORMAT)


def arrow_table(frame: pd.DataFrame) -> pa.Table:
    """Arrow table without pandas metadata; timestamps as timestamp[us, UTC], text as string."""
    arrays = []
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_datetime64_any_dtype(column):
            utc = pd.to_datetime(column, utc=True)
            array = pa.array(utc, from_pandas=True).cast(pa.timestamp("us", tz="UTC"))
        else:
            array = pa.array(column, from_pandas=True)
            if pa.types.is_large_string(array.type):
                array = array.cast(pa.string())
        arrays.append(array)
    return pa.Table.from_arrays(arrays, names=[str(name) for name in frame.columns])


def _write_csv_file(frame: pd.DataFrame, tmp: Path) -> None:
    """Write frame as UTF-8 CSV bytes to tmp."""
    with open(tmp, "wb") as handle:
        handle.write(csv_text(frame).encode("utf-8"))


def _write_parquet_file(frame: pd.DataFrame, tmp: Path) -> None:
    """Write frame as Parquet to tmp."""
    pq.write_table(arrow_table(frame), str(tmp), compression="snappy")


def write_batch(df: pd.DataFrame, path: Path, fmt: str) -> None:
    """Write one batch atomically and byte-deterministically as csv or parquet."""
    _check_format(fmt)
    path = Path(path)
    if fmt == "csv":
        atomic_write(path, lambda tmp: _write_csv_file(df, tmp))
    else:
        atomic_write(path, lambda tmp: _write_parquet_file(df, tmp))


def batch_path(out: Path, day: dt.date, fmt: str) -> Path:
    """File of one day's batch: out/YYYY-MM-DD.<fmt>."""
    return Path(out) / f"{day.isoformat()}.{fmt}"


def simulate(
    out: Path,
    start: dt.date,
    days: int,
    rows_per_day: int,
    seed: int,
    fmt: str = "csv",
    injections: Sequence[Injection] = (),
) -> list[Path]:
    """Write one batch file per day from start into out; return the paths, sorted."""
    _check_int("days", days, 1, None)
    _check_int("rows_per_day", rows_per_day, 1, MAX_ROWS_PER_DAY)
    _check_int("seed", seed, 0, None)
    _check_format(fmt)
    Path(out).mkdir(parents=True, exist_ok=True)
    paths = []
    for offset in range(days):
        day = start + dt.timedelta(days=offset)
        path = batch_path(out, day, fmt)
        write_batch(simulate_day(day, rows_per_day, seed, injections), path, fmt)
        paths.append(path)
    return sorted(paths)
