"""Fixtures for the data tests: batches of the built-in stream, typed as ingest types them.

Every batch is validated at most once per session (GX runs cost most of the time here).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from datawheel.config.params import Contract, load_params
from datawheel.data.contract import read_batch, with_provenance
from datawheel.data.simulate import Injection, csv_text, simulate_day
from datawheel.pipeline.validate import BatchValidation, SuiteRunner, load_suites

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

ROOT = Path(__file__).resolve().parents[2]
DAY = dt.date(2026, 1, 5)
BATCH = f"data/raw/{DAY.isoformat()}.csv"
ROWS = 300
SEED = 11
# A day judged after a history of days like it: the volume suites' parameter.
HISTORY = {"recent_median_rows": float(ROWS)}


@pytest.fixture(scope="session")
def batch_name() -> str:
    return BATCH


@pytest.fixture(scope="session")
def contract() -> Contract:
    return load_params(ROOT / "params.yaml").contract


@pytest.fixture(scope="session")
def suites() -> list[dict]:
    return load_suites(ROOT / "expectations")


@pytest.fixture(scope="session")
def runner(suites) -> SuiteRunner:
    return SuiteRunner(suites)


@pytest.fixture(scope="session")
def raw_batch() -> Callable[[str | None], pd.DataFrame]:
    """The day's raw frame as delivered, with one injected incident (or none)."""

    def make(kind: str | None = None) -> pd.DataFrame:
        injections = [Injection(kind, DAY)] if kind else []
        return simulate_day(DAY, ROWS, SEED, injections)

    return make


@pytest.fixture(scope="session")
def typed_batch(raw_batch, contract) -> Callable[[str | None], pd.DataFrame]:
    """The day's batch written as CSV and typed through ingest, with provenance columns."""
    frames: dict[str | None, pd.DataFrame] = {}

    def make(kind: str | None = None) -> pd.DataFrame:
        if kind not in frames:
            data = csv_text(raw_batch(kind)).encode("utf-8")
            typed, lines = read_batch(data, BATCH, contract)
            frames[kind] = with_provenance(typed, BATCH, "0" * 32, lines)
        return frames[kind].copy()

    return make


@pytest.fixture(scope="session")
def validated(typed_batch, runner) -> Callable[[str | None], BatchValidation]:
    """The suites' verdict on the day's batch with one injected incident (or none), judged
    after a history of batches of its nominal size (`recent_median_rows`)."""
    results: dict[str | None, BatchValidation] = {}

    def make(kind: str | None = None) -> BatchValidation:
        if kind not in results:
            results[kind] = runner.validate(typed_batch(kind), BATCH, HISTORY)
        return results[kind]

    return make
