"""The Spark engine gives the pandas engine's bytes: validation outcomes and quarantined rows
on good and faulty batches of the built-in stream, and the curated window.

One file, so one Spark session serves every in-process test (see conftest.py)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from datawheel.config.params import PROVENANCE_COLUMNS, Engine, load_params
from datawheel.data.batches import load_ingested, read_manifest
from datawheel.data.simulate import Injection, csv_text, simulate, simulate_day
from datawheel.errors import LeakageError
from datawheel.io.files import file_md5, write_json, write_parquet, write_text
from datawheel.pipeline.curate import batches_in_window
from datawheel.pipeline.curation import curate_batches
from datawheel.pipeline.ingest import ingest_batches
from datawheel.pipeline.validate import run_validation
from datawheel.render.validation import render_markdown

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
    """Ingested batches: two good days (the volume suites' history), then a null burst
    with duplicated rows, out-of-range values with bad labels, a schema break (rejected by
    ingest) and a small week batch (fewer rows than validate.min_rows_for_mostly) with nulls.
    Each batch costs Spark seconds (about 0.15 s per expectation), so faults share days."""
    root = tmp_path_factory.mktemp("corpus")
    raw = root / "data/raw"
    day = START.__add__
    injections = [
        Injection("null_burst", day(dt.timedelta(days=2))),
        Injection("out_of_range", day(dt.timedelta(days=3))),
        Injection("bad_label", day(dt.timedelta(days=3))),
        Injection("duplicates", day(dt.timedelta(days=2))),
        Injection("schema_break", day(dt.timedelta(days=4))),
    ]
    simulate(raw, START, 5, ROWS, SEED, "csv", injections)
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
        volume_min_history_batches=2,  # two good days judge the volume of the others
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
    assert statuses["2026-03-03.csv"] == "failed"  # null burst, duplicates
    assert statuses["2026-03-04.csv"] == "failed"  # out of range, bad labels
    assert statuses["2026-03-05.csv"] == "failed"  # schema break, rejected by ingest
    assert statuses["2026-W11.csv"] == "warning"  # small batch: its null rows quarantined
    assert report["totals"]["quarantined_rows"] > 0
    failed = {o["suite"] for b in report["batches"] for o in b["outcomes"] if not o["success"]}
    assert {"nulls", "ranges", "label", "uniqueness", "contract"} <= failed
    assert "volume/expect_table_row_count_to_be_between" not in report["batches"][2]["skipped"]
    assert tree_md5(spark_out) == tree_md5(pandas_out)


@pytest.fixture(scope="module")
def stream(tmp_path_factory, params) -> Path:
    """Twelve ingested days with label noise, duplicated rows, entities copied from a week
    earlier (leakage), one day delivered twice (same bytes), and a batch whose rows sit on
    either side of an 8-day window's first instant."""
    root = tmp_path_factory.mktemp("stream")
    raw = root / "data/raw"
    day = START.__add__
    injections = [
        Injection("label_noise", day(dt.timedelta(days=5))),
        Injection("duplicates", day(dt.timedelta(days=9))),
        Injection("leakage", day(dt.timedelta(days=11))),
    ]
    files = simulate(raw, START, 12, ROWS, SEED, "csv", injections)
    (raw / "resent-2026-03-10.csv").write_bytes(files[9].read_bytes())
    window_start = pd.Timestamp(day(dt.timedelta(days=4)), tz="UTC")
    edge = simulate_day(day(dt.timedelta(days=4)), 10, SEED + 1, []).iloc[:6].copy()
    edge["event_time"] = [window_start + pd.Timedelta(microseconds=d) for d in (-1, 0, 1) * 2]
    (raw / "edge.csv").write_text(
        edge.assign(event_time=edge["event_time"].map(lambda t: t.isoformat())).to_csv(
            index=False, lineterminator="\n"
        )
    )
    ingest_batches(raw, root / "data/ingested", root / "data/quarantine/batches", params.contract)
    return root


def curate_with(root: Path, params, engine, **settings):
    """The curate stage's computation on `engine`, quarantining every 29th row id."""
    records = read_manifest(root / "data/ingested")
    changed = params.model_copy(
        update={"engine": engine or Engine()}
        | {key: getattr(params, key).model_copy(update=value) for key, value in settings.items()}
    )
    read, before = batches_in_window(records, changed.window.days)
    ids = load_ingested(root / "data/ingested", read)["row_id"]
    quarantined = set(ids.sort_values().iloc[::29])
    return curate_batches(root / "data/ingested", read, quarantined, changed, before)


def curated_bytes(root: Path, name: str, result) -> dict[str, str]:
    train, holdout, report = result
    out = root / name
    write_parquet(out / "train.parquet", train)
    write_parquet(out / "holdout.parquet", holdout)
    write_json(out / "curation.json", report.to_dict())
    return tree_md5(out)


@pytest.mark.parametrize(
    ("window", "action"), [(8, "flag"), (0, "drop")], ids=["8-day-window-flag", "all-drop"]
)
def test_curation_gives_the_same_files_on_both_engines(spark, stream, params, window, action):
    settings = {
        "window": {"days": window},
        "leakage": {"check_entities": False},
        "label_issues": {"action": action, "folds": 3},
    }
    pandas_result = curate_with(stream, params, None, **settings)
    report = pandas_result[2]
    assert report.counts["duplicates"] > 0 and report.counts["quarantined"] > 0
    assert report.counts[f"label_issues_{'flagged' if action == 'flag' else 'dropped'}"] > 0
    if window:  # the edge batch: the row 1 microsecond before the window's start is outside
        edge = next(b for b in report.per_batch if b["batch"].endswith("edge.csv"))
        assert edge["outside_window"] == 2 and edge["rows"] == 6
    spark_result = curate_with(stream, params, SPARK_ENGINE, **settings)
    name = f"{window}-{action}"
    assert curated_bytes(stream, f"spark-{name}", spark_result) == curated_bytes(
        stream, f"pandas-{name}", pandas_result
    )


def test_leakage_is_the_same_error_on_both_engines(spark, stream, params):
    errors = []
    for engine in (None, SPARK_ENGINE):
        with pytest.raises(LeakageError) as caught:
            curate_with(stream, params, engine, label_issues={"enabled": False})
        errors.append(str(caught.value))
    assert "no_shared_entities" in errors[0]
    assert errors[1] == errors[0]
