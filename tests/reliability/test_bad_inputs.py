"""The bad-input corpus: what a careless supplier or an attacker puts in data/raw.

Each case places one file beside three good days in a project made by `datawheel init`, runs
the ingest stage as DVC runs it (`python -m stages.ingest` in the project), and checks the
documented outcome: the batch quarantined with a reason naming file, column (where there is
one) and rule, or accepted with its rows. Ingest exits 0 either way: a bad batch stops only
itself there, the good ones are ingested, and validate then stops the pipeline (exit code 4)
while the bad one is unacknowledged. In every case the bytes under data/raw are the same
after the run as before.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from datawheel.config.params import load_params
from datawheel.data.contract import read_batch
from datawheel.data.simulate import simulate_day, write_batch
from tests.reliability.conftest import GOOD_DAYS, run, tree_md5s

DAY = dt.date(2026, 3, 1)
ROWS = 30


def good_csv() -> bytes:
    """A good day of the built-in stream as CSV bytes (header + ROWS rows)."""
    buffer = Path(os.environ.get("TMPDIR", "/tmp"))  # write_batch wants a path
    path = buffer / f"datawheel-corpus-{os.getpid()}.csv"
    write_batch(simulate_day(DAY, ROWS, 3), path, "csv")
    try:
        return path.read_bytes()
    finally:
        path.unlink()


GOOD = good_csv()
ACCEPTED_ROWS = len(GOOD.decode().splitlines()) - 1
HEADER, *LINES = GOOD.decode().splitlines()
COLUMNS = HEADER.split(",")


def with_cell(column: str, value: str, line: int = 4) -> bytes:
    """GOOD with one cell replaced; line 1 is the header."""
    rows = [HEADER, *LINES]
    cells = rows[line - 1].split(",")
    cells[COLUMNS.index(column)] = value
    rows[line - 1] = ",".join(cells)
    return ("\n".join(rows) + "\n").encode()


def with_columns(edit: Callable[[list[str]], list[str]]) -> bytes:
    """GOOD with every line's cells edited the same way (drop, add, rename a column)."""
    rows = [",".join(edit(line.split(","))) for line in [HEADER, *LINES]]
    return ("\n".join(rows) + "\n").encode()


def renamed(cells: list[str]) -> list[str]:
    return ["tenure" if c == "tenure_months" else c for c in cells]


def typed_good() -> pd.DataFrame:
    contract = load_params(Path(__file__).resolve().parents[2] / "params.yaml").contract
    return read_batch(GOOD, "good.csv", contract)[0]


def as_parquet() -> bytes:
    buffer = io.BytesIO()
    typed_good().to_parquet(buffer, index=False)
    return buffer.getvalue()


def as_jsonl() -> bytes:
    frame = typed_good()
    frame["event_time"] = frame["event_time"].map(lambda t: t.isoformat())
    return frame.to_json(orient="records", lines=True).encode()


def as_zstd() -> bytes:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.CompressedOutputStream(sink, "zstd") as stream:
        stream.write(GOOD)
    return sink.getvalue().to_pybytes()


class Disguised:
    """A pickle payload: unpickling it would create the file it names."""

    def __reduce__(self):
        return (Path.touch, (Path("/nonexistent/datawheel-unpickled"),))


@dataclass(frozen=True)
class Case:
    id: str
    does: str
    name: str  # file name under data/raw
    data: bytes
    rule: str | None  # the rule in the quarantine reason; None = accepted
    column: str | None = None  # the column the reason names
    rows: int = ACCEPTED_ROWS  # rows ingested when accepted
    message: str | None = None  # text the reason must hold (a line number, say)
    last_line: int | None = None  # the file line of the last row, when accepted


CORPUS = [
    Case(
        "truncated",
        "the export stopped mid-row",
        "2026-03-01.csv",
        GOOD[: len(GOOD) * 2 // 3],
        "csv_rectangular",
    ),
    Case(
        "ragged",
        "one row has an extra field",
        "2026-03-01.csv",
        with_cell("age", "40,7"),
        "csv_rectangular",
        message="line 4 has",
    ),
    Case(
        "unclosed_quote",
        "the export stopped inside a quoted value",
        "2026-03-01.csv",
        GOOD + b'C9,"2026-03-0',
        "csv_rectangular",
        message="never closes",
    ),
    Case(
        "multiline_value",
        "a quoted value holds a newline",
        "2026-03-01.csv",
        with_cell("plan", '"basic\nplus"', line=3),
        None,
        last_line=ACCEPTED_ROWS + 2,
    ),
    Case(
        "huge_field",
        "one 50 MB field",
        "2026-03-01.csv",
        with_cell("payment_method", "x" * (50 << 20)),
        None,
    ),
    Case(
        "utf16",
        "exported as UTF-16",
        "2026-03-01.csv",
        GOOD.decode().encode("utf-16"),
        "encoding_utf8",
    ),
    Case(
        "latin1",
        "a Latin-1 byte in a value",
        "2026-03-01.csv",
        GOOD.replace(b"R0", "Ré".encode("latin-1"), 1),
        "encoding_utf8",
    ),
    Case(
        "bom",
        "a UTF-8 byte-order mark (Excel's export)",
        "2026-03-01.csv",
        b"\xef\xbb\xbf" + GOOD,
        None,
    ),
    Case("crlf", "Windows line endings", "2026-03-01.csv", GOOD.replace(b"\n", b"\r\n"), None),
    Case("empty", "0 bytes", "2026-03-01.csv", b"", "batch_not_empty"),
    Case(
        "header_only",
        "a header and no rows",
        "2026-03-01.csv",
        (HEADER + "\n").encode(),
        "batch_not_empty",
    ),
    Case(
        "missing_column",
        "the last column dropped",
        "2026-03-01.csv",
        with_columns(lambda c: c[:-1]),
        "contract_columns",
        "churned",
    ),
    Case(
        "extra_column",
        "a column the contract lacks",
        "2026-03-01.csv",
        with_columns(lambda c: [*c, "discount" if c[0] == "customer_id" else "0"]),
        "contract_columns",
        "discount",
    ),
    Case(
        "duplicate_column",
        "one column name twice in the header",
        "2026-03-01.csv",
        with_columns(lambda c: [*c, c[0]]),
        "contract_columns",
        "customer_id",
    ),
    Case(
        "renamed_column",
        "tenure_months renamed to tenure",
        "2026-03-01.csv",
        with_columns(renamed),
        "contract_columns",
        "tenure_months",
    ),
    Case(
        "text_in_int",
        "text in an int column",
        "2026-03-01.csv",
        with_cell("tenure_months", "twelve"),
        "contract_type_int",
        "tenure_months",
    ),
    Case(
        "float_in_int",
        "1.5 in an int column",
        "2026-03-01.csv",
        with_cell("support_calls", "1.5"),
        "contract_type_int",
        "support_calls",
    ),
    Case(
        "bad_datetime",
        "a date that is not ISO 8601",
        "2026-03-01.csv",
        with_cell("event_time", "yesterday"),
        "contract_type_datetime",
        "event_time",
    ),
    Case(
        "inf_in_int",
        "inf in a non-nullable int column",
        "2026-03-01.csv",
        with_cell("age", "inf"),
        "unrepresentable_value",
        "age",
    ),
    Case(
        "overflow_in_int",
        "1e30 in an int column",
        "2026-03-01.csv",
        with_cell("tenure_months", "1e30"),
        "unrepresentable_value",
        "tenure_months",
    ),
    Case(
        "nan_in_int",
        "NaN in a non-nullable int column",
        "2026-03-01.csv",
        with_cell("churned", "NaN"),
        "unrepresentable_value",
        "churned",
    ),
    Case(
        "inf_in_float",
        "-Infinity in a float column",
        "2026-03-01.csv",
        with_cell("monthly_charges", "-Infinity"),
        "unrepresentable_value",
        "monthly_charges",
    ),
    Case(
        "xlsx", "a spreadsheet", "2026-03-01.xlsx", b"PK\x03\x04" + bytes(60), "unsupported_format"
    ),
    Case(
        "json",
        "a JSON array, not JSON lines",
        "2026-03-01.json",
        b'[{"customer_id": "C1"}]\n',
        "unsupported_format",
    ),
    Case("no_suffix", "a file with no suffix", "README", b"notes\n", "unsupported_format"),
    Case(
        "pickle_as_csv",
        "a pickle named .csv",
        "2026-03-01.csv",
        pickle.dumps(Disguised()),
        "encoding_utf8",
    ),
    Case(
        "bad_gzip", "a .csv.gz that is not gzip", "2026-03-01.csv.gz", GOOD, "compression_readable"
    ),
    Case(
        "bad_parquet",
        "a .parquet that is not Parquet",
        "2026-03-01.parquet",
        GOOD,
        "parquet_readable",
    ),
    Case(
        "bad_jsonl",
        "a .jsonl line that is not JSON",
        "2026-03-01.jsonl",
        b'{"customer_id": "C1"}\n{oops\n',
        "jsonl_parseable",
    ),
    Case("tsv", "a good day as TSV", "2026-03-01.tsv", GOOD.replace(b",", b"\t"), None),
    Case(
        "csv_gz", "a good day as gzip CSV", "2026-03-01.csv.gz", gzip.compress(GOOD, mtime=0), None
    ),
    Case("csv_zst", "a good day as zstd CSV", "2026-03-01.csv.zst", as_zstd(), None),
    Case("jsonl", "a good day as JSON lines", "2026-03-01.jsonl", as_jsonl(), None),
    Case("parquet", "a good day as Parquet", "2026-03-01.parquet", as_parquet(), None),
]


def ingest(root: Path) -> tuple[subprocess.CompletedProcess, dict[str, dict]]:
    """Run the ingest stage as DVC does; return its process and the manifest's records."""
    result = run(root, sys.executable, "-m", "stages.ingest")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((root / "data/ingested/manifest.json").read_text())
    return result, manifest["batches"]


def quarantine_record(root: Path, batch: dict) -> dict:
    return json.loads((root / "data/quarantine/batches" / f"{batch['md5']}.json").read_text())


@pytest.mark.parametrize("case", CORPUS, ids=[c.id for c in CORPUS])
def test_each_bad_input_has_its_documented_outcome(project: Path, case: Case):
    raw = project / "data/raw"
    (raw / case.name).write_bytes(case.data)
    before = tree_md5s(raw)

    result, batches = ingest(project)

    assert result.returncode == 0, result.stderr
    assert tree_md5s(raw) == before
    assert "Traceback" not in result.stderr
    name = f"data/raw/{case.name}"
    batch = batches[name]
    good = [b for path, b in batches.items() if path != name]
    assert len(good) == GOOD_DAYS and all(b["status"] == "ingested" for b in good)
    if case.rule is None:
        assert (batch["status"], batch["rows"]) == ("ingested", case.rows), batch
        frame = pd.read_parquet(project / "data/ingested" / f"{batch['md5']}.parquet")
        assert len(frame) == case.rows and set(frame["batch"]) == {name}
        if case.last_line is not None:
            assert int(frame["line"].max()) == case.last_line  # the file's real lines
        assert not (project / "data/quarantine/batches" / f"{batch['md5']}.json").exists()
        return
    assert batch["status"] == "quarantined"
    reason = quarantine_record(project, batch)["reason"]
    assert reason["rule"] == case.rule and reason["batch"] == name
    assert name in reason["message"] and f"(rule: {case.rule})" in reason["message"]
    if case.column:
        assert case.column in reason["message"], reason["message"]
    if case.message:
        assert case.message in reason["message"], reason["message"]
    assert "None" not in reason["message"], reason["message"]
    assert f"quarantined {name}" in result.stderr  # the stage's log names the file
    assert not Path("/nonexistent/datawheel-unpickled").exists()


def test_a_copy_of_a_delivered_day_keeps_the_original_rows(project: Path):
    """An exact copy under a new name that sorts first: the first delivery keeps its rows."""
    raw = project / "data/raw"
    _, first = ingest(project)
    original = sorted(first)[0]
    (raw / "0000-resend.csv").write_bytes((project / original).read_bytes())
    before = tree_md5s(raw)

    result, batches = ingest(project)

    copy = batches["data/raw/0000-resend.csv"]
    assert copy["duplicate_of"] == original and batches[original]["duplicate_of"] is None
    frame = pd.read_parquet(project / "data/ingested" / f"{copy['md5']}.parquet")
    assert set(frame["batch"]) == {original}
    assert f"data/raw/0000-resend.csv has the same bytes as {original}" in result.stderr
    assert tree_md5s(raw) == before


def outside_link(project: Path) -> tuple[Path, str]:
    """A symlink in data/raw to a file outside the project whose bytes are found nowhere
    else; returns the target and its md5."""
    secret = project.parent / "outside" / "secret.csv"
    secret.parent.mkdir()
    secret.write_bytes(GOOD.replace(b"R0", b"S9"))
    os.symlink(secret, project / "data/raw/2026-03-01.csv")
    return secret, hashlib.md5(secret.read_bytes()).hexdigest()


def cached_md5s(project: Path) -> set[str]:
    return {p.parent.name + p.name for p in (project / ".dvc/cache").rglob("*") if p.is_file()}


def test_the_ingest_stage_quarantines_a_symlink_unopened(project: Path):
    secret, secret_md5 = outside_link(project)
    before = tree_md5s(project / "data/raw")

    result, batches = ingest(project)

    batch = batches["data/raw/2026-03-01.csv"]
    assert batch["status"] == "quarantined"
    reason = quarantine_record(project, batch)["reason"]
    assert reason["rule"] == "symlink" and str(secret) in reason["message"]
    assert tree_md5s(project / "data/raw") == before
    assert b"S9" not in b"".join(p.read_bytes() for p in (project / "data").rglob("*.parquet"))
    assert secret_md5 not in cached_md5s(project)


def test_datawheel_add_refuses_a_symlink_before_dvc_can_follow_it(project: Path):
    """`dvc add` (and `dvc repro`, re-committing a changed data/raw.dvc) follows a link and
    stores its target: DVC's behaviour, so raw data goes in through `datawheel add`."""
    secret, secret_md5 = outside_link(project)
    pointer = (project / "data/raw.dvc").read_bytes()

    result = run(project, sys.executable, "-m", "datawheel", "add", "data/raw")

    assert result.returncode == 3, result.stdout + result.stderr
    assert "data/raw/2026-03-01.csv: a symlink" in result.stderr and str(secret) in result.stderr
    assert "(rule: symlink)" in result.stderr and "nothing added" in result.stderr
    assert (project / "data/raw/2026-03-01.csv").is_symlink()
    assert (project / "data/raw.dvc").read_bytes() == pointer
    assert secret_md5 not in cached_md5s(project)

    (project / "data/raw/2026-03-01.csv").unlink()
    (project / "data/raw/2026-03-01.csv").write_bytes(GOOD)
    added = run(project, sys.executable, "-m", "datawheel", "add", "data/raw")
    assert added.returncode == 0, added.stdout + added.stderr
    assert (project / "data/raw.dvc").read_bytes() != pointer
