"""The data diff's pure parts: batches by md5, rows by id and entity, schema, params, suites."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from datawheel.config.params import load_params
from datawheel.data.revisions import TrackedFile, infer_kind, load_batch
from datawheel.data.simulate import csv_text, simulate_day
from datawheel.review.diff import (
    batch_changes,
    column_changes,
    contract_kinds,
    expectation_changes,
    key_changes,
    reference_kinds,
    row_diff,
    suite_changes,
)

ROOT = Path(__file__).resolve().parents[3]
CONTRACT = load_params(ROOT / "params.yaml").contract
DAY = dt.date(2026, 1, 5)


def batch_bytes(rows: int = 40, day: dt.date = DAY) -> bytes:
    return csv_text(simulate_day(day, rows, 3)).encode("utf-8")


def loaded(data: bytes, name: str = "data/raw/2026-01-05.csv"):
    return load_batch(data, name, "0" * 32, CONTRACT)


def test_batches_are_compared_by_manifest_md5():
    base = [TrackedFile("a.csv", "1"), TrackedFile("b.csv", "2"), TrackedFile("c.csv", "3")]
    head = [TrackedFile("a.csv", "1"), TrackedFile("b.csv", "9"), TrackedFile("d.csv", "4")]
    changes, unchanged = batch_changes(base, head)
    assert unchanged == 1
    assert [(c.path, c.change, c.base_md5, c.head_md5) for c in changes] == [
        ("b.csv", "modified", "2", "9"),
        ("c.csv", "removed", "3", None),
        ("d.csv", "added", None, "4"),
    ]


def test_row_counts_are_exact_by_row_id_and_by_entity():
    base = loaded(batch_bytes()).frame
    edited = simulate_day(DAY, 40, 3)
    edited = edited.drop(index=[0, 1, 2])  # three rows removed
    edited.loc[[5, 6], "monthly_charges"] = [999.0, 998.0]  # two records edited
    extra = simulate_day(DAY + dt.timedelta(days=1), 4, 99).assign(
        event_time=edited["event_time"].iloc[-1]
    )
    edited = pd.concat([edited, extra], ignore_index=True)  # four new entities
    head = loaded(csv_text(edited).encode("utf-8")).frame
    diff = row_diff(base, head, "customer_id", list(CONTRACT.columns), sample=3)
    assert (diff.added, diff.removed) == (6, 5)
    assert (diff.new, diff.deleted, diff.changed) == (4, 3, 2)
    assert (diff.entities_new, diff.entities_deleted, diff.entities_changed) == (4, 3, 2)
    assert diff.unchanged == len(head) - 6
    assert diff.changed_columns == {"monthly_charges": 2}
    changed = diff.samples["changed"]
    assert [c["entity"] for c in changed] == sorted(c["entity"] for c in changed)
    assert {tuple(c["changes"]["monthly_charges"])[1] for c in changed} == {999.0, 998.0}
    assert [r["line"] for r in diff.samples["removed"]] == [2, 3, 4]
    assert len(diff.samples["added"]) == 3
    assert diff.samples["added"] == sorted(diff.samples["added"], key=lambda r: r["line"])


def test_identical_frames_differ_in_nothing():
    frame = loaded(batch_bytes()).frame
    diff = row_diff(frame, frame, "customer_id", list(CONTRACT.columns))
    assert (diff.added, diff.removed, diff.changed, diff.unchanged) == (0, 0, 0, len(frame))
    assert diff.samples == {"added": [], "removed": [], "changed": []}


def test_entities_with_several_rows_are_changed_but_not_paired():
    before = pd.DataFrame(
        {"row_id": ["a", "b"], "batch": "x", "line": [2, 3], "id": ["E", "E"], "v": [1, 2]}
    )
    after = pd.DataFrame({"row_id": ["c"], "batch": "x", "line": [2], "id": ["E"], "v": [3]})
    diff = row_diff(before, after, "id", ["v"])
    assert (diff.changed, diff.deleted, diff.entities_changed) == (1, 0, 1)
    assert diff.changed_columns == {}
    assert diff.samples["changed"] == [{"entity": "E", "changes": None}]


def test_load_batch_types_like_ingest_and_keeps_a_contract_breaker_readable():
    good = loaded(batch_bytes())
    assert good.error is None and good.readable
    assert good.kinds["monthly_charges"] == "float" and good.kinds["age"] == "int"
    assert good.kinds["event_time"] == "datetime" and good.kinds["region"] == "string"
    assert str(good.frame["event_time"].dtype) == "datetime64[us, UTC]"
    assert good.frame["row_id"].str.len().eq(16).all()

    source = simulate_day(DAY, 40, 3).rename(columns={"monthly_charges": "monthly_charge"})
    broken = loaded(csv_text(source).encode("utf-8"))
    assert broken.rule == "contract_columns" and "monthly_charges" in broken.error
    assert broken.rows == len(source) and "monthly_charge" in broken.frame.columns

    unreadable = loaded(b"")
    assert not unreadable.readable and unreadable.rule == "batch_not_empty"


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (["1", "2", None], "int"),
        (["1.50", "2.00"], "float"),
        (["2026-01-01T00:00:00Z"], "datetime"),
        (["true", "False"], "bool"),
        (["a", "1"], "string"),
        ([None, None], "empty"),
    ],
)
def test_infer_kind(values, kind):
    assert infer_kind(pd.Series(values, dtype="object")) == kind


def test_column_changes_name_renamed_and_retyped_columns():
    reference = reference_kinds([loaded(batch_bytes())])
    frame = simulate_day(DAY, 40, 3).rename(columns={"monthly_charges": "monthly_charge"})
    frame["age"] = frame["age"].astype(str) + " years"
    head = loaded(csv_text(frame).encode("utf-8"), "data/raw/2026-01-06.csv")
    changes = column_changes(reference, [head])
    assert [(c.column, c.change, c.before, c.after) for c in changes] == [
        ("monthly_charges", "removed", "float", None),
        ("monthly_charge", "added", None, "float"),
        ("age", "retyped", "int", "string"),
    ]
    assert changes[0].batches == ["data/raw/2026-01-06.csv"]
    assert contract_kinds(CONTRACT.columns)["plan"] == "string"


def test_params_changes_are_dotted_keys():
    before = {"contract": {"columns": {"age": {"type": "int"}}}, "window": {"days": 60}}
    after = {"contract": {"columns": {"age": {"type": "float"}, "x": {"type": "int"}}}}
    assert [(c.key, c.change, c.before, c.after) for c in key_changes(before, after)] == [
        ("contract.columns.age.type", "changed", "int", "float"),
        ("contract.columns.x.type", "added", None, "int"),
        ("window.days", "removed", 60, None),
    ]


def expectation(kind: str, column: str, **kwargs):
    return {"type": kind, "kwargs": {"column": column, **kwargs}, "severity": "critical"}


def test_suite_changes_name_the_expectations_that_changed():
    ranges = {
        "name": "ranges",
        "expectations": [
            expectation("expect_column_values_to_be_between", "age", min_value=18, max_value=95),
            expectation("expect_column_values_to_not_be_null", "age"),
        ],
    }
    tightened = {
        "name": "ranges",
        "expectations": [
            expectation("expect_column_values_to_be_between", "age", min_value=18, max_value=90),
            {**expectation("expect_column_values_to_not_be_null", "age"), "severity": "warning"},
            expectation("expect_column_values_to_not_be_null", "plan"),
        ],
    }
    new_suite = {"name": "extra", "expectations": [expectation("expect_column_to_exist", "x")]}
    changes = suite_changes(
        {"expectations/ranges.json": ranges, "expectations/gone.json": {"name": "gone"}},
        {"expectations/ranges.json": tightened, "expectations/extra.json": new_suite},
    )
    assert [(s.name, s.change, s.path) for s in changes] == [
        ("extra", "added", "expectations/extra.json"),
        ("gone", "removed", "expectations/gone.json"),
        ("ranges", "changed", "expectations/ranges.json"),
    ]
    inner = [(e.change, e.type, e.column, e.fields) for e in changes[2].expectations]
    assert inner == [
        ("changed", "expect_column_values_to_be_between", "age", ["kwargs.max_value"]),
        ("changed", "expect_column_values_to_not_be_null", "age", ["severity"]),
        ("added", "expect_column_values_to_not_be_null", "plan", []),
    ]
    assert changes[2].expectations[0].before["kwargs"]["max_value"] == 95
    assert expectation_changes(ranges["expectations"], ranges["expectations"]) == []


@pytest.mark.parametrize("id_column", ["customer_id", "support_calls", "event_time"])
def test_rows_are_compared_whatever_the_id_columns_type(id_column):
    """str, int and datetime ids: a first batch (BASE has no rows) and an edited batch."""
    from datawheel.review.diff import _concat

    contract = CONTRACT.model_copy(update={"id_column": id_column})
    frame = load_batch(batch_bytes(), "data/raw/2026-01-05.csv", "0" * 32, contract).frame
    first = row_diff(_concat([], contract), frame, id_column, list(contract.columns))
    assert (first.added, first.removed, first.unchanged) == (len(frame), 0, 0)
    assert first.entities_new == frame[id_column].nunique()

    edited = frame.drop(index=[0]).reset_index(drop=True)
    again = row_diff(frame, edited, id_column, list(contract.columns))
    assert (again.added, again.removed, again.unchanged) == (0, 1, len(frame) - 1)
    entity = again.samples["removed"][0]["entity"]
    assert entity is not None and not isinstance(entity, pd.Timestamp)  # JSON-ready
