"""The suites in expectations/ are the data's unit tests: a clean batch passes every one, and
each injected incident is caught by the expectation that names it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from datawheel.data.contract import read_batch, with_provenance
from datawheel.data.simulate import Injection, csv_text, simulate_day
from datawheel.errors import DataContractError
from datawheel.pipeline.validate import BATCH_FAILED_RULE, SEVERITIES, SuiteRunner

ROOT = Path(__file__).resolve().parents[2]
DAY = dt.date(2026, 1, 5)
BATCH = f"data/raw/{DAY.isoformat()}.csv"  # the day of the conftest fixtures
SUITE_FILES = sorted((ROOT / "expectations").glob("*.json"))
SHIPPED = {
    "schema",
    "nulls",
    "ranges",
    "domains",
    "uniqueness",
    "volume",
    "volume_limit",
    "label",
    "freshness",
}
VOLUME = "volume/expect_table_row_count_to_be_between"
VOLUME_LIMIT = "volume_limit/expect_table_row_count_to_be_between"


def failed_rules(result) -> dict[str, str]:
    return {o.rule: o.severity for o in result.outcomes if not o.success}


def caught_rules(result) -> dict[str, str]:
    """Rules that failed, or that found bad rows within their `mostly` (and quarantined them)."""
    return {o.rule: o.severity for o in result.outcomes if not o.success or o.unexpected_count}


def test_every_planned_suite_is_shipped(suites):
    assert {s["name"] for s in suites} == SHIPPED
    assert [p.stem for p in SUITE_FILES] == sorted(SHIPPED)


@pytest.mark.parametrize("path", SUITE_FILES, ids=lambda p: p.stem)
def test_suite_file_is_gx_own_serialization(path):
    import great_expectations as gx

    stored = json.loads(path.read_text(encoding="utf-8"))
    suite = gx.ExpectationSuite(**stored)
    assert len(suite.expectations) == len(stored["expectations"])
    assert suite.to_json_dict()["expectations"] == stored["expectations"]
    for expectation in stored["expectations"]:
        assert expectation["severity"] in SEVERITIES
        assert expectation["meta"]["description"]
        assert expectation["meta"]["catches"]


@pytest.mark.parametrize("suite_name", sorted(SHIPPED))
def test_clean_batch_passes_every_suite(validated, suite_name):
    outcomes = [o for o in validated().outcomes if o.suite == suite_name]
    assert outcomes, f"suite {suite_name} ran no expectation"
    assert [o.rule for o in outcomes if not o.success] == []


def test_clean_batch_quarantines_nothing(validated):
    result = validated()
    assert result.status == "passed"
    assert result.skipped == []
    assert result.quarantined_rows == 0
    assert result.quarantine.empty
    assert list(result.quarantine.columns) == ["row_id", "batch", "line", "rule"]


@pytest.mark.parametrize(
    ("kind", "expected", "status"),
    [
        (
            "null_burst",
            {
                "nulls/expect_column_values_to_not_be_null/monthly_charges": "critical",
                "nulls/expect_column_values_to_not_be_null/region": "critical",
            },
            "failed",
        ),
        (
            "out_of_range",
            {
                "ranges/expect_column_values_to_be_between/tenure_months": "critical",
                "ranges/expect_column_values_to_be_between/age": "critical",
                "ranges/expect_column_values_to_be_between/monthly_charges": "critical",
            },
            "failed",
        ),
        (
            "duplicates",
            {"uniqueness/expect_column_values_to_be_unique/row_id": "warning"},
            "warning",
        ),
        (
            "bad_label",
            {"label/expect_column_values_to_be_in_set/churned": "critical"},
            "failed",
        ),
    ],
)
def test_injected_incident_is_caught_by_the_expectation_that_names_it(
    validated, kind, expected, status
):
    result = validated(kind)
    caught = caught_rules(result)
    assert expected.items() <= caught.items()
    assert result.status == status
    # nothing unrelated fires: every rule that fired is in the suite that names the incident
    assert {rule.split("/")[0] for rule in caught} == {rule.split("/")[0] for rule in expected}
    quarantined = set(result.quarantine["rule"])
    for rule, severity in expected.items():
        assert (rule in quarantined) == (severity == "critical")


def test_failed_batch_excludes_every_row_and_names_failing_rows(validated, typed_batch):
    result = validated("bad_label")
    frame = typed_batch("bad_label")
    quarantine = result.quarantine
    assert result.quarantined_rows == len(frame)
    assert set(quarantine.loc[quarantine["rule"] == BATCH_FAILED_RULE, "row_id"]) == set(
        frame["row_id"]
    )
    bad = frame.loc[~frame["churned"].isin([0, 1]), "row_id"]
    rule = "label/expect_column_values_to_be_in_set/churned"
    assert set(quarantine.loc[quarantine["rule"] == rule, "row_id"]) == set(bad)


def test_duplicates_warn_and_keep_their_rows(validated):
    result = validated("duplicates")
    outcome = next(o for o in result.outcomes if o.rule.endswith("be_unique/row_id"))
    assert outcome.unexpected_count > 0
    assert 0 < len(outcome.sample_row_ids) <= 20
    assert list(outcome.sample_row_ids) == sorted(outcome.sample_row_ids)
    assert result.quarantined_rows == 0


@pytest.mark.parametrize(
    ("kind", "column"),
    [("schema_break", "monthly_charges"), ("missing_column", "support_calls")],
)
def test_schema_incidents_are_rejected_by_ingest_naming_the_column(
    raw_batch, contract, kind, column
):
    data = csv_text(raw_batch(kind)).encode("utf-8")
    with pytest.raises(DataContractError, match=column) as caught:
        read_batch(data, BATCH, contract)
    assert "contract_columns" in str(caught.value)


def test_schema_suite_fails_on_a_renamed_column(typed_batch, runner):
    frame = typed_batch().rename(columns={"monthly_charges": "monthly_charge"})
    result = runner.validate(frame, BATCH)
    failed = failed_rules(result)
    assert failed["schema/expect_table_columns_to_match_set"] == "critical"
    assert failed["schema/expect_column_values_to_be_of_type/monthly_charges"] == "critical"
    assert result.status == "failed"
    columns = next(
        o for o in result.outcomes if o.rule == "schema/expect_table_columns_to_match_set"
    )
    assert "monthly_charge" in columns.message


def test_few_out_of_range_rows_are_quarantined_without_failing_the_batch(typed_batch, runner):
    frame = typed_batch()
    frame.loc[[3, 17], "age"] = 150
    bad_ids = set(frame.loc[[3, 17], "row_id"])
    result = runner.validate(frame, BATCH)
    assert result.status == "warning"
    assert result.quarantined_rows == 2
    assert set(result.quarantine["row_id"]) == bad_ids
    assert set(result.quarantine["rule"]) == {"ranges/expect_column_values_to_be_between/age"}
    assert sorted(result.quarantine["line"]) == sorted(frame.loc[[3, 17], "line"])
    outcome = next(o for o in result.outcomes if o.rule.endswith("between/age"))
    assert outcome.success and outcome.unexpected_count == 2


def test_freshness_uses_the_day_in_the_file_name(typed_batch, runner):
    frame = typed_batch()
    wrong_day = runner.validate(frame, "data/raw/2026-01-06.csv")
    rule = "freshness/expect_column_values_to_be_between/event_time"
    assert failed_rules(wrong_day)[rule] == "critical"
    outcome = next(o for o in wrong_day.outcomes if o.rule == rule)
    assert outcome.kwargs["min_value"] == "2026-01-06T00:00:00+00:00"
    assert outcome.unexpected_count == len(frame)


# --- volume: rows against the recent median of accepted batches ----------------------------


def test_volume_rules_are_skipped_while_there_is_no_history(typed_batch, runner):
    result = runner.validate(typed_batch(), BATCH)
    assert result.status == "passed"
    assert result.skipped == [VOLUME, VOLUME_LIMIT]


@pytest.mark.parametrize(
    ("median", "expected", "status"),
    [
        (300, {}, "passed"),  # an ordinary day
        (1000, {}, "passed"),  # 0.3x: a quiet day, within the band
        (3000, {VOLUME: "warning"}, "warning"),  # 0.1x: a truncated export
        (30, {VOLUME: "warning"}, "warning"),  # 10x: a campaign or a backfill
        (2, {VOLUME: "warning", VOLUME_LIMIT: "critical"}, "failed"),  # ~150x: broken
    ],
)
def test_volume_is_judged_against_the_recent_median(typed_batch, runner, median, expected, status):
    result = runner.validate(typed_batch(), BATCH, {"recent_median_rows": float(median)})
    assert failed_rules(result) == expected
    assert result.status == status
    assert result.skipped == []


def test_a_volume_spike_fails_the_batch_critically_naming_rows_and_median(
    contract, runner: SuiteRunner
):
    # issue 14's day at a smaller scale: 150x a history of 20-row days
    raw = simulate_day(DAY, 20, 11, [Injection("volume_spike", DAY, 150)])
    typed, lines = read_batch(csv_text(raw).encode("utf-8"), BATCH, contract)
    frame = with_provenance(typed, BATCH, "0" * 32, lines)
    result = runner.validate(frame, BATCH, {"recent_median_rows": 20.0})
    assert failed_rules(result) == {VOLUME: "warning", VOLUME_LIMIT: "critical"}
    assert result.status == "failed" and result.quarantined_rows == len(frame)
    limit = next(o for o in result.outcomes if o.rule == VOLUME_LIMIT)
    assert limit.kwargs["max_value"] == 2000  # GX evaluated `recent_median_rows * 100`
    assert limit.observed_value == len(frame)
    ratio = len(frame) / 20
    assert limit.message == (
        f"{len(frame):,} rows, {ratio:,.1f}x the recent median of 20 rows per batch; "
        "expected at most 2,000"
    )
    band = next(o for o in result.outcomes if o.rule == VOLUME)
    assert (band.kwargs["min_value"], band.kwargs["max_value"]) == (4, 100)


@pytest.mark.parametrize(
    ("name", "caught"),
    [
        ("data/raw/2026-01.csv", False),  # the month holds the fixture's day
        ("data/raw/2026-W02.csv", False),  # ISO week 2026-01-05 .. 2026-01-11
        ("data/raw/2026-W01.csv", True),  # 2025-12-29 .. 2026-01-04
        ("data/raw/2026-02.csv", True),
        ("data/raw/2026-Q2.csv", True),
    ],
)
def test_freshness_uses_the_period_in_the_file_name(typed_batch, runner, name, caught):
    result = runner.validate(typed_batch(), name)
    rule = "freshness/expect_column_values_to_be_between/event_time"
    assert (rule in failed_rules(result)) == caught
    assert "freshness" not in " ".join(result.skipped)
