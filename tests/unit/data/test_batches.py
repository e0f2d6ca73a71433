"""Ingest: every raw file accounted for (formats, symlinks) and values no contract type holds."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datawheel.config.params import load_params
from datawheel.data.batches import list_batches, read_manifest
from datawheel.data.contract import parse_column, read_batch, row_ids
from datawheel.data.simulate import simulate_day, write_batch
from datawheel.errors import DataContractError
from datawheel.io.files import file_md5
from datawheel.pipeline.ingest import ingest_batches

ROOT = Path(__file__).resolve().parents[3]
CONTRACT = load_params(ROOT / "params.yaml").contract
DAY = dt.date(2026, 3, 1)


@pytest.fixture(scope="module")
def day_csv(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("f") / "d.csv"
    write_batch(simulate_day(DAY, 40, 7), path, "csv")
    return path.read_bytes()


def with_cell(csv: bytes, column: str, value: str, line: int = 3) -> bytes:
    """The CSV with one cell replaced; `line` counts the header as line 1."""
    text = csv.decode().splitlines()
    header = text[0].split(",")
    cells = text[line - 1].split(",")
    cells[header.index(column)] = value
    text[line - 1] = ",".join(cells)
    return ("\n".join(text) + "\n").encode()


def jsonl_of(typed: pd.DataFrame, blank_lines: bool = False) -> bytes:
    """JSON lines as an exporter writes them: numbers as numbers, times as ISO text."""
    out = []
    for record in typed.to_dict("records"):
        row = {
            k: v.isoformat() if isinstance(v, pd.Timestamp) else None if pd.isna(v) else v
            for k, v in record.items()
        }
        out.append(json.dumps(row))
        if blank_lines:
            out.append("")
    return ("\n".join(out) + "\n").encode()


def ingest_one(tmp_path: Path, name: str, data: bytes):
    """Ingest a raw folder holding one file; returns its record (raw md5 checked unchanged)."""
    raw = tmp_path / "raw"
    raw.mkdir(exist_ok=True)
    (raw / name).write_bytes(data)
    before = file_md5(raw / name)
    result = ingest_batches(raw, tmp_path / "ingested", tmp_path / "q", CONTRACT, root=tmp_path)
    assert file_md5(raw / name) == before
    (record,) = result.batches
    return record


# --- values the contract type cannot hold ------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("tenure_months", "inf", "unrepresentable_value"),
        ("tenure_months", "-inf", "unrepresentable_value"),
        ("tenure_months", "-Infinity", "unrepresentable_value"),
        ("tenure_months", "nan", "unrepresentable_value"),
        ("tenure_months", "NaN", "unrepresentable_value"),
        ("tenure_months", "1e30", "unrepresentable_value"),
        ("tenure_months", "9223372036854775808", "unrepresentable_value"),
        ("tenure_months", "-9223372036854775809", "unrepresentable_value"),
        ("tenure_months", "99999999999999999999999", "unrepresentable_value"),
        ("tenure_months", "1.5", "contract_type_int"),
        ("monthly_charges", "inf", "unrepresentable_value"),
        ("monthly_charges", "1e400", "unrepresentable_value"),
        ("monthly_charges", "nan", "unrepresentable_value"),
        ("data_usage_gb", "-inf", "unrepresentable_value"),
    ],
)
def test_unrepresentable_values_quarantine_naming_column_line_and_value(
    tmp_path, day_csv, column, value, rule
):
    record = ingest_one(tmp_path, "d.csv", with_cell(day_csv, column, value, line=5))
    assert record.status == "quarantined"
    assert record.reason["rule"] == rule
    message = record.reason["message"]
    assert f"column {column!r}" in message and repr(value) in message
    assert "at line 5 (row 4)" in message
    saved = json.loads((tmp_path / "q" / f"{record.md5}.json").read_text())
    assert saved["reason"]["rule"] == rule


def test_int64_edges_are_kept_exactly(day_csv):
    for value in ("9223372036854775807", "-9223372036854775808", "12.0"):
        typed, _ = read_batch(with_cell(day_csv, "tenure_months", value), "d.csv", CONTRACT)
        assert typed["tenure_months"].iloc[1] == int(float(value) if "." in value else value)


def test_empty_cells_are_nulls_left_to_validate(day_csv):
    # Non-nullable columns are checked row by row in validate (expectations/nulls.json).
    typed, _ = read_batch(with_cell(day_csv, "age", ""), "d.csv", CONTRACT)
    assert typed["age"].isna().sum() == 1


def test_parse_column_never_raises_on_unrepresentable_values():
    values = pd.Series(["1", "inf", "1e30", "nan", "2.5", None], dtype="str")
    parsed = parse_column(values, "int")
    assert str(parsed.dtype) == "Int64"
    assert parsed.iloc[0] == 1 and parsed.iloc[1:].isna().all()
    floats = parse_column(pd.Series([1.0, float("inf")]), "float")
    assert floats.iloc[0] == 1.0 and pd.isna(floats.iloc[1])


def test_parquet_float_inf_in_an_int_column_names_row_index_plus_one(tmp_path, day_csv):
    frame = pd.read_csv(io.BytesIO(day_csv))
    frame["age"] = frame["age"].astype("float64")
    frame.loc[2, "age"] = float("inf")
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer)
    record = ingest_one(tmp_path, "d.parquet", buffer.getvalue())
    assert record.reason["rule"] == "unrepresentable_value"
    assert "'age'" in record.reason["message"] and "inf" in record.reason["message"]
    assert "line 3 (row 3)" in record.reason["message"]


# --- formats -------------------------------------------------------------------------------


def encodings(csv: bytes, typed: pd.DataFrame) -> dict[str, bytes]:
    frame = pd.read_csv(io.BytesIO(csv), dtype=str, keep_default_na=False)
    parquet = io.BytesIO()
    write = pa.Table.from_pandas(typed, preserve_index=False)
    pq.write_table(write, parquet)
    zstd = pa.BufferOutputStream()
    with pa.output_stream(zstd, compression="zstd") as stream:
        stream.write(csv)
    return {
        "d.csv": csv,
        "d.tsv": frame.to_csv(sep="\t", index=False, lineterminator="\n").encode(),
        "d.csv.gz": gzip.compress(csv, mtime=0),
        "d.CSV.ZST": zstd.getvalue().to_pybytes(),
        "d.parquet": parquet.getvalue(),
        "d.jsonl": jsonl_of(typed),
        "d.ndjson": jsonl_of(typed),
    }


@pytest.mark.parametrize(
    "name", ["d.tsv", "d.csv.gz", "d.CSV.ZST", "d.parquet", "d.jsonl", "d.ndjson"]
)
def test_each_format_reads_into_the_same_typed_frame_as_csv(day_csv, name):
    expected, csv_lines = read_batch(day_csv, "d.csv", CONTRACT)
    data = encodings(day_csv, expected)[name]
    typed, lines = read_batch(data, name, CONTRACT)
    pd.testing.assert_frame_equal(typed, expected)
    assert row_ids(typed).tolist() == row_ids(expected).tolist()
    first_line = 2 if "sv" in name.lower() else 1  # header line, or none
    assert lines.tolist() == list(range(first_line, first_line + len(expected)))
    assert csv_lines.iloc[0] == 2


def test_jsonl_lines_are_the_file_lines_with_blank_lines(day_csv):
    expected, _ = read_batch(day_csv, "d.csv", CONTRACT)
    bad = with_cell(day_csv, "tenure_months", "1.5", line=4)
    typed, lines = read_batch(jsonl_of(expected, blank_lines=True), "d.jsonl", CONTRACT)
    assert lines.tolist()[:3] == [1, 3, 5]
    frame = pd.read_csv(io.BytesIO(bad))
    frame["event_time"] = expected["event_time"]
    with pytest.raises(DataContractError, match=r"'tenure_months'.*1\.5.*line 5 \(row 3\)"):
        read_batch(jsonl_of(frame, blank_lines=True), "d.jsonl", CONTRACT)


@pytest.mark.parametrize(
    ("name", "data", "rule"),
    [
        ("d.csv.gz", b"not gzip at all", "compression_readable"),
        ("d.jsonl", b'{"a": 1}\n{"a": "x"}\n', "jsonl_parseable"),
        ("d.jsonl", b"{not json\n", "jsonl_parseable"),
        ("d.parquet", b"PAR1 nope", "parquet_readable"),
        ("d.tsv", b"a\tb\n1\t2\n3\n", "csv_rectangular"),
        ("d.xlsx", b"PK\x03\x04 a spreadsheet", "unsupported_format"),
        ("d.json", b'[{"a": 1}]', "unsupported_format"),
        ("notes.txt", b"hello\n", "unsupported_format"),
        ("README", b"no suffix\n", "unsupported_format"),
    ],
)
def test_unreadable_files_are_quarantined_with_their_rule(tmp_path, name, data, rule):
    record = ingest_one(tmp_path, name, data)
    assert (record.status, record.reason["rule"]) == ("quarantined", rule)
    assert record.reason["batch"] == f"raw/{name}"


# --- every file accounted for --------------------------------------------------------------


def test_symlinks_are_quarantined_and_never_followed(tmp_path, day_csv, monkeypatch):
    raw, outside = tmp_path / "raw", tmp_path / "outside"
    (raw / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.csv").write_bytes(day_csv)
    (raw / "good.csv").write_bytes(day_csv)
    os.symlink(outside / "secret.csv", raw / "linked.csv")
    os.symlink(outside, raw / "sub" / "linked_dir")
    os.symlink(tmp_path / "missing.csv", raw / "dangling.csv")
    opened: list[str] = []
    real_read_bytes = Path.read_bytes
    monkeypatch.setattr(
        Path, "read_bytes", lambda self: opened.append(self.name) or real_read_bytes(self)
    )
    result = ingest_batches(raw, tmp_path / "ingested", tmp_path / "q", CONTRACT, root=tmp_path)
    status = {b.path: (b.status, b.reason.get("rule")) for b in result.batches}
    assert status == {
        "raw/dangling.csv": ("quarantined", "symlink"),
        "raw/good.csv": ("ingested", None),
        "raw/linked.csv": ("quarantined", "symlink"),
        "raw/sub/linked_dir": ("quarantined", "symlink"),
    }
    assert opened == ["good.csv"]
    assert len(list((tmp_path / "q").glob("*.json"))) == 3
    assert {b.path for b in read_manifest(tmp_path / "ingested")} == set(status)


def test_every_file_is_listed_and_reuse_still_holds(tmp_path, day_csv):
    raw = tmp_path / "raw"
    (raw / "nested").mkdir(parents=True)
    (raw / "a.csv").write_bytes(day_csv)
    (raw / "nested" / "b.csv.gz").write_bytes(gzip.compress(day_csv, mtime=0))
    (raw / "c.xlsx").write_bytes(b"PK")
    (raw / ".hidden").write_bytes(b"x")
    os.symlink(raw / "a.csv", raw / "d.csv")
    assert [p.relative_to(raw).as_posix() for p in list_batches(raw)] == [
        ".hidden",
        "a.csv",
        "c.xlsx",
        "d.csv",
        "nested/b.csv.gz",
    ]
    args = (raw, tmp_path / "ingested", tmp_path / "q", CONTRACT)
    first = ingest_batches(*args, root=tmp_path)
    assert first.read == ["raw/.hidden", "raw/a.csv", "raw/c.xlsx", "raw/nested/b.csv.gz"]
    manifest = (tmp_path / "ingested" / "manifest.json").read_bytes()
    quarantine = sorted((tmp_path / "q").glob("*.json"))
    again = ingest_batches(*args, root=tmp_path)
    assert again.read == []
    assert [b.status for b in again.batches] == [b.status for b in first.batches]
    assert (tmp_path / "ingested" / "manifest.json").read_bytes() == manifest
    assert sorted((tmp_path / "q").glob("*.json")) == quarantine
