"""The Spark engine gives the pandas engine's bytes: validation outcomes and quarantined rows
on good and faulty batches of the built-in stream, and the curated window.

One file, so one Spark session serves every in-process test (see conftest.py)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from datawheel.fileio import file_md5, write_json, write_text
from datawheel.ingest import ingest_batches, read_manifest
from datawheel.params import PROVENANCE_COLUMNS, load_params
from datawheel.simulate import Injection, csv_text, simulate, simulate_day
from datawheel.validate import render_markdown, run_validation

from .conftest import SPARK_ENGINE, needs_java

pytestmark = [pytest.mark.spark, needs_java]

ROOT = Path(__file__).resolve().parents[2]
START = dt.date(2026, 3, 1)
SEED = 5
ROWS = 120


@pytest.fixture(scope="module")
def params():
    return load_params(ROOT / "params.yaml", check_estimators=False)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, params) -> Path:
    """Ingested batches: three good days (the volume suites' history), then a null burst,
    out-of-range values with bad labels, duplicated rows, a schema break (rejected by ingest)
    and a small week batch (fewer rows than validate.min_rows_for_mostly) with nulls."""
    root = tmp_path_factory.mktemp("corpus")
    raw = root / "data/raw"
    day = START.__add__
    injections = [
        Injection("null_burst", day(dt.timedelta(days=3))),
        Injection("out_of_range", day(dt.timedelta(days=4))),
        Injection("bad_label", day(dt.timedelta(days=4))),
        Injection("duplicates", day(dt.timedelta(days=5))),
        Injection("schema_break", day(dt.timedelta(days=6))),
    ]
    simulate(raw, START, 7, ROWS, SEED, "csv", injections)
    week_day = day(dt.timedelta(days=8))
    week = simulate_day(week_day, 40, SEED, [Injection("null_burst", week_day)])
    write_text(raw / "2026-W11.csv", csv_text(week))
    ingest_batches(raw, root / "data/ingested", root / "data/quarantine/batches", params.contract)
    return root


def validate_with(root: Path, params, engine, name: str) -> Path:
    """run_validation as the stage runs it, writing its four outputs under root/name."""
    out = root / name
    report = run_validation(
        ingested_dir=root / "data/ingested",
        records=read_manifest(root / "data/ingested"),
        suites_dir=ROOT / "expectations",
        out_dir=out / "rows",
        volume_history_batches=params.validate_.volume_history_batches,
        volume_min_history_batches=params.validate_.volume_min_history_batches,
        min_rows_for_mostly=params.validate_.min_rows_for_mostly,
        columns=(*params.contract.columns, *PROVENANCE_COLUMNS),
        root=root,
        engine=engine,
    )
    write_json(out / "validation.json", report.to_dict())
    write_json(out / "validation_summary.json", report.totals)
    write_text(out / "validation.md", render_markdown(report))
    return out


def tree_md5(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): file_md5(p) for p in folder.rglob("*") if p.is_file()}


def test_validation_gives_the_same_files_on_both_engines(spark, corpus, params):
    pandas_out = validate_with(corpus, params, None, "pandas")
    spark_out = validate_with(corpus, params, SPARK_ENGINE, "spark")

    report = json.loads((pandas_out / "validation.json").read_text())
    statuses = {b["batch"].rsplit("/", 1)[1]: b["status"] for b in report["batches"]}
    # the corpus is what it says: every kind of verdict, and rows quarantined
    assert statuses["2026-03-01.csv"] == "passed"
    assert statuses["2026-03-04.csv"] == "failed"  # null burst
    assert statuses["2026-03-05.csv"] == "failed"  # out of range, bad labels
    assert statuses["2026-03-07.csv"] == "failed"  # schema break, rejected by ingest
    assert statuses["2026-W11.csv"] == "warning"  # small batch: its null rows quarantined
    assert report["totals"]["quarantined_rows"] > 0
    assert tree_md5(spark_out) == tree_md5(pandas_out)
