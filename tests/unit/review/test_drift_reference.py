"""`drift.reference`: which batches the newest ones are compared with, and its params."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from datawheel.config.params import Drift, load_params, parse_params
from datawheel.data.revisions import RevisionError, TrackedFile
from datawheel.data.simulate import csv_text, simulate_day
from datawheel.errors import ParamsError
from datawheel.pipeline.validate import batch_period
from datawheel.review.drift import compare
from datawheel.review.drift_reference import choose_reference_batches, shift_period
from datawheel.review.monitor import _batch_reference

ROOT = Path(__file__).resolve().parents[3]
SETTINGS = Drift(reference_batches=3)


def months(first_year: int, last_year: int) -> list[str]:
    return [f"raw/{y}-{m:02d}.csv" for y in range(first_year, last_year + 1) for m in range(1, 13)]


# --- params ------------------------------------------------------------------------------


def test_the_default_is_the_champion_and_one_year_of_seasons():
    shipped = load_params(ROOT / "params.yaml", check_estimators=False).drift
    assert Drift().reference == shipped.reference == "champion"
    assert Drift().season_years == shipped.season_years == 1


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("reference", "seasonal", r"drift\.reference: Input should be 'champion', 'recent'"),
        ("season_years", 0, r"drift\.season_years: Input should be greater than or equal to 1"),
    ],
)
def test_a_wrong_value_names_the_key_with_exit_code_2(key, value, message):
    data = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    pipeline = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))
    data["drift"][key] = value
    for entry in pipeline["vars"]:
        data.update(entry)
    with pytest.raises(ParamsError, match=message) as raised:
        parse_params(data, check_estimators=False)
    assert raised.value.exit_code == 2


# --- champion and recent -----------------------------------------------------------------


def test_champion_chooses_no_batch():
    assert choose_reference_batches(
        months(2024, 2025), ["raw/2025-12.csv"], "champion", SETTINGS
    ) == (
        [],
        None,
    )


def test_recent_is_the_last_n_batches_before_the_judged_ones():
    batches = months(2025, 2025)
    chosen, note = choose_reference_batches(batches, batches[-2:], "recent", SETTINGS)
    assert chosen == ["raw/2025-08.csv", "raw/2025-09.csv", "raw/2025-10.csv"] and note is None
    every = SETTINGS.model_copy(update={"reference_batches": 0})
    assert choose_reference_batches(batches, batches[-1:], "recent", every)[0] == batches[:-1]


def test_recent_never_looks_past_the_judged_batch():
    batches = months(2025, 2025)
    chosen, _ = choose_reference_batches(batches, ["raw/2025-03.csv"], "recent", SETTINGS)
    assert chosen == ["raw/2025-01.csv", "raw/2025-02.csv"]


# --- season, by period type --------------------------------------------------------------


def test_season_for_a_month_is_the_same_month_of_earlier_years():
    batches = months(2023, 2026)[:-11]  # up to 2026-01
    judged = ["raw/2026-01.csv"]
    assert choose_reference_batches(batches, judged, "season", SETTINGS) == (
        ["raw/2025-01.csv"],
        None,
    )
    three = SETTINGS.model_copy(update={"season_years": 3})
    assert choose_reference_batches(batches, judged, "season", three)[0] == [
        "raw/2023-01.csv",
        "raw/2024-01.csv",
        "raw/2025-01.csv",
    ]


@pytest.mark.parametrize(
    ("judged", "earlier"),
    [
        ("2025-03-14", "2024-03-14"),
        ("2024-02-29", "2023-02-28"),  # a leap day: the 28th of a common year
        ("2026-W10", "2025-W10"),  # the ISO week with the same number
        ("2021-W01", "2020-W01"),  # ISO years: 2020-W01 starts on 30 December 2019
        ("2027-Q3", "2026-Q3"),
        ("2026", "2025"),
    ],
)
def test_season_shifts_each_period_type_by_whole_years(judged, earlier):
    start, end = batch_period(judged)
    assert shift_period((start, end), 1) == batch_period(earlier)
    batches = [f"d/{earlier}.csv", f"d/{judged}.csv"]
    assert choose_reference_batches(batches, batches[-1:], "season", SETTINGS) == (
        batches[:1],
        None,
    )


def test_week_53_becomes_week_52_in_a_year_without_one():
    assert shift_period(batch_period("2026-W53"), 1) == batch_period("2025-W52")


def test_finer_batches_inside_the_season_belong_to_it():
    """A monthly batch's season may have been delivered day by day."""
    days = [f"d/2025-03-{d:02d}.csv" for d in range(1, 32)]
    batches = ["d/2025-02-28.csv", *days, "d/2025-04-01.csv", "d/2026-03.csv"]
    chosen, note = choose_reference_batches(batches, ["d/2026-03.csv"], "season", SETTINGS)
    assert chosen == days and note is None


# --- falling back, never silently --------------------------------------------------------


def test_the_first_year_falls_back_to_recent_with_a_note():
    batches = months(2025, 2025)
    chosen, note = choose_reference_batches(batches, ["raw/2025-12.csv"], "season", SETTINGS)
    assert chosen == ["raw/2025-09.csv", "raw/2025-10.csv", "raw/2025-11.csv"]
    assert "no batch of the same period 1 year earlier than raw/2025-12.csv" in note
    assert "reference recent" in note


def test_names_without_a_period_fall_back_to_recent_with_a_note():
    batches = [f"raw/delivery-{i}.csv" for i in range(6)]
    chosen, note = choose_reference_batches(batches, batches[-1:], "season", SETTINGS)
    assert chosen == batches[2:5]
    assert "raw/delivery-5.csv not named by a period" in note and "YYYY-Www" in note


def test_a_judged_batch_without_a_season_is_named_when_others_have_one():
    batches = ["raw/2025-01.csv", "raw/2025-12.csv", "raw/2026-01.csv", "raw/2026-02.csv"]
    chosen, note = choose_reference_batches(batches, batches[-2:], "season", SETTINGS)
    assert chosen == ["raw/2025-01.csv"]
    assert "earlier than raw/2026-02.csv" in note


# --- behaviour: seasonal data ------------------------------------------------------------

ROWS_PER_MONTH = 400
NOISE = 1.0


def monthly_weather(years: range, seed: int = 3) -> dict[str, pd.DataFrame]:
    """Monthly batches of a temperature with a yearly sine wave (amplitude 10) plus noise."""
    rng = np.random.default_rng(seed)
    batches = {}
    for year in years:
        for month in range(1, 13):
            season = 10.0 * np.sin(2 * np.pi * (month - 1) / 12)
            batches[f"raw/{year}-{month:02d}.csv"] = pd.DataFrame(
                {"temperature": rng.normal(15.0 + season, NOISE, ROWS_PER_MONTH)}
            )
    return batches


def drift_of(batches: dict[str, pd.DataFrame], reference: list[str], judged: str):
    before = pd.concat([batches[name] for name in reference], ignore_index=True)
    result = compare(before, batches[judged], {"temperature": "numeric"}, SEASONS)
    return result.column("temperature")


SEASONS = Drift(reference="season", season_years=2)


def test_a_seasonal_column_is_stable_against_its_season_and_shifted_against_history():
    batches = monthly_weather(range(2024, 2027))
    names = list(batches)
    judged = names[-1]  # 2026-12
    history = names[:-1]
    assert drift_of(batches, history, judged).verdict == "shifted"
    chosen, note = choose_reference_batches(names, [judged], "season", SEASONS)
    assert chosen == ["raw/2024-12.csv", "raw/2025-12.csv"] and note is None
    assert drift_of(batches, chosen, judged).verdict == "stable"


def test_a_real_shift_is_still_detected_against_the_season():
    batches = monthly_weather(range(2024, 2027))
    names = list(batches)
    judged = names[-1]
    batches[judged] = batches[judged] + 5 * NOISE
    chosen, _ = choose_reference_batches(names, [judged], "season", SEASONS)
    temperature = drift_of(batches, chosen, judged)
    assert temperature.verdict == "shifted"
    assert "distribution" in temperature.reasons[0]


# --- which batches are accepted (the monitor's side, on a stand-in revision) -------------


class StoredRevision:
    """What `_batch_reference` reads from a revision: tracked bytes and validation.json."""

    short = "0123abcd"
    commit = "0123abcd" * 5

    def __init__(self, files: dict[str, bytes], validation: dict):
        self.files, self.validation = files, validation

    def read_tracked(self, item: TrackedFile) -> bytes:
        return self.files[item.path]

    def read_json(self, path: str, default=None, worktree: bool = False):
        return self.validation if path.endswith("/validation.json") else default


def test_copies_failed_and_contract_breaking_batches_are_not_in_the_reference():
    params = load_params(ROOT / "params.yaml", check_estimators=False)
    names = [f"data/raw/2026-01-{d:02d}.csv" for d in range(1, 11)]
    files = {
        name: csv_text(simulate_day(dt.date(2026, 1, d), 120, d)).encode("utf-8")
        for d, name in enumerate(names, start=1)
    }
    files[names[6]] = files[names[1]]  # day 7 is a copy of day 2
    broken = simulate_day(dt.date(2026, 1, 9), 120, 9).drop(columns=["monthly_charges"])
    files[names[8]] = csv_text(broken).encode("utf-8")  # day 9 breaks the contract
    md5 = {name: hashlib.md5(data).hexdigest() for name, data in files.items()}
    failed = {"batch": names[7], "md5": md5[names[7]], "status": "failed"}  # day 8
    revision = StoredRevision(files, {"batches": [failed]})
    batches = [TrackedFile(name, md5[name]) for name in names]

    recent = SETTINGS.model_copy(update={"reference": "recent"})
    rows, described, notes = _batch_reference(revision, params, batches, 1, recent)
    assert described["batches"] == names[3:6]  # days 4-6: the 3 accepted before day 10
    assert described["kind"] == described["requested"] == "recent"
    assert sorted(rows["batch"].unique()) == names[3:6]
    assert [note.split(" is left out of the reference: ")[0] for note in notes] == names[6:9]
    assert "a copy of data/raw/2026-01-02.csv" in notes[0]
    assert "failed validation" in notes[1] and "breaks the contract" in notes[2]


def test_no_accepted_batch_before_is_an_error_naming_the_batch():
    params = load_params(ROOT / "params.yaml", check_estimators=False)
    data = csv_text(simulate_day(dt.date(2026, 1, 1), 120, 1)).encode("utf-8")
    only = TrackedFile("data/raw/2026-01-01.csv", hashlib.md5(data).hexdigest())
    revision = StoredRevision({only.path: data}, {})
    with pytest.raises(RevisionError, match=r"no accepted batch before data/raw/2026-01-01.csv"):
        _batch_reference(revision, params, [only], 1, SEASONS)
