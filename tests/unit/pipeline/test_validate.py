"""Tests of datawheel.pipeline.validate: suite loading, caching, acknowledgements and reports."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cmarkgfm
import pandas as pd
import pytest

from datawheel.config.params import PROVENANCE_COLUMNS, load_params
from datawheel.data.simulate import Injection, simulate
from datawheel.errors import DatawheelError, ParamsError, ValidationFailed
from datawheel.pipeline.ingest import ingest_batches
from datawheel.pipeline.validate import (
    BATCH_FAILED_RULE,
    ValidationReport,
    load_suites,
    quarantined_row_ids,
    quarantined_rows,
    raise_if_failed,
    run_validation,
    suites_fingerprint,
    summary_lines,
    validate_frame,
)
from datawheel.render.validation import render_markdown

ROOT = Path(__file__).resolve().parents[3]
SUITES = ROOT / "expectations"
CLEAN, BAD_LABEL, SCHEMA_BREAK = (f"data/raw/2026-01-0{d}.csv" for d in (5, 6, 7))


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """Three raw days - clean, bad labels, a renamed column - ingested as the stage does."""
    root = tmp_path_factory.mktemp("project")
    start = dt.date(2026, 1, 5)
    injections = [
        Injection("bad_label", start + dt.timedelta(days=1)),
        Injection("schema_break", start + dt.timedelta(days=2)),
    ]
    simulate(root / "data/raw", start, 3, 300, 11, "csv", injections)
    contract = load_params(ROOT / "params.yaml").contract
    ingest_batches(
        root / "data/raw", root / "data/ingested", root / "data/quarantine", contract, root=root
    )
    return root


@pytest.fixture(scope="module")
def records(project):
    from datawheel.data.batches import read_manifest

    return read_manifest(project / "data/ingested")


@pytest.fixture(scope="module")
def first_run(project, records) -> tuple[ValidationReport, Path]:
    """One validation of the project, whose output folder later tests copy and reuse."""
    out = project / "validated"
    report = run_validation(project / "data/ingested", records, SUITES, out)
    return report, out


def _copy(out: Path, tmp_path: Path) -> Path:
    target = tmp_path / "validated"
    shutil.copytree(out, target)
    return target


# --- load_suites -------------------------------------------------------------------------


def _suite(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / "expectations"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.json").write_text(text, encoding="utf-8")
    return folder


def _expectation(**overrides) -> dict:
    base = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}, "meta": {}}
    return {**base, **overrides}


def test_load_suites_reads_shipped_suites_sorted_by_file_name():
    suites = load_suites(SUITES)
    assert [s["name"] for s in suites] == sorted(p.stem for p in SUITES.glob("*.json"))


def test_bad_json_names_the_file(tmp_path):
    folder = _suite(tmp_path, "broken", '{"name": "broken", "expectations": [')
    with pytest.raises(ParamsError, match=r"broken\.json: not valid JSON at line 1"):
        load_suites(folder)


def test_unknown_expectation_names_the_file_and_the_type(tmp_path):
    suite = {"name": "typo", "expectations": [_expectation(type="expect_column_to_be_nice")]}
    folder = _suite(tmp_path, "typo", json.dumps(suite))
    with pytest.raises(ParamsError, match=r"typo\.json: expectation #1 'expect_column_to_be_nice'"):
        load_suites(folder)


@pytest.mark.parametrize(
    ("expectation", "message"),
    [
        (_expectation(severity="fatal"), "severity 'fatal'"),
        (_expectation(kwargs={"colum": "a"}), "invalid configuration"),
        (_expectation(kwargs={"column": "a", "mostly": 3}), "mostly"),
    ],
)
def test_invalid_expectation_names_the_file(tmp_path, expectation, message):
    folder = _suite(tmp_path, "bad", json.dumps({"name": "bad", "expectations": [expectation]}))
    with pytest.raises(ParamsError, match=r"bad\.json: expectation #1") as caught:
        load_suites(folder)
    assert message in str(caught.value)


def test_camel_case_type_gets_the_gx_1_snake_case_name(tmp_path):
    suite = {"name": "old", "expectations": [_expectation(type="ExpectColumnValuesToNotBeNull")]}
    folder = _suite(tmp_path, "old", json.dumps(suite))
    with pytest.raises(ParamsError) as caught:
        load_suites(folder)
    message = str(caught.value)
    assert "old.json: expectation #1 'ExpectColumnValuesToNotBeNull'" in message
    assert "snake_case: 'expect_column_values_to_not_be_null'" in message
    assert caught.value.exit_code == 2


def test_bad_kwargs_name_the_file_expectation_and_kwarg(tmp_path):
    expectation = _expectation(
        type="expect_column_values_to_be_between", kwargs={"column": "a", "max_vale": 3}
    )
    folder = _suite(tmp_path, "bad", json.dumps({"name": "bad", "expectations": [expectation]}))
    with pytest.raises(ParamsError) as caught:
        load_suites(folder)
    message = str(caught.value)
    assert "bad.json: expectation #1 'expect_column_values_to_be_between'" in message
    assert "max_vale" in message


CONTRACT_COLUMNS = (
    *load_params(ROOT / "params.yaml", check_estimators=False).contract.columns,
    *PROVENANCE_COLUMNS,
)


def test_shipped_suites_name_only_contract_columns():
    assert load_suites(SUITES, CONTRACT_COLUMNS)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"column": "tenure"}, "column 'tenure'"),
        ({"column_list": ["age", "loyalty"]}, "column_list 'loyalty'"),
    ],
)
def test_suite_column_outside_the_contract_is_a_suite_error(tmp_path, kwargs, named):
    expectation = _expectation(kwargs=kwargs)
    folder = _suite(tmp_path, "cols", json.dumps({"name": "cols", "expectations": [expectation]}))
    with pytest.raises(ParamsError) as caught:
        load_suites(folder, CONTRACT_COLUMNS)
    message = str(caught.value)
    assert "cols.json: expectation #1 'expect_column_values_to_not_be_null'" in message
    assert named in message and "contract.columns" in message
    assert caught.value.exit_code == 2


def test_run_validation_refuses_a_suite_column_before_any_batch(
    first_run, records, project, tmp_path
):
    """Even with every batch cached: the suite is wrong, not the history."""
    suites = tmp_path / "expectations"
    shutil.copytree(SUITES, suites)
    nulls = json.loads((suites / "nulls.json").read_text())
    nulls["expectations"][0]["kwargs"]["column"] = "customer"
    (suites / "nulls.json").write_text(json.dumps(nulls))
    out = _copy(first_run[1], tmp_path)
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(ParamsError, match=r"nulls\.json: expectation #1 .*column 'customer'"):
        run_validation(project / "data/ingested", records, suites, out, columns=CONTRACT_COLUMNS)
    assert sorted(p.name for p in out.iterdir()) == before


def test_duplicate_suite_names_are_refused(tmp_path):
    _suite(tmp_path, "a", json.dumps({"name": "same", "expectations": []}))
    folder = _suite(tmp_path, "b", json.dumps({"name": "same", "expectations": []}))
    with pytest.raises(ParamsError, match=r"b\.json: suite name 'same' is already used"):
        load_suites(folder)


def test_fingerprint_follows_the_suites():
    suites = load_suites(SUITES)
    changed = json.loads(json.dumps(suites))
    changed[0]["expectations"][0]["severity"] = "info"
    assert suites_fingerprint(suites) == suites_fingerprint(json.loads(json.dumps(suites)))
    assert suites_fingerprint(suites) != suites_fingerprint(changed)


# --- run_validation ----------------------------------------------------------------------


def test_first_run_validates_ingested_batches_and_writes_per_batch_files(first_run, records):
    report, out = first_run
    ingested = [r for r in records if r.status == "ingested"]
    assert sorted(report.validated) == [CLEAN, BAD_LABEL]
    for record in ingested:
        assert (out / f"{record.md5}.json").exists()
        assert (out / f"{record.md5}.parquet").exists()
    by_batch = {b.batch: b for b in report.batches}
    assert by_batch[CLEAN].status == "passed"
    assert by_batch[BAD_LABEL].status == "failed"
    clean_rows = pd.read_parquet(out / f"{by_batch[CLEAN].md5}.parquet")
    assert clean_rows.empty
    assert list(clean_rows.columns) == ["row_id", "batch", "line", "rule"]


def test_a_tampered_cached_verdict_or_rows_file_is_validated_again(
    first_run, records, project, tmp_path
):
    """An edited verdict (failed made passed) or quarantine rows file (rows removed) is never
    reused: its md5 no longer matches checksums.json, so the batch is validated again."""
    first, out = first_run
    out = _copy(out, tmp_path)
    bad = next(b for b in first.batches if b.batch == BAD_LABEL)
    verdict = out / f"{bad.md5}.json"
    verdict.write_text(verdict.read_text().replace('"failed"', '"passed"'))
    clean = next(b for b in first.batches if b.batch == CLEAN)
    rows = out / f"{bad.md5}.parquet"
    pd.read_parquet(rows).head(0).to_parquet(rows, index=False)

    report = run_validation(project / "data/ingested", records, SUITES, out)
    assert report.validated == [BAD_LABEL]
    assert len(report.rebuilt) == 1  # both files are the one batch's: one is enough to redo it
    assert verdict.as_posix() in report.rebuilt[0] and "output_integrity" in report.rebuilt[0]
    assert report.to_dict()["batches"] == first.to_dict()["batches"]
    assert not pd.read_parquet(rows).empty
    assert clean.batch not in report.validated


def test_second_run_reuses_every_result(first_run, records, project, tmp_path):
    _, out = first_run
    out = _copy(out, tmp_path)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    report = run_validation(project / "data/ingested", records, SUITES, out)
    assert report.validated == []
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    assert report.to_dict()["batches"] == first_run[0].to_dict()["batches"]


def test_changed_suites_validate_again(first_run, records, project, tmp_path):
    suites = tmp_path / "expectations"
    shutil.copytree(SUITES, suites)
    volume = json.loads((suites / "volume.json").read_text())
    volume["expectations"][0]["kwargs"]["min_value"] = 50
    (suites / "volume.json").write_text(json.dumps(volume))
    out = _copy(first_run[1], tmp_path)
    report = run_validation(project / "data/ingested", records, suites, out)
    assert sorted(report.validated) == [CLEAN, BAD_LABEL]


def test_results_of_removed_batches_are_deleted(first_run, records, project, tmp_path):
    out = _copy(first_run[1], tmp_path)
    (out / "notes.txt").write_text("not ours")
    kept = [r for r in records if r.path != BAD_LABEL]
    removed = next(r for r in records if r.path == BAD_LABEL)
    report = run_validation(project / "data/ingested", kept, SUITES, out)
    assert report.validated == []
    assert not (out / f"{removed.md5}.json").exists()
    assert not (out / f"{removed.md5}.parquet").exists()
    assert (out / "notes.txt").exists()


def test_ingest_quarantined_batch_is_a_failed_batch_with_its_contract_rule(first_run):
    report, _ = first_run
    failed = {b.batch: b for b in report.failed_batches}
    assert set(failed) == {BAD_LABEL, SCHEMA_BREAK}
    (outcome,) = failed[SCHEMA_BREAK].outcomes
    assert outcome.rule == "contract/contract_columns"
    assert outcome.severity == "critical"
    assert "monthly_charges" in outcome.message
    assert not report.passed


def test_acknowledged_batches_stay_excluded_but_do_not_fail(first_run, records, project, tmp_path):
    out = _copy(first_run[1], tmp_path)
    acknowledged = ["2026-01-06.csv", SCHEMA_BREAK, "2026-01-31.csv"]
    report = run_validation(project / "data/ingested", records, SUITES, out, acknowledged)
    assert report.passed
    assert report.failed_batches == []
    assert sorted(b.batch for b in report.acknowledged_batches) == [BAD_LABEL, SCHEMA_BREAK]
    assert report.stale_acknowledgements == ["2026-01-31.csv"]
    raise_if_failed(report)
    bad = pd.read_parquet(project / "data/ingested" / f"{_md5(records, BAD_LABEL)}.parquet")
    excluded = quarantined_row_ids(out, records)
    assert set(bad["row_id"]) <= excluded
    clean = pd.read_parquet(project / "data/ingested" / f"{_md5(records, CLEAN)}.parquet")
    assert excluded.isdisjoint(clean["row_id"])


def _md5(records, path: str) -> str:
    return next(r.md5 for r in records if r.path == path)


def test_failed_batch_quarantine_holds_every_row(first_run, records, project):
    _, out = first_run
    md5 = _md5(records, BAD_LABEL)
    quarantine = pd.read_parquet(out / f"{md5}.parquet")
    ingested = pd.read_parquet(project / "data/ingested" / f"{md5}.parquet")
    failed_all = quarantine[quarantine["rule"] == BATCH_FAILED_RULE]
    assert sorted(failed_all["line"]) == sorted(ingested["line"])
    assert "label/expect_column_values_to_be_in_set/churned" in set(quarantine["rule"])


def test_quarantined_rows_are_keyed_by_batch_and_line(first_run, records, project):
    _, out = first_run
    rows = quarantined_rows(out, records)
    assert list(rows.columns) == ["row_id", "batch", "line"]
    assert set(rows["batch"]) == {BAD_LABEL}
    ingested = pd.read_parquet(project / "data/ingested" / f"{_md5(records, BAD_LABEL)}.parquet")
    assert rows["line"].tolist() == sorted(ingested["line"])


def test_unvalidated_batch_is_an_error_for_curate(records, tmp_path):
    with pytest.raises(DatawheelError, match="run the validate stage first"):
        quarantined_row_ids(tmp_path, records)


def test_raise_if_failed_names_the_batch_and_rule(first_run):
    with pytest.raises(ValidationFailed, match="2026-01-06.csv: column 'churned'"):
        raise_if_failed(first_run[0])


def test_a_batch_ingest_rejected_stops_the_pipeline_as_a_critical_failure_does(
    first_run, records, project, tmp_path
):
    """One behaviour for every failed batch: rejected whole by ingest (a renamed column) or
    failed by a critical expectation (bad labels beyond `mostly`), it stops validate with
    exit code 4 until it is acknowledged; then it stays excluded and the run goes on."""
    out = _copy(first_run[1], tmp_path)
    only_schema = run_validation(project / "data/ingested", records, SUITES, out, [BAD_LABEL])
    assert [b.batch for b in only_schema.failed_batches] == [SCHEMA_BREAK]
    with pytest.raises(ValidationFailed, match="contract_columns") as stopped:
        raise_if_failed(only_schema)
    assert stopped.value.exit_code == 4
    assert "1 batch(es) failed critical data tests: " + SCHEMA_BREAK in str(stopped.value)
    only_label = run_validation(project / "data/ingested", records, SUITES, out, [SCHEMA_BREAK])
    with pytest.raises(ValidationFailed, match="expect_column_values_to_be_in_set"):
        raise_if_failed(only_label)
    both = run_validation(
        project / "data/ingested", records, SUITES, out, [BAD_LABEL, SCHEMA_BREAK]
    )
    raise_if_failed(both)
    assert both.passed


def test_cached_run_does_not_import_great_expectations(first_run, records, project, tmp_path):
    out = _copy(first_run[1], tmp_path)
    script = f"""
import sys
from pathlib import Path
from datawheel.data.batches import read_manifest
from datawheel.pipeline.validate import run_validation
records = read_manifest(Path({str(project / "data/ingested")!r}))
report = run_validation(Path({str(project / "data/ingested")!r}), records,
                        Path({str(SUITES)!r}), Path({str(out)!r}))
assert report.validated == [], report.validated
assert "great_expectations" not in sys.modules
"""
    subprocess.run([sys.executable, "-c", script], check=True, env=os.environ.copy())


# --- reports -----------------------------------------------------------------------------


def test_report_to_dict_is_json(first_run):
    data = json.loads(json.dumps(first_run[0].to_dict()))
    assert data["passed"] is False
    assert data["failed_batches"] == [BAD_LABEL, SCHEMA_BREAK]
    assert data["totals"]["batches"] == 3
    assert data["totals"]["failed"] == 2


def test_summary_lines_name_batch_column_rule_and_counts(first_run):
    lines = summary_lines(first_run[0])
    pattern = (
        r"^data/raw/2026-01-06\.csv: column 'churned' failed rule "
        r"'expect_column_values_to_be_in_set' \(critical\): \d+ of \d+ rows$"
    )
    assert any(re.match(pattern, line) for line in lines), lines
    assert any(
        line.startswith(f"{SCHEMA_BREAK}: batch failed rule 'contract_columns'") for line in lines
    )


def test_render_markdown_shows_rule_column_and_what_to_do(first_run):
    text = render_markdown(first_run[0])
    assert "expect_column_values_to_be_in_set" in text
    assert "| churned |" in text
    assert "contract_columns" in text
    assert "validate.acknowledged_batches" in text
    html = cmarkgfm.github_flavored_markdown_to_html(text)
    assert html.count("<table>") == 3  # totals, and one per failed batch


def test_validate_frame_needs_no_disk(first_run, records, project):
    suites = load_suites(SUITES)
    md5 = _md5(records, CLEAN)
    frame = pd.read_parquet(project / "data/ingested" / f"{md5}.parquet")
    result = validate_frame(frame, suites, CLEAN)
    assert result.status == "passed"
    assert result.to_dict() == next(b for b in first_run[0].batches if b.batch == CLEAN).to_dict()


def test_import_does_not_import_great_expectations():
    code = "import sys, datawheel.pipeline.validate; assert 'great_expectations' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- the volume history: a verdict that depends on the batches before it -----------------

SPIKE_DAY = dt.date(2026, 2, 6)


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """Seven 60-row days with a 120x day as the sixth, ingested as the stage does."""
    from datawheel.data.batches import read_manifest

    root = tmp_path_factory.mktemp("history")
    start = SPIKE_DAY - dt.timedelta(days=5)
    simulate(
        root / "data/raw", start, 7, 60, 11, "csv", [Injection("volume_spike", SPIKE_DAY, 120)]
    )
    contract = load_params(ROOT / "params.yaml").contract
    ingest_batches(
        root / "data/raw", root / "data/ingested", root / "data/quarantine", contract, root=root
    )
    return root, read_manifest(root / "data/ingested")


def _volume_outcomes(report: ValidationReport) -> dict[str, list[str]]:
    """Per batch file name: how each volume rule fared (passed, failed or skipped)."""
    shown = {}
    for batch in report.batches:
        states = [
            ("passed" if o.success else f"failed ({o.severity})")
            for o in batch.outcomes
            if o.suite.startswith("volume")
        ]
        states += ["skipped" for rule in batch.skipped if rule.startswith("volume")]
        shown[Path(batch.batch).name] = states
    return shown


def test_recent_median_rows_needs_the_minimum_history():
    from datawheel.pipeline.validate import recent_median_rows

    assert recent_median_rows([], 14, 3) is None
    assert recent_median_rows([100, 90], 14, 3) is None
    assert recent_median_rows([100, 90, 110], 14, 3) == 100.0
    assert recent_median_rows([5, 5, 5, 100, 90, 110, 95], 4, 3) == 97.5  # the last 4 only
    assert recent_median_rows([100, 101], 14, 1) == 100.5


def test_expression_parameters_name_their_variables():
    from datawheel.pipeline.validate import _expression_names

    assert _expression_names("day_start") == {"day_start"}
    assert _expression_names("recent_median_rows * 0.2") == {"recent_median_rows"}
    assert _expression_names("trunc(a * 1e3) + PI * b$c") == {"a", "b$c"}


def test_volume_is_judged_against_the_accepted_batches_before_it(history, tmp_path):
    root, records = history
    report = run_validation(root / "data/ingested", records, SUITES, tmp_path / "out")
    volume = _volume_outcomes(report)
    days = sorted(volume)
    assert [volume[d] for d in days[:3]] == [["skipped", "skipped"]] * 3  # no history yet
    assert volume[days[3]] == volume[days[4]] == ["passed", "passed"]
    assert volume[f"{SPIKE_DAY}.csv"] == ["failed (warning)", "failed (critical)"]
    # the failed spike is not part of the next day's history: the median is still 60-ish
    assert volume[days[6]] == ["passed", "passed"]
    assert [Path(b.batch).name for b in report.failed_batches] == [f"{SPIKE_DAY}.csv"]
    line = next(line for line in summary_lines(report) if "critical" in line)
    assert line.startswith(f"data/raw/{SPIKE_DAY}.csv: batch failed rule ")
    assert re.search(r"\(critical\): [\d,]+ rows, 1\d\d\.\dx the recent median of \d\d rows", line)
    assert re.search(r"expected at most [\d,]+$", line)


def test_the_cache_key_holds_the_history_and_a_new_day_costs_one_day(history, tmp_path):
    root, records = history
    out = tmp_path / "out"
    run_validation(root / "data/ingested", records[:-1], SUITES, out)
    grown = run_validation(root / "data/ingested", records, SUITES, out)
    assert grown.validated == [records[-1].path]  # flat: only the new day
    again = run_validation(root / "data/ingested", records, SUITES, out)
    assert again.validated == []
    # Without the second day, the fourth and later days see another history: judged again.
    backfilled = [r for i, r in enumerate(records) if i != 1]
    changed = run_validation(root / "data/ingested", backfilled, SUITES, out)
    assert records[0].path not in changed.validated and records[2].path not in changed.validated
    assert records[3].path in changed.validated
    stored = json.loads((out / f"{records[4].md5}.json").read_text())
    assert set(stored["parameters"]) == {"recent_median_rows"}
    # a longer history setting is a different key too
    longer = run_validation(
        root / "data/ingested", backfilled, SUITES, out, volume_min_history_batches=1
    )
    assert records[2].path in longer.validated


@pytest.mark.parametrize(
    ("name", "start", "end"),
    [
        ("data/raw/2026-01-31.csv", "2026-01-31", "2026-02-01"),
        ("2024-02-29.csv.gz", "2024-02-29", "2024-03-01"),  # a leap day
        ("data/raw/2026-W01.parquet", "2025-12-29", "2026-01-05"),  # ISO week 1 starts in 2025
        ("2025-w53.csv", None, None),  # 2025 has 52 ISO weeks
        ("2020-W53.csv", "2020-12-28", "2021-01-04"),
        ("data/raw/2026-12.csv", "2026-12-01", "2027-01-01"),
        ("2026-13.csv", None, None),
        ("2026-Q4.csv", "2026-10-01", "2027-01-01"),
        ("2026.csv", "2026-01-01", "2027-01-01"),
        ("2026-02-30.csv", None, None),
        ("batch-0007.csv", None, None),
        ("2026-01-31-late.csv", None, None),
    ],
)
def test_a_file_stem_names_its_period(name, start, end):
    from datawheel.pipeline.validate import batch_period, batch_suite_parameters

    period = batch_period(name)
    parameters = batch_suite_parameters(name)
    if start is None:
        assert period is None and parameters == {}
        return
    expected = tuple(
        dt.datetime.combine(dt.date.fromisoformat(d), dt.time(), tzinfo=dt.UTC)
        for d in (start, end)
    )
    assert period == expected
    assert parameters["period_start"] == expected[0].isoformat()
    assert parameters["period_end"] == expected[1].isoformat()
    is_day = expected[1] - expected[0] == dt.timedelta(days=1)
    assert ("day_start" in parameters) == is_day


@pytest.mark.parametrize(
    ("unit", "start", "end"),
    [
        ("day", "2026-03-05", "2026-03-06"),
        ("week", "2026-03-02", "2026-03-09"),
        ("month", "2026-03-01", "2026-04-01"),
        ("quarter", "2026-01-01", "2026-04-01"),
        ("year", "2026-01-01", "2027-01-01"),
    ],
)
def test_a_batch_named_by_no_period_takes_the_one_most_of_its_events_fall_in(unit, start, end):
    from datawheel.pipeline.validate import batch_suite_parameters

    # one straggler from February, three events on 5 March: the period is March's
    times = pd.Series(
        pd.to_datetime(
            ["2026-02-27T23:00Z", "2026-03-05T08:00Z", "2026-03-05T09:30Z", "2026-03-05T17:00Z"]
        )
    )
    parameters = batch_suite_parameters("data/raw/export-0017.csv", (times, unit))
    assert parameters["period_start"] == f"{start}T00:00:00+00:00"
    assert parameters["period_end"] == f"{end}T00:00:00+00:00"
    assert batch_suite_parameters("data/raw/export-0017.csv") == {}  # `name`: none
    # a name that names a period keeps it, whatever the events say
    named = batch_suite_parameters("data/raw/2026-01.csv", (times, unit))
    assert named["period_start"] == "2026-01-01T00:00:00+00:00"
    assert batch_suite_parameters("x.csv", (pd.Series([], dtype="datetime64[ns, UTC]"), unit)) == {}


def test_the_freshness_suite_catches_the_stray_rows_of_a_batch_named_by_no_period():
    from datawheel.data.contract import read_batch, with_provenance
    from datawheel.data.simulate import csv_text, simulate_day
    from datawheel.pipeline.validate import SuiteRunner

    raw = simulate_day(dt.date(2026, 1, 5), 150, 11, []).astype(object)
    raw.loc[3, "event_time"] = "2026-01-09T10:00:00Z"  # four days late
    contract = load_params(ROOT / "params.yaml").contract
    name = "data/raw/crm-export-17.csv"
    typed, lines = read_batch(csv_text(raw).encode(), name, contract)
    frame = with_provenance(typed, name, "0" * 32, lines)
    by_name = SuiteRunner(load_suites(SUITES)).validate(frame, name)
    assert any("freshness" in rule for rule in by_name.skipped)
    by_day = SuiteRunner(load_suites(SUITES), batch_period=("event_time", "day"))
    result = by_day.validate(frame, name)
    assert not any("freshness" in rule for rule in result.skipped)
    stray = set(
        result.quarantine.loc[result.quarantine["rule"].str.startswith("freshness"), "line"]
    )
    assert stray == {int(lines.iloc[3])}


# --- `mostly` on small batches -------------------------------------------------------------

SMALL_DAY = dt.date(2026, 1, 5)
SMALL_BATCH = f"data/raw/{SMALL_DAY.isoformat()}.csv"


def _delivered(rows: int, **bad: dict[int, object]):
    """A day of `rows` rows of the built-in stream with bad cells ({column: {row: value}}),
    typed by ingest as the validate stage reads it."""
    from datawheel.data.contract import read_batch, with_provenance
    from datawheel.data.simulate import csv_text, simulate_day

    raw = simulate_day(SMALL_DAY, rows, 11, []).astype(object)
    for column, cells in bad.items():
        for row, value in cells.items():
            if row < len(raw):  # the stream varies a day's rows by 10 %
                raw.loc[row, column] = value
    contract = load_params(ROOT / "params.yaml").contract
    typed, lines = read_batch(csv_text(raw).encode(), SMALL_BATCH, contract)
    return with_provenance(typed, SMALL_BATCH, "0" * 32, lines)


@pytest.fixture(scope="module")
def runners():
    """The shipped suites judged as the pipeline does (min_rows_for_mostly 100), and as GX
    alone does (1)."""
    from datawheel.pipeline.validate import SuiteRunner

    suites = load_suites(SUITES)
    return {rows: SuiteRunner(suites, rows) for rows in (100, 1)}


def test_one_bad_row_of_a_small_batch_is_quarantined_not_the_batch(runners):
    frame = _delivered(30, age={4: None})  # nulls.json: mostly 0.99, critical
    result = runners[100].validate(frame, SMALL_BATCH)
    assert result.status == "warning" and result.quarantined_rows == 1
    (null,) = [
        o for o in result.failures if o.rule == "nulls/expect_column_values_to_not_be_null/age"
    ]
    assert null.small_batch and not null.success and not null.fails_batch
    assert "fewer than validate.min_rows_for_mostly (100)" in null.message
    assert set(result.quarantine["rule"]) == {null.rule}  # the row, not `batch_failed`
    line = next(line for line in summary_lines(ValidationReport([result])) if "'age'" in line)
    assert "(critical, rows quarantined: small batch)" in line
    # GX alone: 1 of 30 is over 1 - 0.99, so the whole batch fails and stops the pipeline
    gx_only = runners[1].validate(frame, SMALL_BATCH)
    assert gx_only.status == "failed" and gx_only.quarantined_rows == len(frame)


def test_every_bad_row_of_a_small_batch_is_quarantined_and_the_batch_warns(runners):
    frame = _delivered(30, age=dict.fromkeys(range(40)))  # every row
    result = runners[100].validate(frame, SMALL_BATCH)
    assert result.status == "warning" and result.quarantined_rows == len(frame)


def test_an_expectation_without_mostly_fails_even_a_small_batch(runners):
    # label.json: churned in {0, 1}, no `mostly`: every row must, on any batch
    frame = _delivered(30, churned={2: 7})
    result = runners[100].validate(frame, SMALL_BATCH)
    assert result.status == "failed" and result.quarantined_rows == len(frame)
    (label,) = [o for o in result.failures if o.expectation_type.endswith("_in_set")]
    assert label.fails_batch and not label.small_batch


def test_a_batch_of_min_rows_for_mostly_is_judged_as_gx_judges_it(runners):
    within = runners[100].validate(_delivered(120, age={4: None}), SMALL_BATCH)
    assert len(within.quarantine) and within.rows >= 100  # 120 rows +- 10 %
    assert within.status == "warning" and within.quarantined_rows == 1  # 1 of 100+: allowed
    beyond = runners[100].validate(_delivered(120, age={4: None, 9: None}), SMALL_BATCH)
    assert beyond.status == "failed" and beyond.quarantined_rows == beyond.rows
    (null,) = [o for o in beyond.failures if o.column == "age"]
    assert null.fails_batch and not null.small_batch


def test_another_min_rows_for_mostly_validates_again(first_run, records, project, tmp_path):
    out = _copy(first_run[1], tmp_path)
    again = run_validation(project / "data/ingested", records, SUITES, out, min_rows_for_mostly=50)
    assert sorted(again.validated) == [CLEAN, BAD_LABEL]  # not the batch ingest rejected
    same = run_validation(project / "data/ingested", records, SUITES, out, min_rows_for_mostly=50)
    assert same.validated == []
