"""Wisconsin breast cancer (scikit-learn): binary, 30 float features whose names hold spaces,
a string case id, no segment, daily batches. Played end to end from `datawheel init`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from tests.e2e.realdata import Dataset, check_scenario, play


def cancer_cases() -> pd.DataFrame:
    """569 cases in a seeded order, 20 a day from 2025-03-01; malignant is the positive class."""
    bunch = load_breast_cancer(as_frame=True)
    table = bunch.data.copy()
    table["malignant"] = 1 - bunch.target  # scikit-learn codes benign as 1
    order = np.random.default_rng(3).permutation(len(table))
    table = table.iloc[order].reset_index(drop=True)
    table.insert(0, "case_id", [f"WDBC-{i:04d}" for i in order])
    start = pd.Timestamp("2025-03-01", tz="UTC")
    minutes = np.arange(len(table)) % 20 * 60 + 8 * 60
    days = np.arange(len(table)) // 20
    table.insert(
        1,
        "received_at",
        start + pd.to_timedelta(days, unit="D") + pd.to_timedelta(minutes, unit="min"),
    )
    return table


FEATURES = load_breast_cancer().feature_names.tolist()
CANCER = Dataset(
    name="breast-cancer",
    load=cancer_cases,
    contract={
        "id_column": "case_id",
        "time_column": "received_at",
        "target": "malignant",
        "segment": None,
        "classes": [0, 1],
        "positive_class": 1,
        "null_values": [],
        "columns": {
            "case_id": {"type": "string", "nullable": False},
            "received_at": {"type": "datetime", "nullable": False},
            **{name: {"type": "float", "nullable": False} for name in FEATURES},
            "malignant": {"type": "int", "nullable": False},
        },
    },
    period="day",
    history=21,
    settings={("window", "days"): 28, ("split", "holdout_days"): 7},
    ranges={"mean radius": (0.0, 50.0), "worst area": (0.0, 10000.0)},
)


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    return play(CANCER, tmp_path_factory.mktemp("cancer"))


def test_cancer_end_to_end(played):
    check_scenario(CANCER, played)


def test_cancer_columns_with_spaces_reach_the_model(played):
    train = pd.read_parquet(played.root / "data/curated/train.parquet")
    assert {"mean radius", "worst fractal dimension"} <= set(train.columns)
    assert played.metrics["candidate"]["roc_auc"] > 0.9
    assert played.entity.startswith("WDBC-")
    assert played.batches[1] == ["2025-03-22", "2025-03-23"]
