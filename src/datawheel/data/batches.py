"""Raw batches as files and as the ingested manifest: formats, readers, refusals.

Every reader is pure over bytes. A row's `line` is the file's real line number for CSV/TSV
(header = line 1, compressed or not) and JSON lines (blank lines skipped); for Parquet it is
the row index + 1. `read_manifest` and `load_ingested` read what the ingest stage wrote.
"""

from __future__ import annotations

import csv
import io
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from datawheel.config.catalog import MANIFEST
from datawheel.errors import DataContractError
from datawheel.io.files import read_json

# name ending -> (reader kind, compression); the longest matching ending wins.
FORMATS: dict[str, tuple[str, str | None]] = {
    ".csv": ("csv", None),
    ".tsv": ("tsv", None),
    ".csv.gz": ("csv", "gzip"),
    ".tsv.gz": ("tsv", "gzip"),
    ".csv.zst": ("csv", "zstd"),
    ".tsv.zst": ("tsv", "zstd"),
    ".parquet": ("parquet", None),
    ".jsonl": ("jsonl", None),
    ".ndjson": ("jsonl", None),
}


BATCH_SUFFIXES = tuple(FORMATS)


@dataclass(frozen=True)
class BatchRecord:
    """What ingest knows about one raw batch."""

    path: str
    md5: str
    status: str  # "ingested" or "quarantined"
    rows: int = 0
    reason: dict[str, str] = field(default_factory=dict)
    # The batch's range of event time (ISO, UTC): curate reads only the batches that reach
    # into its window, so a new day does not re-read the whole history.
    first_event: str | None = None
    last_event: str | None = None
    # md5 of data/ingested/<md5>.parquet as ingest wrote it: the file is reused only while
    # its bytes still have this md5 (a tampered or damaged file is rebuilt from the raw batch).
    output_md5: str | None = None
    # A batch with the same bytes as an earlier delivery: the path of that first delivery,
    # whose name its rows keep as their batch. Its parquet file is the first delivery's.
    duplicate_of: str | None = None


def list_batches(raw_dir: Path) -> list[Path]:
    """Every entry under raw_dir, sorted by path (the order rows are ingested in).

    Any file counts, whatever its format, and so does a symlink (to a file or a folder),
    which is listed but never followed: ingest quarantines what it cannot read.
    """
    found: list[Path] = []
    for folder, subfolders, files in os.walk(raw_dir):  # followlinks=False
        for name in subfolders:
            if os.path.islink(os.path.join(folder, name)):
                found.append(Path(folder, name))
        found.extend(Path(folder, name) for name in files)
    return sorted(found)


def batch_format(name: str) -> tuple[str, str | None] | None:
    """(reader kind, compression) for a batch file name, or None if ingest cannot read it."""
    lowered = name.lower()
    matches = [suffix for suffix in FORMATS if lowered.endswith(suffix)]
    return FORMATS[max(matches, key=len)] if matches else None


def _line_of_offset(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def read_csv_bytes(data: bytes, name: str, delimiter: str = ",") -> tuple[pd.DataFrame, pd.Series]:
    """Parse CSV (or TSV) bytes as strings; returns the frame and each row's line number."""
    if not data.strip():
        raise DataContractError(f"{name}: empty file (rule: batch_not_empty)")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = _line_of_offset(data, exc.start)
        raise DataContractError(
            f"{name}: not valid UTF-8 at line {line}, byte {exc.start} (rule: encoding_utf8); "
            "re-export the file as UTF-8"
        ) from None
    header = data.split(b"\n", 1)[0].decode("utf-8").rstrip("\r")
    columns = list(pd.read_csv(io.StringIO(header + "\n"), dtype=str, sep=delimiter).columns)
    invalid: list[pa_csv.InvalidRow] = []

    def on_invalid(row: pa_csv.InvalidRow) -> str:
        invalid.append(row)
        return "skip"

    try:
        table = pa_csv.read_csv(
            io.BytesIO(data),
            # One block, one thread: a field of any size fits ("straddling object" otherwise),
            # and rows keep their numbers for the messages.
            read_options=pa_csv.ReadOptions(use_threads=False, block_size=_block_size(data)),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid),
            convert_options=pa_csv.ConvertOptions(
                column_types={c: pa.string() for c in columns},
                strings_can_be_null=True,
                null_values=[""],
                quoted_strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise DataContractError(f"{name}: cannot parse CSV: {exc} (rule: csv_parseable)") from None
    frame = table.to_pandas()
    if not invalid and b'"' not in data:  # no quoted field, so no newline inside a value
        return frame, pd.Series(range(2, len(frame) + 2), dtype="int64")
    good, ragged = _record_lines(data, delimiter, len(columns))
    if data.count(b'"') % 2:  # escaped quotes come in pairs: an odd count leaves one open
        last = (good + [line for line, _ in ragged])[-1] if good or ragged else 2
        raise DataContractError(
            f"{name}: truncated or ragged: line {max(last, 2)} opens a quoted value that the "
            "file never closes (rule: csv_rectangular)"
        )
    if invalid:
        first = ragged[0] if ragged else (None, invalid[0].actual_columns)
        where = f"line {first[0]}" if first[0] is not None else f"row {invalid[0].number}"
        more = f" and {len(invalid) - 1} more" if len(invalid) > 1 else ""
        raise DataContractError(
            f"{name}: truncated or ragged: {where} has {first[1]} fields, header has "
            f"{len(columns)}{more} (rule: csv_rectangular)"
        )
    if len(good) != len(frame):  # the two parsers disagree: keep record numbers
        return frame, pd.Series(range(2, len(frame) + 2), dtype="int64")
    return frame, pd.Series(good, dtype="int64")


def _block_size(data: bytes) -> int:
    return min(max(1 << 20, len(data) + 1), (1 << 31) - 1)


def _record_lines(
    data: bytes, delimiter: str, width: int
) -> tuple[list[int], list[tuple[int, int]]]:
    """The physical line each record starts on (a quoted value may hold newlines, so a record
    can span lines): those of the data rows with `width` fields, and (line, fields) of the
    others. Blank lines are skipped, as pyarrow does."""
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=delimiter)
    good: list[int] = []
    ragged: list[tuple[int, int]] = []
    previous = 0
    limit = csv.field_size_limit(len(data) + 1)  # the module's default is 128 KiB a field
    try:
        for index, record in enumerate(reader):
            start, previous = previous + 1, reader.line_num
            if index == 0 or not record:
                continue
            if len(record) == width:
                good.append(start)
            else:
                ragged.append((start, len(record)))
    except csv.Error:  # a quote left open at the end: the rest is one broken record
        ragged.append((previous + 1, len(record) if "record" in locals() else 0))
    finally:
        csv.field_size_limit(limit)
    return good, ragged


def _arrow_frame(
    read: Callable[[io.BytesIO], pa.Table], data: bytes, name: str, failure: str, rule: str
) -> pd.DataFrame:
    """A batch read by a pyarrow reader; a failure names the batch, pyarrow's error and the
    rule."""
    try:
        return read(io.BytesIO(data)).to_pandas()
    except (pa.ArrowException, OSError) as exc:
        raise DataContractError(f"{name}: {failure}: {exc} (rule: {rule})") from None


def read_parquet_bytes(data: bytes, name: str) -> tuple[pd.DataFrame, pd.Series]:
    """Read a Parquet batch; each row's 'line' is its 1-based row number."""
    if not data:
        raise DataContractError(f"{name}: empty file (rule: batch_not_empty)")
    frame = _arrow_frame(pq.read_table, data, name, "cannot read Parquet", "parquet_readable")
    return frame, pd.Series(range(1, len(frame) + 1), dtype="int64")


def read_jsonl_bytes(data: bytes, name: str) -> tuple[pd.DataFrame, pd.Series]:
    """Read JSON lines (one object per line); each row's 'line' is its line in the file."""
    if not data.strip():
        raise DataContractError(f"{name}: empty file (rule: batch_not_empty)")
    frame = _arrow_frame(
        pa_json.read_json, data, name, "cannot parse JSON lines", "jsonl_parseable"
    )
    # pyarrow skips blank lines; count them back so 'line' is the line a person opens.
    lines = [number for number, text in enumerate(data.split(b"\n"), 1) if text.strip()]
    if len(lines) != len(frame):
        lines = list(range(1, len(frame) + 1))
    return frame, pd.Series(lines, dtype="int64")


def decompress(data: bytes, compression: str, name: str) -> bytes:
    """The bytes of a gzip or zstd file, or raise naming the batch."""
    try:
        return pa.input_stream(pa.BufferReader(data), compression=compression).read()
    except (pa.ArrowException, OSError) as exc:
        raise DataContractError(
            f"{name}: cannot decompress {compression}: {exc} (rule: compression_readable)"
        ) from None


def read_raw_bytes(data: bytes, name: str) -> tuple[pd.DataFrame, pd.Series]:
    """Read one batch's bytes untyped, choosing the reader by the file name."""
    fmt = batch_format(name)
    if fmt is None:
        raise DataContractError(
            f"{name}: format not read by ingest (rule: unsupported_format); "
            f"export it as one of {', '.join(FORMATS)}"
        )
    kind, compression = fmt
    if compression is not None:
        data = decompress(data, compression, name)
    if kind == "parquet":
        return read_parquet_bytes(data, name)
    if kind == "jsonl":
        return read_jsonl_bytes(data, name)
    return read_csv_bytes(data, name, "\t" if kind == "tsv" else ",")


def refused_entries(raw_dir: Path, root: Path = Path(".")) -> list[str]:
    """One message per entry under raw_dir that must not be opened or handed to DVC (a
    symlink, a special file), the check ingest applies, for `datawheel add` to run first."""
    found = (refusal(path, display_name(path, root)) for path in list_batches(raw_dir))
    return [refusal[2] for refusal in found if refusal is not None]


def refusal(path: Path, name: str) -> tuple[str, str, str] | None:
    """(kind, identity, message) for an entry ingest must not open, else None."""
    if os.path.islink(path):
        target = os.readlink(path)
        return (
            "symlink",
            f"{name}->{target}",
            f"{name}: a symlink (to {target}) under the raw folder, not followed "
            "(rule: symlink); copy the file in instead",
        )
    mode = os.lstat(path).st_mode
    if not stat.S_ISREG(mode):
        return (
            "special",
            f"{name}:{stat.S_IFMT(mode)}",
            f"{name}: not a regular file (rule: unsupported_format)",
        )
    return None


def load_ingested(out_dir: Path, records: Iterable[BatchRecord]) -> pd.DataFrame:
    """Concatenate the ingested batches' frames in batch order."""
    frames = [
        pd.read_parquet(out_dir / f"{r.md5}.parquet") for r in records if r.status == "ingested"
    ]
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


def read_manifest(out_dir: Path) -> list[BatchRecord]:
    """The batch records the last ingest wrote."""
    manifest = read_json(out_dir / MANIFEST, default={"batches": {}})
    return [BatchRecord(**b) for b in manifest["batches"].values()]


def display_name(path: Path, root: Path) -> str:
    """The batch's path relative to the project root, as git and DVC show it."""
    try:  # resolve the folder only: a symlink's own name is what is shown
        return (path.parent.resolve() / path.name).relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
