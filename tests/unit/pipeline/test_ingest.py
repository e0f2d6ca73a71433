"""Ingest: typing per the contract, provenance, quarantine of unreadable batches, incremental."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from datawheel.config.params import load_params
from datawheel.data.batches import load_ingested, read_csv_bytes
from datawheel.data.contract import read_batch, row_ids, with_provenance
from datawheel.data.simulate import simulate, simulate_day, write_batch
from datawheel.errors import DataContractError
from datawheel.io.files import file_md5
from datawheel.pipeline.ingest import ingest_batches

ROOT = Path(__file__).resolve().parents[3]
CONTRACT = load_params(ROOT / "params.yaml").contract
DAY = dt.date(2026, 3, 1)


@pytest.fixture(scope="module")
def day_csv(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("b") / "d.csv"
    write_batch(simulate_day(DAY, 200, 3), path, "csv")
    return path.read_bytes()


def test_types_follow_the_contract(day_csv):
    typed, lines = read_batch(day_csv, "d.csv", CONTRACT)
    assert list(typed.columns) == list(CONTRACT.columns)
    assert str(typed["event_time"].dtype) == "datetime64[us, UTC]"
    assert str(typed["tenure_months"].dtype) == "Int64"
    assert typed["monthly_charges"].dtype == "float64"
    assert lines.iloc[0] == 2 and lines.iloc[-1] == len(typed) + 1


def test_csv_and_parquet_of_the_same_rows_get_the_same_row_ids(tmp_path):
    frame = simulate_day(DAY, 100, 5)
    write_batch(frame, tmp_path / "a.csv", "csv")
    write_batch(frame, tmp_path / "a.parquet", "parquet")
    from_csv, _ = read_batch((tmp_path / "a.csv").read_bytes(), "a.csv", CONTRACT)
    from_parquet, _ = read_batch((tmp_path / "a.parquet").read_bytes(), "a.parquet", CONTRACT)
    assert row_ids(from_csv).tolist() == row_ids(from_parquet).tolist()


def test_row_id_is_a_content_hash(day_csv):
    typed, _ = read_batch(day_csv, "d.csv", CONTRACT)
    ids = row_ids(typed)
    assert ids.str.fullmatch(r"[0-9a-f]{16}").all()
    assert ids.is_unique
    changed = typed.copy()
    changed.loc[0, "age"] = changed.loc[0, "age"] + 1
    assert row_ids(changed).iloc[0] != ids.iloc[0]
    assert (row_ids(changed).iloc[1:] == ids.iloc[1:]).all()


def test_provenance_columns(day_csv):
    typed, lines = read_batch(day_csv, "d.csv", CONTRACT)
    frame = with_provenance(typed, "data/raw/d.csv", "abc", lines)
    assert list(frame.columns[:4]) == ["row_id", "batch", "batch_md5", "line"]
    assert set(frame["batch"]) == {"data/raw/d.csv"}


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (b"", "batch_not_empty"),
        (b"customer_id,event_time\n", "contract_columns"),
        (b"a,b\n1,2\n3\n", "csv_rectangular"),
        (b"a,b\n\xe9t\xe9,2\n", "encoding_utf8"),
    ],
)
def test_unreadable_batches_name_the_rule(data, rule):
    with pytest.raises(DataContractError, match=rf"bad\.csv.*rule: {rule}"):
        reader = read_batch if rule == "contract_columns" else read_csv_bytes
        args = (data, "bad.csv", CONTRACT) if reader is read_batch else (data, "bad.csv")
        reader(*args)


def test_unparseable_value_names_column_and_row(day_csv):
    text = day_csv.decode().splitlines()
    header = text[0].split(",")
    cells = text[1].split(",")
    cells[header.index("tenure_months")] = "twelve"
    broken = "\n".join([text[0], ",".join(cells), *text[2:]]).encode()
    with pytest.raises(
        DataContractError, match=r"'tenure_months'.*'twelve'.*row 1.*contract_type_int"
    ):
        read_batch(broken, "d.csv", CONTRACT)


def test_renamed_column_is_named(day_csv):
    renamed = day_csv.replace(b"monthly_charges", b"monthly_charge", 1)
    with pytest.raises(
        DataContractError, match=r"missing column\(s\) \['monthly_charges'\].*renamed"
    ):
        read_batch(renamed, "d.csv", CONTRACT)


def test_ingest_is_incremental_and_quarantines_bad_batches(tmp_path):
    raw, out, quarantine = tmp_path / "raw", tmp_path / "ingested", tmp_path / "q"
    simulate(raw, DAY, 3, 50, 1)
    (raw / "broken.csv").write_bytes(b"")
    hashes = {p.name: file_md5(p) for p in raw.iterdir()}

    first = ingest_batches(raw, out, quarantine, CONTRACT, root=tmp_path)
    assert len(first.read) == 4
    statuses = {b.path: b.status for b in first.batches}
    assert statuses["raw/broken.csv"] == "quarantined"
    assert (quarantine / f"{file_md5(raw / 'broken.csv')}.json").exists()

    simulate(raw, DAY + dt.timedelta(days=3), 1, 50, 1)
    second = ingest_batches(raw, out, quarantine, CONTRACT, root=tmp_path)
    assert second.read == ["raw/2026-03-04.csv"]
    frame = load_ingested(out, second.batches)
    assert frame["batch"].nunique() == 4
    assert {p.name: file_md5(p) for p in raw.iterdir() if p.name in hashes} == hashes


def test_contract_change_reingests_everything(tmp_path):
    raw, out, quarantine = tmp_path / "raw", tmp_path / "ingested", tmp_path / "q"
    simulate(raw, DAY, 2, 30, 1)
    ingest_batches(raw, out, quarantine, CONTRACT, root=tmp_path)
    nullable = CONTRACT.model_copy(
        update={
            "columns": {
                **CONTRACT.columns,
                "age": CONTRACT.columns["age"].model_copy(update={"nullable": True}),
            }
        }
    )
    again = ingest_batches(raw, out, quarantine, nullable, root=tmp_path)
    assert len(again.read) == 2


def test_removed_batch_drops_its_output(tmp_path):
    raw, out, quarantine = tmp_path / "raw", tmp_path / "ingested", tmp_path / "q"
    paths = simulate(raw, DAY, 2, 30, 1)
    ingest_batches(raw, out, quarantine, CONTRACT, root=tmp_path)
    paths[0].unlink()
    result = ingest_batches(raw, out, quarantine, CONTRACT, root=tmp_path)
    assert [b.path for b in result.batches] == ["raw/2026-03-02.csv"]
    assert len(list(out.glob("*.parquet"))) == 1
    assert isinstance(load_ingested(out, result.batches), pd.DataFrame)


def test_file_hashes_come_from_dvc_state_and_follow_changes(tmp_path):
    from datawheel.io.files import StatHashes, file_md5

    (tmp_path / ".dvc").mkdir()
    batch = tmp_path / "day.csv"
    batch.write_text("a,b\n1,2\n")
    with StatHashes(tmp_path) as hashes:
        assert hashes.md5(batch) == file_md5(batch)
    assert (tmp_path / ".dvc/tmp/datawheel").is_dir()  # the state database, not an output
    batch.write_text("a,b\n1,2\n3,4\n")
    with StatHashes(tmp_path) as hashes:
        assert hashes.md5(batch) == file_md5(batch)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "x.csv").write_text("x\n")
    with StatHashes(outside) as hashes:  # not a DVC project: hashed each time
        assert hashes.md5(outside / "x.csv") == file_md5(outside / "x.csv")


def test_a_tampered_ingested_file_is_rebuilt_from_its_raw_batch_and_said_so(tmp_path):
    raw, out, quarantine = tmp_path / "raw", tmp_path / "ingested", tmp_path / "q"
    simulate(raw, DAY, 2, 40, 1)
    first = ingest_batches(raw, out, quarantine, CONTRACT, root=tmp_path)
    target = first.batches[0]
    path = out / f"{target.md5}.parquet"
    original = pd.read_parquet(path)
    flipped = original.assign(churned=1 - original["churned"])
    flipped.to_parquet(path, index=False)

    again = ingest_batches(raw, out, quarantine, CONTRACT, root=tmp_path)
    assert again.read == [target.path]
    assert len(again.rebuilt) == 1
    assert path.as_posix() in again.rebuilt[0] and "output_integrity" in again.rebuilt[0]
    assert f"rebuilt from {target.path}" in again.rebuilt[0]
    pd.testing.assert_frame_equal(pd.read_parquet(path), original)
    assert file_md5(path) == again.batches[0].output_md5 == target.output_md5


def test_an_untouched_ingested_file_is_reused_and_one_the_manifest_never_recorded_is_not(tmp_path):
    import json

    raw, out, quarantine = tmp_path / "raw", tmp_path / "ingested", tmp_path / "q"
    simulate(raw, DAY, 2, 40, 1)
    ingest_batches(raw, out, quarantine, CONTRACT, root=tmp_path)
    assert ingest_batches(raw, out, quarantine, CONTRACT, root=tmp_path).read == []
    manifest = json.loads((out / "manifest.json").read_text())
    for record in manifest["batches"].values():
        record["output_md5"] = None  # a manifest from before outputs were recorded
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert len(ingest_batches(raw, out, quarantine, CONTRACT, root=tmp_path).read) == 2


def test_a_duplicate_batch_keeps_the_first_deliverys_rows_and_is_recorded_as_a_copy(tmp_path):
    raw, out, quarantine = tmp_path / "raw", tmp_path / "ingested", tmp_path / "q"
    simulate(raw, DAY, 2, 40, 1)
    ingest_batches(raw, out, quarantine, CONTRACT, root=tmp_path)
    original = raw / "2026-03-02.csv"
    # A copy under a name that sorts before the original, delivered later.
    (raw / "2026-03-01-resend.csv").write_bytes(original.read_bytes())

    result = ingest_batches(raw, out, quarantine, CONTRACT, root=tmp_path)
    by_path = {b.path: b for b in result.batches}
    copy = by_path["raw/2026-03-01-resend.csv"]
    assert copy.duplicate_of == "raw/2026-03-02.csv" and copy.status == "ingested"
    assert by_path["raw/2026-03-02.csv"].duplicate_of is None
    assert result.read == []  # the copy's bytes are the original's: nothing new to read
    rows = pd.read_parquet(out / f"{copy.md5}.parquet")
    assert set(rows["batch"]) == {"raw/2026-03-02.csv"}


def test_copies_delivered_together_belong_to_the_first_in_sorted_order(tmp_path):
    raw, out, quarantine = tmp_path / "raw", tmp_path / "ingested", tmp_path / "q"
    simulate(raw, DAY, 1, 40, 1)
    (raw / "resend-2026-03-01.csv").write_bytes((raw / "2026-03-01.csv").read_bytes())
    result = ingest_batches(raw, out, quarantine, CONTRACT, root=tmp_path)
    assert [(b.path, b.duplicate_of) for b in result.batches] == [
        ("raw/2026-03-01.csv", None),
        ("raw/resend-2026-03-01.csv", "raw/2026-03-01.csv"),
    ]
    rows = pd.read_parquet(out / f"{result.batches[1].md5}.parquet")
    assert set(rows["batch"]) == {"raw/2026-03-01.csv"}


def test_lines_are_the_files_real_lines_when_quoted_values_hold_newlines():
    data = b'a,b\n1,"two\nlines"\n\n2,"x"\n3,"three\n\nlines"\n4,y\n'
    frame, lines = read_csv_bytes(data, "q.csv")
    assert frame["b"].tolist() == ["two\nlines", "x", "three\n\nlines", "y"]
    assert lines.tolist() == [2, 5, 6, 9]


def test_a_ragged_row_after_a_multiline_value_names_its_real_line():
    data = b'a,b\n1,"two\nlines"\n2,3,4\n'
    with pytest.raises(
        DataContractError, match=r"line 4 has 3 fields, header has 2 .*csv_rectangular"
    ):
        read_csv_bytes(data, "q.csv")


@pytest.mark.parametrize(
    ("data", "line"),
    [(b"a,b\n1,2\n3", 3), (b"a,b\n1,2\n3,4,5\n6,7\n", 3), (b'a,b\n1,2\n3,"cut', 3)],
)
def test_a_truncated_or_ragged_file_names_the_line_never_none(data, line):
    with pytest.raises(DataContractError) as caught:
        read_csv_bytes(data, "t.csv")
    message = str(caught.value)
    assert f"line {line} " in message and "None" not in message
    assert message.endswith("(rule: csv_rectangular)")


def test_a_50_mb_field_is_read_whole():
    value = b"x" * (50 << 20)
    frame, lines = read_csv_bytes(b'a,b\n1,"' + value + b'"\n2,3\n', "big.csv")
    assert len(frame["b"].iloc[0]) == len(value) and lines.tolist() == [2, 3]


@pytest.mark.parametrize("suffix", ["csv", "tsv"])
def test_the_contracts_null_tokens_are_nulls(suffix):
    contract = CONTRACT.model_copy(update={"null_values": ("N/A", "-")})
    frame = simulate_day(DAY, 5, 3)
    frame["data_usage_gb"] = frame["data_usage_gb"].astype(object)
    frame.loc[[1, 3], "data_usage_gb"] = ["N/A", "-"]
    sep = "," if suffix == "csv" else "\t"
    data = frame.to_csv(index=False, sep=sep, date_format="%Y-%m-%dT%H:%M:%SZ").encode()
    typed, _ = read_batch(data, f"d.{suffix}", contract)
    assert typed["data_usage_gb"].isna().tolist() == [False, True, False, True, False]
    with pytest.raises(DataContractError, match="data_usage_gb"):
        read_batch(data, f"d.{suffix}", CONTRACT)  # without the tokens: not a float
