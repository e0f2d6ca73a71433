"""Tests of the built-in churn data stream (datawheel.data.simulate)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pandas.testing import assert_frame_equal
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from datawheel.data import simulate as sim
from datawheel.data.simulate import Injection, parse_injection, simulate, simulate_day, write_batch

START = dt.date(2026, 1, 1)
SEED = 11
ROWS = 2000
DAY = START + dt.timedelta(days=10)  # the day incidents are injected in these tests
ONE_DAY_KINDS = tuple(k for k in sim.INJECTION_KINDS if k not in sim.PERSISTENT_KINDS)


def _day(offset: int) -> dt.date:
    """Date offset days after START."""
    return START + dt.timedelta(days=offset)


def _clean(day: dt.date, rows: int = ROWS) -> pd.DataFrame:
    """A day without incidents."""
    return simulate_day(day, rows, SEED)


def _injected_with(injection: Injection, rows: int) -> pd.DataFrame:
    return simulate_day(injection.day, rows, SEED, [injection])


def _injected(kind: str, day: dt.date, rows: int = ROWS) -> pd.DataFrame:
    """A day of the stream with one incident of kind injected on DAY."""
    return simulate_day(day, rows, SEED, [Injection(kind, DAY)])


def _design(frame: pd.DataFrame, columns: pd.Index | None = None) -> pd.DataFrame:
    """One-hot feature matrix for a model, aligned to columns when given."""
    x = pd.get_dummies(frame.drop(columns=["customer_id", "event_time", "churned"]), dtype=float)
    return x if columns is None else x.reindex(columns=columns, fill_value=0.0)


def _fit_auc(train: pd.DataFrame, test: pd.DataFrame) -> float:
    """ROC AUC on test of a logistic regression fitted on train."""
    x_train = _design(train)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    model.fit(x_train, train["churned"])
    scores = model.predict_proba(_design(test, x_train.columns))[:, 1]
    return roc_auc_score(test["churned"], scores)


def _days(offsets: range, injections: list[Injection], rows: int = 2500) -> pd.DataFrame:
    """Several days of the stream concatenated."""
    frames = [simulate_day(_day(i), rows, SEED, injections) for i in offsets]
    return pd.concat(frames, ignore_index=True)


# --- parse_injection ------------------------------------------------------------------------


def test_parse_injection_accepts_iso_date() -> None:
    assert parse_injection("null_burst@2026-01-05", START) == Injection(
        "null_burst", dt.date(2026, 1, 5)
    )


def test_parse_injection_accepts_zero_based_offset() -> None:
    assert parse_injection("leakage@0", START) == Injection("leakage", START)
    assert parse_injection(" concept_drift@14 ", START) == Injection(
        "concept_drift", dt.date(2026, 1, 15)
    )


@pytest.mark.parametrize(
    "text",
    [
        "nope@3",
        "null_burst",
        "null_burst@",
        "@3",
        "null_burst@tomorrow",
        "null_burst@-1",
        "null_burst@2026-13-01",
        "NULL_BURST@3",
    ],
)
def test_parse_injection_rejects_bad_text_listing_valid_kinds(text: str) -> None:
    with pytest.raises(ValueError) as error:
        parse_injection(text, START)
    assert all(kind in str(error.value) for kind in sim.INJECTION_KINDS)


def test_injection_rejects_unknown_kind_and_non_date_day() -> None:
    with pytest.raises(ValueError, match="gradual_drift"):
        Injection("meteor", START)
    with pytest.raises(ValueError, match="date"):
        Injection("leakage", dt.datetime(2026, 1, 1, 12))


def test_injection_kinds_are_exactly_the_documented_ones() -> None:
    assert set(sim.INJECTION_KINDS) == {
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
        "volume_spike",
    }


def test_volume_spike_delivers_its_factor_times_the_rows_of_valid_new_customers() -> None:
    assert parse_injection("volume_spike@10", START) == Injection("volume_spike", DAY)
    assert parse_injection("volume_spike:50@10", START) == Injection("volume_spike", DAY, 50)
    clean, spiked = _clean(DAY, 100), _injected_with(Injection("volume_spike", DAY, 50), 100)
    assert 50 * 0.9 * 100 <= len(spiked) <= 50 * 1.1 * 100
    assert len(spiked) > 40 * len(clean)
    assert spiked["customer_id"].is_unique
    assert tuple(spiked.columns) == sim.COLUMNS
    assert spiked["churned"].isin([0, 1]).all()
    assert len(_injected_with(Injection("volume_spike", DAY), 2)) >= 1800  # 1000x by default
    with pytest.raises(ValueError, match="only volume_spike takes a factor"):
        Injection("null_burst", DAY, 5)
    with pytest.raises(ValueError, match="bad factor"):
        parse_injection("volume_spike:x@10", START)
    with pytest.raises(ValueError, match="volume_spike"):
        simulate_day(DAY, sim.MAX_ROWS_PER_DAY, SEED, [Injection("volume_spike", DAY, 2)])


# --- a clean day ----------------------------------------------------------------------------


def test_clean_day_follows_the_data_contract() -> None:
    day = _clean(START)
    assert tuple(day.columns) == sim.COLUMNS
    assert 0.9 * ROWS <= len(day) <= 1.1 * ROWS
    assert not day.isna().any().any()
    assert day["customer_id"].is_unique
    assert day["customer_id"].str.fullmatch(r"C[0-9a-f]{12}").all()
    assert str(day["event_time"].dtype) == "datetime64[us, UTC]"
    assert day["event_time"].is_monotonic_increasing
    assert (day["event_time"].dt.date == START).all()
    assert (day["event_time"].dt.microsecond == 0).all()
    for column, domain in sim.CATEGORY_DOMAINS.items():
        assert set(day[column]) <= set(domain), column
    assert set(day["region"]) == set(sim.REGIONS)
    for column, (low, high) in sim.NUMERIC_RANGES.items():
        assert day[column].between(low, high).all(), column
    for column in sim.INTEGER_COLUMNS:
        assert pd.api.types.is_integer_dtype(day[column]), column
    for column in sim.FLOAT_COLUMNS:
        values = day[column].to_numpy()
        assert np.allclose(values, np.round(values, 2)), column
    assert set(day["churned"]) == {0, 1}


def test_clean_stream_is_realistic() -> None:
    week = _days(range(7), [], rows=3000)
    assert 0.15 <= week["churned"].mean() <= 0.30
    shares = week["region"].value_counts(normalize=True)
    assert shares.max() > 3 * shares.min()
    charges_by_plan = week.groupby("plan")["monthly_charges"].mean()
    assert charges_by_plan["basic"] < charges_by_plan["standard"] < charges_by_plan["premium"]
    by_contract = week.groupby("contract_type")["churned"].mean()
    assert by_contract["monthly"] > by_contract["annual"] > by_contract["two_year"]
    short = week["tenure_months"] < 6
    assert week.loc[short, "churned"].mean() > week.loc[~short, "churned"].mean()
    many_calls = week["support_calls"] >= 4
    assert week.loc[many_calls, "churned"].mean() > week.loc[~many_calls, "churned"].mean()
    assert week.groupby("region")["churned"].mean().std() > 0.05


def test_row_count_varies_a_little_around_the_nominal_size() -> None:
    counts = [len(_clean(_day(i), 1000)) for i in range(8)]
    assert all(900 <= count <= 1100 for count in counts)
    assert len(set(counts)) > 1
    assert len(simulate_day(START, 1, SEED)) == 1


def test_customer_ids_never_collide_across_days() -> None:
    ids = pd.concat([_clean(_day(i), 3000)["customer_id"] for i in range(10)])
    assert ids.is_unique


def test_label_is_learnable_on_a_held_out_day() -> None:
    assert _fit_auc(_days(range(4), []), _days(range(5, 6), [])) > 0.7


def test_a_large_day_keeps_its_size_and_unique_ids() -> None:
    frame = simulate_day(START, 200_000, SEED)
    assert 180_000 <= len(frame) <= 220_000
    assert frame["customer_id"].is_unique


# --- determinism ----------------------------------------------------------------------------


def test_day_depends_on_seed_and_date_only() -> None:
    assert_frame_equal(_clean(_day(3)), _clean(_day(3)))
    assert not _clean(_day(3)).equals(_clean(_day(4)))
    assert not _clean(_day(3)).equals(simulate_day(_day(3), ROWS, SEED + 1))


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_same_arguments_give_identical_bytes(tmp_path: Path, fmt: str) -> None:
    injections = [Injection("null_burst", _day(1)), Injection("gradual_drift", _day(0))]
    first = simulate(tmp_path / "a", START, 3, 500, SEED, fmt, injections)
    second = simulate(tmp_path / "b", START, 3, 500, SEED, fmt, injections)
    assert [p.name for p in first] == [p.name for p in second]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second, strict=True))
    other = simulate(tmp_path / "c", START, 1, 500, SEED + 1, fmt)
    assert other[0].read_bytes() != first[0].read_bytes()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_split_run_equals_one_run(tmp_path: Path, fmt: str) -> None:
    injections = [Injection("gradual_drift", _day(1)), Injection("concept_drift", _day(2))]
    whole = simulate(tmp_path / "whole", START, 5, 400, SEED, fmt, injections)
    simulate(tmp_path / "split", START, 4, 400, SEED, fmt, injections)
    tail = simulate(tmp_path / "split", _day(4), 1, 400, SEED, fmt, injections)
    assert tail == [tmp_path / "split" / f"2026-01-05.{fmt}"]
    assert tail[0].read_bytes() == whole[-1].read_bytes()


def test_injections_do_not_disturb_the_random_stream() -> None:
    injections = [Injection(kind, DAY) for kind in ONE_DAY_KINDS]
    for offset in (9, 11, 17):
        assert_frame_equal(simulate_day(_day(offset), ROWS, SEED, injections), _clean(_day(offset)))


# --- simulate and write_batch ---------------------------------------------------------------


def test_simulate_writes_one_sorted_file_per_day(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "raw"
    paths = simulate(out, dt.date(2026, 2, 27), 3, 50, SEED)
    assert paths == [out / "2026-02-27.csv", out / "2026-02-28.csv", out / "2026-03-01.csv"]
    assert sorted(p.name for p in out.iterdir()) == [p.name for p in paths]
    frame = pd.read_csv(paths[1])
    assert tuple(frame.columns) == sim.COLUMNS
    assert frame["event_time"].str.startswith("2026-02-28T").all()


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"days": 0}, "days"),
        ({"rows_per_day": 0}, "rows_per_day"),
        ({"fmt": "json"}, "fmt"),
        ({"seed": -1}, "seed"),
    ],
)
def test_simulate_validates_arguments(tmp_path: Path, kwargs: dict, name: str) -> None:
    args = {"days": 1, "rows_per_day": 10, "seed": SEED, "fmt": "csv"} | kwargs
    with pytest.raises(ValueError, match=name):
        simulate(tmp_path / "out", START, **args)
    assert not (tmp_path / "out").exists()


def test_simulate_day_validates_rows() -> None:
    with pytest.raises(ValueError, match="rows"):
        simulate_day(START, 0, SEED)


def test_csv_format_is_stable_and_readable(tmp_path: Path) -> None:
    frame = simulate_day(DAY, 300, SEED, [Injection("null_burst", DAY)])
    path = tmp_path / "day.csv"
    write_batch(frame, path, "csv")
    raw = path.read_bytes()
    assert b"\r" not in raw
    lines = raw.decode("utf-8").splitlines()
    assert lines[0] == ",".join(sim.COLUMNS)
    first = lines[1].split(",")
    assert first[1] == frame["event_time"].iloc[0].strftime("%Y-%m-%dT%H:%M:%SZ")
    assert all(len(line.split(",")[7].partition(".")[2]) in (0, 2) for line in lines[1:])
    back = pd.read_csv(path, keep_default_na=False)
    assert ((back["region"] == "") == frame["region"].isna().to_numpy()).all()
    assert ((back["monthly_charges"] == "") == frame["monthly_charges"].isna().to_numpy()).all()
    assert (back["customer_id"] == frame["customer_id"].to_numpy()).all()


def test_parquet_has_typed_time_and_round_trips(tmp_path: Path) -> None:
    frame = _clean(START, 300)
    path = tmp_path / "day.parquet"
    write_batch(frame, path, "parquet")
    schema = pq.read_schema(path)
    assert schema.field("event_time").type == pa.timestamp("us", tz="UTC")
    assert schema.field("customer_id").type == pa.string()
    assert b"pandas" not in (schema.metadata or {})
    assert_frame_equal(pd.read_parquet(path), frame, check_dtype=False)
    again = tmp_path / "again.parquet"
    write_batch(frame, again, "parquet")
    assert again.read_bytes() == path.read_bytes()


def _crash_midway(frame: pd.DataFrame, tmp: Path) -> None:
    """A writer that leaves a partial file behind and fails."""
    tmp.write_bytes(b"partial")
    raise OSError("disk full")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_write_batch_replaces_atomically(
    tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / f"day.{fmt}"
    write_batch(_clean(START, 50), path, fmt)
    before = path.read_bytes()
    with monkeypatch.context() as patch:
        patch.setattr(sim, f"_write_{fmt}_file", _crash_midway)
        with pytest.raises(OSError, match="disk full"):
            write_batch(_clean(_day(1), 50), path, fmt)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    write_batch(_clean(_day(1), 50), path, fmt)
    assert path.read_bytes() != before


def test_write_batch_rejects_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fmt"):
        write_batch(_clean(START, 5), tmp_path / "x.json", "json")


# --- one-day injections ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ONE_DAY_KINDS)
def test_one_day_injection_leaves_other_days_clean(kind: str) -> None:
    for offset in (9, 11, 17):
        assert_frame_equal(_injected(kind, _day(offset)), _clean(_day(offset)))
    assert not _injected(kind, DAY).equals(_clean(DAY))


def test_label_noise_flips_about_a_fifth_of_labels_only() -> None:
    clean, noisy = _clean(DAY), _injected("label_noise", DAY)
    assert_frame_equal(noisy.drop(columns="churned"), clean.drop(columns="churned"))
    flipped = noisy["churned"] != clean["churned"]
    assert 0.18 <= flipped.mean() <= 0.22
    assert set(noisy["churned"]) == {0, 1}


def test_bad_label_puts_values_outside_zero_one() -> None:
    clean, bad = _clean(DAY), _injected("bad_label", DAY)
    assert_frame_equal(bad.drop(columns="churned"), clean.drop(columns="churned"))
    outside = ~bad["churned"].isin([0, 1])
    assert 0.04 <= outside.mean() <= 0.06
    assert set(bad.loc[outside, "churned"]) <= {-1, 2}
    assert (bad.loc[~outside, "churned"] == clean.loc[~outside, "churned"]).all()


def test_null_burst_empties_charges_and_region_in_the_same_rows() -> None:
    clean, burst = _clean(DAY), _injected("null_burst", DAY)
    empty = burst["monthly_charges"].isna()
    assert 0.27 <= empty.mean() <= 0.33
    assert (burst["region"].isna() == empty).all()
    others = [c for c in sim.COLUMNS if c not in ("monthly_charges", "region")]
    assert_frame_equal(burst[others], clean[others])
    assert not burst[others].isna().any().any()
    assert (burst.loc[~empty, "monthly_charges"] == clean.loc[~empty, "monthly_charges"]).all()


def test_out_of_range_adds_impossible_values() -> None:
    clean, broken = _clean(DAY), _injected("out_of_range", DAY)
    negative_tenure = broken["tenure_months"] < 0
    old_age = broken["age"] >= 150
    negative_charges = broken["monthly_charges"] < 0
    assert negative_tenure.any() and old_age.any() and negative_charges.any()
    changed = (broken != clean).any(axis=1)
    assert (changed == (negative_tenure | old_age | negative_charges)).all()
    assert 0.04 <= changed.mean() <= 0.06


def test_schema_break_renames_monthly_charges() -> None:
    clean, broken = _clean(DAY), _injected("schema_break", DAY)
    assert "monthly_charges" not in broken.columns
    assert list(broken.columns) == [
        "monthly_charge" if c == "monthly_charges" else c for c in sim.COLUMNS
    ]
    assert_frame_equal(broken.rename(columns={"monthly_charge": "monthly_charges"}), clean)


def test_missing_column_drops_support_calls() -> None:
    clean, broken = _clean(DAY), _injected("missing_column", DAY)
    assert list(broken.columns) == [c for c in sim.COLUMNS if c != "support_calls"]
    assert_frame_equal(broken, clean.drop(columns="support_calls"))


def test_duplicates_appends_exact_copies_sorted_by_time() -> None:
    clean, doubled = _clean(DAY), _injected("duplicates", DAY)
    extra = len(doubled) - len(clean)
    assert 0.09 * len(clean) <= extra <= 0.11 * len(clean)
    assert doubled.duplicated().sum() == extra
    assert doubled["event_time"].is_monotonic_increasing
    assert_frame_equal(doubled.drop_duplicates(ignore_index=True), clean)


def test_leakage_copies_rows_from_seven_days_earlier() -> None:
    week_ago = _clean(DAY - dt.timedelta(days=7))
    clean, leaky = _clean(DAY), _injected("leakage", DAY)
    assert len(leaky) == len(clean)
    leaked = leaky[leaky["customer_id"].isin(week_ago["customer_id"])]
    assert 0.09 * len(clean) <= len(leaked) <= 0.11 * len(clean)
    assert (leaky["event_time"].dt.date == DAY).all()
    assert leaky["event_time"].is_monotonic_increasing
    source = week_ago.set_index("customer_id").loc[leaked["customer_id"]].reset_index()
    expected = source.assign(event_time=source["event_time"] + pd.Timedelta(days=7))
    assert_frame_equal(leaked.reset_index(drop=True), expected[list(sim.COLUMNS)])
    fresh = leaky[~leaky["customer_id"].isin(week_ago["customer_id"])]
    assert fresh["customer_id"].isin(clean["customer_id"]).all()


def test_injections_on_the_same_day_compose() -> None:
    both = [Injection("null_burst", DAY), Injection("schema_break", DAY)]
    frame = simulate_day(DAY, ROWS, SEED, both)
    assert "monthly_charge" in frame.columns
    assert frame["monthly_charge"].isna().any() and frame["region"].isna().any()


# --- persistent injections ------------------------------------------------------------------


def test_gradual_drift_raises_charges_and_usage_day_by_day() -> None:
    for offset in (0, 9):
        assert_frame_equal(_injected("gradual_drift", _day(offset)), _clean(_day(offset)))
    ratios = []
    for offset in (10, 13, 16, 20):
        clean, drifted = _clean(_day(offset)), _injected("gradual_drift", _day(offset))
        unchanged = ["customer_id", "event_time", "region", "plan", "contract_type", "age"]
        assert_frame_equal(drifted[unchanged], clean[unchanged])
        assert drifted["data_usage_gb"].mean() > clean["data_usage_gb"].mean()
        ratios.append(drifted["monthly_charges"].mean() / clean["monthly_charges"].mean())
    assert ratios == sorted(ratios) and ratios[0] > 1.0 and ratios[-1] > 1.2
    means = [_injected("gradual_drift", _day(i))["monthly_charges"].mean() for i in (8, 14, 20)]
    assert means == sorted(means) and means[-1] > 1.2 * means[0]


def test_concept_drift_changes_only_the_labels_from_its_day_on() -> None:
    assert_frame_equal(_injected("concept_drift", _day(9)), _clean(_day(9)))
    for offset in (10, 15):
        clean, drifted = _clean(_day(offset)), _injected("concept_drift", _day(offset))
        assert_frame_equal(drifted.drop(columns="churned"), clean.drop(columns="churned"))
        assert (drifted["churned"] != clean["churned"]).mean() > 0.15
        assert 0.10 <= drifted["churned"].mean() <= 0.35


def test_concept_drift_makes_a_pre_drift_model_clearly_worse() -> None:
    drift = [Injection("concept_drift", DAY)]
    before = _days(range(6, 10), drift)
    after = _days(range(10, 14), drift)
    held_out = _days(range(14, 16), drift)
    stale, retrained = _fit_auc(before, held_out), _fit_auc(after, held_out)
    assert retrained > 0.7
    assert stale < retrained - 0.2
