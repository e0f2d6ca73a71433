"""Distribution-shift tests: significance AND effect size, BH correction, seeded sampling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from datawheel.config.params import Drift, load_params
from datawheel.render.drift_plots import column_png
from datawheel.review.drift import (
    DriftDetected,
    benjamini_hochberg,
    column_kinds,
    compare,
    describe,
    numeric_psi,
    pooled_table,
    psi,
    scale_of,
)

ROOT = Path(__file__).resolve().parents[3]
SETTINGS = Drift()
KINDS = {"x": "numeric", "colour": "categorical", "label": "categorical"}


def frame(rows: int, seed: int, shift: float = 0.0, red: float = 0.3, positive: float = 0.3):
    rng = np.random.default_rng(seed)
    colours = np.where(
        rng.random(rows) < red, "red", np.where(rng.random(rows) < 0.5, "blue", "green")
    )
    return pd.DataFrame(
        {
            "x": rng.normal(10.0 + shift, 2.0, rows),
            "colour": colours,
            "label": (rng.random(rows) < positive).astype(int),
        }
    )


def test_the_same_distribution_is_stable_everywhere():
    report = compare(frame(3000, 1), frame(3000, 2), KINDS, SETTINGS, label="label")
    assert report.shifted == []
    assert {c.verdict for c in report.columns} == {"stable"}
    assert all(c.q_value is not None and c.q_value >= SETTINGS.alpha for c in report.columns)


def test_a_numeric_shift_is_flagged_with_its_effect_sizes_and_only_that_column():
    report = compare(frame(3000, 1), frame(3000, 2, shift=2.0), KINDS, SETTINGS, label="label")
    assert report.shifted == ["x"]
    x = report.column("x")
    assert x.test == "ks" and x.q_value < 1e-10
    assert x.wasserstein == pytest.approx(2.0 / (2 * 0.6745 * 2.0), rel=0.15)  # 2 / IQR
    assert x.psi > SETTINGS.psi_threshold
    assert "KS" in x.reasons[0] and "Wasserstein" in x.reasons[0]
    assert x.histogram["edges"] and len(x.histogram["before"]) == len(x.histogram["edges"]) - 1


def test_a_p_value_alone_never_flags_a_column():
    # 200,000 rows a side: a 0.02-sd shift is "significant" but far too small to matter
    before = pd.DataFrame({"x": np.random.default_rng(1).normal(0.0, 1.0, 200_000)})
    after = pd.DataFrame({"x": np.random.default_rng(2).normal(0.02, 1.0, 200_000)})
    x = compare(before, after, {"x": "numeric"}, SETTINGS).column("x")
    assert x.q_value < SETTINGS.alpha
    assert x.wasserstein < SETTINGS.wasserstein_threshold and x.psi < SETTINGS.psi_threshold
    assert x.verdict == "stable"


def test_a_large_effect_on_few_rows_is_not_enough_either():
    before = pd.DataFrame({"c": ["a"] * 60 + ["b"] * 40 + ["c"] * 20})
    after = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 45 + ["c"] * 25})
    loose = SETTINGS.model_copy(update={"min_rows": 10, "js_threshold": 0.01})
    c = compare(before, after, {"c": "categorical"}, loose).column("c")
    assert c.js_distance >= loose.js_threshold
    assert c.q_value >= loose.alpha
    assert c.verdict == "stable"


def test_a_categorical_shift_uses_chi_square_and_jensen_shannon():
    report = compare(frame(3000, 1), frame(3000, 2, red=0.8), KINDS, SETTINGS, label="label")
    assert report.shifted == ["colour"]
    colour = report.column("colour")
    assert colour.test == "chi2" and colour.q_value < 1e-10
    assert colour.js_distance > SETTINGS.js_threshold
    assert colour.histogram["categories"][0] == "red"
    assert sorted(colour.histogram["categories"]) == ["blue", "green", "red"]


def test_label_balance_shift_is_judged_by_the_change_of_a_class_share():
    report = compare(frame(3000, 1), frame(3000, 2, positive=0.45), KINDS, SETTINGS, label="label")
    assert report.shifted == ["label"]
    label = report.column("label")
    assert label.role == "label"
    assert label.max_share_delta == pytest.approx(0.15, abs=0.03)
    assert "label balance" in label.reasons[0]
    # a 2-point move on 100,000 rows a side: significant, below label_threshold (0.05)
    small = compare(
        frame(100_000, 1), frame(100_000, 2, positive=0.32), KINDS, SETTINGS, label="label"
    ).column("label")
    assert small.q_value < SETTINGS.alpha and small.verdict == "stable"


def test_null_rate_shift():
    before = frame(2000, 1)
    after = frame(2000, 2)
    after.loc[after.index[:600], "x"] = np.nan
    x = compare(before, after, KINDS, SETTINGS, label="label").column("x")
    assert x.verdict == "shifted"
    assert x.null_rate_delta == pytest.approx(0.3)
    assert x.null_q_value < 1e-10
    assert any(reason.startswith("null rate 0.0% -> 30.0%") for reason in x.reasons)
    assert x.after.nulls == 600 and x.after.rows == 2000


def test_too_few_rows_are_not_tested_and_a_missing_column_counts_as_nulls():
    report = compare(frame(50, 1), frame(3000, 2), KINDS, SETTINGS, label="label")
    assert {c.verdict for c in report.columns} == {"not_tested"}
    assert "too few rows: 50 before" in report.column("x").reasons[0]
    missing = compare(frame(500, 1), frame(500, 2).drop(columns="x"), KINDS, SETTINGS)
    x = missing.column("x")
    assert x.after.null_rate == 1.0 and x.verdict == "shifted"


def test_huge_sides_are_sampled_with_a_seed_and_counts_stay_exact():
    small = SETTINGS.model_copy(update={"max_rows_per_side": 500})
    before, after = frame(5000, 1), frame(4000, 2, shift=0.1)
    first = compare(before, after, KINDS, small, label="label").column("x")
    again = compare(before, after, KINDS, small, label="label").column("x")
    assert first.sampled
    assert first.to_dict() == again.to_dict()
    assert first.before.rows == 5000 and first.after.rows == 4000
    other_seed = compare(
        before, after, KINDS, small.model_copy(update={"seed": 1}), label="label"
    ).column("x")
    assert other_seed.p_value != first.p_value
    assert other_seed.psi == first.psi  # PSI uses every row


def test_benjamini_hochberg_matches_the_textbook_example():
    # sorted p 0.01, 0.03, 0.04, 0.2 -> p * m / rank 0.04, 0.06, 0.0533, 0.2 -> running min
    q = benjamini_hochberg([0.01, 0.04, 0.03, 0.2])
    assert q == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.2])
    assert benjamini_hochberg([]) == []


def test_psi_and_scale():
    assert psi(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == 0.0
    assert psi(np.array([0.5, 0.5]), np.array([0.9, 0.1])) == pytest.approx(
        0.4 * np.log(0.9 / 0.5) - 0.4 * np.log(0.1 / 0.5)
    )
    values = np.arange(100, dtype=float)
    assert numeric_psi(values, values, 10) == 0.0
    assert scale_of(values) == pytest.approx(49.5)
    assert scale_of(np.array([3.0, 3.0, 3.0])) == 1.0


def test_rare_categories_are_pooled_for_chi_square():
    table = pooled_table(np.array([500, 400, 2, 1]), np.array([480, 410, 3, 0]))
    assert table.shape == (2, 3)
    assert table[:, -1].tolist() == [3, 3]


def test_datetimes_are_compared_as_seconds():
    stamps = pd.Series(pd.date_range("2026-01-01", periods=500, freq="h", tz="UTC"))
    before = pd.DataFrame({"t": stamps.astype("datetime64[us, UTC]")})
    after = pd.DataFrame({"t": (stamps + pd.Timedelta(days=60)).astype("datetime64[us, UTC]")})
    t = compare(before, after, {"t": "numeric"}, SETTINGS).column("t")
    assert t.before.min == pd.Timestamp("2026-01-01", tz="UTC").timestamp()
    assert t.verdict == "shifted" and t.wasserstein == pytest.approx(60 * 24 / 250, rel=0.01)


def test_describe_is_exact():
    numeric = describe(pd.Series([1.0, 2.0, None, 4.0]), "numeric")
    assert (numeric.rows, numeric.nulls, numeric.mean, numeric.max) == (4, 1, 7 / 3, 4.0)
    categorical = describe(pd.Series(["a", "b", "a", None]), "categorical")
    assert categorical.top == [("a", 2 / 3), ("b", 1 / 3)] and categorical.distinct == 2


def test_column_kinds_follow_the_contract():
    contract = load_params(ROOT / "params.yaml").contract
    kinds = column_kinds(contract)
    assert "customer_id" not in kinds and "event_time" not in kinds
    assert kinds["monthly_charges"] == "numeric" and kinds["region"] == "categorical"
    assert kinds["churned"] == "categorical"


def test_plots_have_reproducible_bytes(tmp_path):
    report = compare(frame(3000, 1), frame(3000, 2, shift=2.0), KINDS, SETTINGS, label="label")
    first = column_png(report.column("x"))
    second = column_png(report.column("x"))
    assert first.startswith(b"\x89PNG") and first == second
    bars = column_png(report.column("colour"))
    assert bars.startswith(b"\x89PNG") and bars != first


def test_drift_detected_has_its_own_exit_code():
    assert DriftDetected.exit_code == 7
