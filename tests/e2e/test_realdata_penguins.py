"""Palmer penguins: an int id, three species, a segment (island), nulls written "NA" by the
supplier, weekly batches. Played end to end from `datawheel init`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from palmerpenguins import load_penguins

from tests.e2e.realdata import Dataset, check_scenario, play


def penguins() -> pd.DataFrame:
    """The 344 penguins in a seeded order, one observation every six hours from 2024-01-01."""
    table = load_penguins()
    order = np.random.default_rng(7).permutation(len(table))
    table = table.iloc[order].reset_index(drop=True)
    table.insert(0, "penguin_id", np.arange(1000, 1000 + len(table)))
    start = pd.Timestamp("2024-01-01", tz="UTC")
    table.insert(1, "observed_at", start + pd.to_timedelta(np.arange(len(table)) * 6, unit="h"))
    return table


FLOAT = {"type": "float", "nullable": True}
PENGUINS = Dataset(
    name="palmer-penguins",
    load=penguins,
    contract={
        "id_column": "penguin_id",
        "time_column": "observed_at",
        "target": "species",
        "segment": "island",
        "classes": ["Adelie", "Chinstrap", "Gentoo"],
        "positive_class": None,
        "null_values": ["NA"],
        "columns": {
            "penguin_id": {"type": "int", "nullable": False},
            "observed_at": {"type": "datetime", "nullable": False},
            "species": {"type": "category", "nullable": False},
            "island": {"type": "category", "nullable": False},
            "bill_length_mm": FLOAT,
            "bill_depth_mm": FLOAT,
            "flipper_length_mm": FLOAT,
            "body_mass_g": FLOAT,
            "sex": {"type": "category", "nullable": True},
            "year": {"type": "int", "nullable": False},
        },
    },
    period="week",
    history=9,
    settings={
        ("window", "days"): 0,
        ("split", "holdout_days"): 21,
        ("gate", "min_segment_rows"): 20,
    },
    ranges={
        "bill_length_mm": (25.0, 70.0),
        "bill_depth_mm": (10.0, 25.0),
        "flipper_length_mm": (150.0, 250.0),
        "body_mass_g": (2000.0, 7000.0),
        "year": (2007, 2009),
    },
)


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    return play(PENGUINS, tmp_path_factory.mktemp("penguins"))


def test_penguins_end_to_end(played):
    check_scenario(PENGUINS, played)


def test_penguins_na_tokens_are_nulls_and_islands_are_segments(played):
    raw = (played.root / "data/raw" / f"{played.batches[0][0]}.csv").read_text()
    assert ",NA," in raw or raw.rstrip().endswith(",NA") or ",NA\n" in raw
    train = pd.read_parquet(played.root / "data/curated/train.parquet")
    assert train["sex"].isna().any() and not (train["sex"] == "NA").any()
    assert train["bill_length_mm"].isna().any()
    segments = json.loads((played.root / "reports/segments.json").read_text())["candidate"]
    assert {s["segment"] for s in segments} == {"Biscoe", "Dream", "Torgersen"}


def test_penguins_entity_is_an_int_and_batches_are_iso_weeks(played):
    assert played.entity.isdigit()
    assert played.batches[0][0] == "2024-W01"
    assert all("-W" in name for delivery in played.batches for name in delivery)
