"""Read raw batches, type them per the data contract and add row provenance.

Every function here but `ingest_batches` is pure over bytes or frames. A batch that cannot
be read or breaks the contract raises `DataContractError`; `ingest_batches` turns that into
a quarantine record and goes on with the other batches. Every file under the raw folder is
accounted for: one in a format ingest does not read, or a symlink, is quarantined too.

A row's `line` is the file's real line number for CSV/TSV (header = line 1, compressed or
not) and JSON lines (blank lines skipped); for Parquet it is the row index + 1.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from datawheel.errors import DataContractError
from datawheel.fileio import StatHashes, read_json, write_json, write_parquet
from datawheel.params import Contract

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
MANIFEST = "manifest.json"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
_NAN_TEXT = frozenset({"nan", "+nan", "-nan"})
_UNREPRESENTABLE = {"int": "NaN, infinity or outside int64", "float": "NaN or infinity"}


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


def contract_fingerprint(contract: Contract) -> str:
    """Changes whenever typing or row ids would come out differently."""
    return hashlib.md5(contract.model_dump_json().encode("utf-8")).hexdigest()


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


def read_parquet_bytes(data: bytes, name: str) -> tuple[pd.DataFrame, pd.Series]:
    """Read a Parquet batch; each row's 'line' is its 1-based row number."""
    if not data:
        raise DataContractError(f"{name}: empty file (rule: batch_not_empty)")
    try:
        frame = pq.read_table(io.BytesIO(data)).to_pandas()
    except (pa.ArrowException, OSError) as exc:
        raise DataContractError(
            f"{name}: cannot read Parquet: {exc} (rule: parquet_readable)"
        ) from None
    return frame, pd.Series(range(1, len(frame) + 1), dtype="int64")


def read_jsonl_bytes(data: bytes, name: str) -> tuple[pd.DataFrame, pd.Series]:
    """Read JSON lines (one object per line); each row's 'line' is its line in the file."""
    if not data.strip():
        raise DataContractError(f"{name}: empty file (rule: batch_not_empty)")
    try:
        frame = pa_json.read_json(io.BytesIO(data)).to_pandas()
    except (pa.ArrowException, OSError) as exc:
        raise DataContractError(
            f"{name}: cannot parse JSON lines: {exc} (rule: jsonl_parseable)"
        ) from None
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


def unrepresentable(values: pd.Series, kind: str) -> pd.Series:
    """Values that parse as numbers but have no place in the contract type.

    NaN or infinity (as text or as a float) in an int or float column, and whole numbers
    outside int64 in an int column. Empty cells are nulls, not values, and are not flagged.
    """
    if kind not in ("int", "float") or pd.api.types.is_bool_dtype(values.dtype):
        return pd.Series(False, index=values.index)
    numeric = pd.to_numeric(values, errors="coerce")
    if pd.api.types.is_integer_dtype(numeric.dtype):  # exact: only the range can fail
        if kind == "float" or numeric.dtype.kind == "i":
            return pd.Series(False, index=values.index)
        return pd.Series(numeric.to_numpy() > INT64_MAX, index=values.index)
    as_float = numeric.astype("float64")
    bad = as_float.isin([float("inf"), float("-inf")])
    is_text = values.dtype == object or pd.api.types.is_string_dtype(values.dtype)
    if is_text:
        text = values.astype("str").str.strip().str.lower()
        bad |= as_float.isna() & values.notna() & text.isin(_NAN_TEXT)
    if kind == "int":
        # 2**63 itself is a float that rounds onto the edge: anything from there is out.
        bad |= (as_float >= 2.0**63) | (as_float < -(2.0**63))
        if is_text:  # near the edge a float is inexact: judge integer text as a Python int
            for i in (as_float.abs() >= 2.0**62).to_numpy().nonzero()[0].tolist():
                digits = text.iloc[i]
                if _INTEGER_TEXT.fullmatch(digits):
                    bad.iloc[i] = not INT64_MIN <= int(digits) <= INT64_MAX
    return bad.fillna(False).astype("bool")


def parse_column(values: pd.Series, kind: str) -> pd.Series:
    """Convert one column to its contract type; unparseable values become NaN-like markers."""
    if kind == "datetime":
        if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(values):
            parsed: pd.Series = pd.to_datetime(values, utc=True)
        else:
            parsed = pd.to_datetime(values, utc=True, format="ISO8601", errors="coerce")
        return parsed.astype("datetime64[us, UTC]")
    if kind in ("int", "float"):
        parsed = pd.to_numeric(values, errors="coerce")
        keep = ~unrepresentable(values, kind)
        if kind == "float":
            return parsed.astype("float64").where(keep)
        if not keep.all():
            parsed = parsed.astype("float64").where(keep)
        if parsed.dtype.kind == "f":
            parsed = parsed.where(parsed == parsed.round())
        return parsed.astype("Int64")
    if kind == "bool":
        mapping = {"true": True, "false": False, "1": True, "0": False}
        lowered = values.astype("str").str.strip().str.lower()
        return lowered.map(mapping).astype("boolean").where(values.notna())
    return values.astype("str").where(values.notna(), None).astype("str")


def type_batch(
    raw: pd.DataFrame, contract: Contract, name: str, lines: pd.Series | None = None
) -> pd.DataFrame:
    """Check the columns and convert each to its contract type, or raise naming the problem.

    `lines` are the rows' line numbers in the file, for the messages (default: row + 1).
    """
    repeated = sorted(set(raw.columns[raw.columns.duplicated()]))
    if repeated:  # one name, two columns: which one holds the values is anyone's guess
        raise DataContractError(
            f"{name}: column(s) {repeated} appear more than once in the header "
            "(rule: contract_columns); export each column once"
        )
    expected = list(contract.columns)
    missing = [c for c in expected if c not in raw.columns]
    extra = [c for c in raw.columns if c not in contract.columns]
    if missing:
        hint = f"; unexpected column(s) {extra} — renamed?" if extra else ""
        raise DataContractError(
            f"{name}: missing column(s) {missing} (rule: contract_columns){hint}"
        )
    if extra:
        raise DataContractError(
            f"{name}: unexpected column(s) {extra} not in params.yaml contract.columns "
            "(rule: contract_columns); add them to the contract or drop them upstream"
        )
    if raw.empty:
        raise DataContractError(f"{name}: header but no rows (rule: batch_not_empty)")
    typed = {}
    for column, spec in contract.columns.items():
        values = raw[column]
        where = _where(lines)
        cannot_hold = unrepresentable(values, spec.type)
        if cannot_hold.any():
            first = int(cannot_hold.to_numpy().nonzero()[0][0])
            raise DataContractError(
                f"{name}: column {column!r}: {int(cannot_hold.sum())} value(s) cannot be "
                f"represented as {spec.type} ({_UNREPRESENTABLE[spec.type]}), first "
                f"{_show(values.iloc[first])} at {where(first)} (rule: unrepresentable_value)"
            )
        parsed = parse_column(values, spec.type)
        unparseable = parsed.isna() & values.notna()
        if unparseable.any():
            first = int(unparseable.to_numpy().nonzero()[0][0])
            raise DataContractError(
                f"{name}: column {column!r}: {int(unparseable.sum())} value(s) are not "
                f"{spec.type}, first {_show(values.iloc[first])} at {where(first)} "
                f"(rule: contract_type_{spec.type})"
            )
        typed[column] = parsed
    return pd.DataFrame(typed)


def _where(lines: pd.Series | None) -> Callable[[int], str]:
    """'line N (row M)' for the message about row index `i`."""
    if lines is None:
        return lambda i: f"row {i + 1}"
    return lambda i: f"line {int(lines.iloc[i])} (row {i + 1})"


def _show(value: object) -> str:
    """A raw value as a message shows it: text quoted, numbers as Python writes them."""
    return repr(value.item() if hasattr(value, "item") else value)


def row_ids(typed: pd.DataFrame) -> pd.Series:
    """A content hash per row: equal values in equal columns give the same id in any batch."""
    canonical = pd.DataFrame(
        {
            c: (
                typed[c].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                if isinstance(typed[c].dtype, pd.DatetimeTZDtype)
                else typed[c].astype("str")
            ).fillna("\0null")
            for c in sorted(typed.columns)
        }
    )
    hashes = pd.util.hash_pandas_object(canonical, index=False).to_numpy()
    return pd.Series([f"{h:016x}" for h in hashes], index=typed.index, dtype="str")


def with_provenance(
    typed: pd.DataFrame, batch: str, batch_md5: str, lines: pd.Series
) -> pd.DataFrame:
    """Prepend row_id, batch, batch_md5 and line to a typed batch."""
    out = typed.copy()
    out.insert(0, "line", lines.to_numpy())
    out.insert(0, "batch_md5", batch_md5)
    out.insert(0, "batch", batch)
    out.insert(0, "row_id", row_ids(typed))
    out["batch"] = out["batch"].astype("str")
    out["batch_md5"] = out["batch_md5"].astype("str")
    return out


def empty_typed_frame(contract: Contract) -> pd.DataFrame:
    """No rows, but the columns and dtypes of an ingested batch (provenance included)."""
    typed = pd.DataFrame(
        {
            name: parse_column(pd.Series([], dtype="object"), column.type)
            for name, column in contract.columns.items()
        }
    )
    return with_provenance(typed, "", "", pd.Series([], dtype="int64"))


def parse_value(text: str, kind: str) -> Any:
    """One value typed as its column's contract type (an id or entity a user typed), or
    None when it does not parse as that type."""
    value = parse_column(pd.Series([text], dtype="object"), kind).iloc[0]
    return None if pd.isna(value) else value


def read_batch(data: bytes, name: str, contract: Contract) -> tuple[pd.DataFrame, pd.Series]:
    """Read and type one batch's bytes; the format is chosen by the file name."""
    raw, lines = read_raw_bytes(data, name)
    return type_batch(as_nulls(raw, contract.null_values), contract, name, lines), lines


def as_nulls(raw: pd.DataFrame, tokens: Iterable[str]) -> pd.DataFrame:
    """Text cells equal to one of the contract's null tokens become nulls (any format)."""
    tokens = list(tokens)
    if not tokens:
        return raw
    out = raw.copy()
    for column in out.columns:
        values = out[column]
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            out[column] = values.where(~values.isin(tokens), None)
    return out


@dataclass
class IngestResult:
    batches: list[BatchRecord]
    read: list[str]  # batches whose bytes were parsed in this run (not reused)
    # One sentence per persisted file that did not match its recorded md5 and was rebuilt.
    rebuilt: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "batches": [asdict(b) for b in self.batches],
            "read": self.read,
            "rebuilt": self.rebuilt,
        }


def ingest_batches(
    raw_dir: Path,
    out_dir: Path,
    quarantine_dir: Path,
    contract: Contract,
    root: Path = Path("."),
    progress: Callable[[Iterable[Path]], Iterable[Path]] = iter,
) -> IngestResult:
    """Ingest every raw batch not already ingested under the same md5 and contract.

    out_dir holds one Parquet file per batch md5 plus manifest.json; a batch already there
    (same md5, same contract) is not read again, which keeps a new day's cost flat.
    """
    with StatHashes(root) as hashes:
        return _ingest(raw_dir, out_dir, quarantine_dir, contract, root, progress, hashes.md5)


def _ingest(raw_dir, out_dir, quarantine_dir, contract, root, progress, md5_of) -> IngestResult:
    fingerprint = contract_fingerprint(contract)
    manifest = read_json(out_dir / MANIFEST, default={})
    previous = manifest.get("batches", {}) if manifest.get("contract") == fingerprint else {}
    result = IngestResult([], [])
    delivered: list[tuple[Path, str, str | None]] = []  # (path, name, md5 or None if refused)
    for path in list_batches(raw_dir):
        name = _display_name(path, root)
        delivered.append((path, name, None if _refusal(path, name) else md5_of(path)))
    owners = _first_deliveries(delivered, previous)
    firsts: dict[str, BatchRecord] = {}  # md5 -> the first delivery's record
    for path, name, md5 in progress(delivered):
        if md5 is None:
            kind, identity, message = _refusal(path, name)  # type: ignore[misc]
            # Never opened: a symlink could point anywhere, a FIFO would block the read.
            ident = hashlib.md5(f"{kind}:{identity}".encode()).hexdigest()
            result.batches.append(
                BatchRecord(name, ident, "quarantined", reason=_reason(message, name))
            )
            continue
        if owners[md5] != name:
            result.batches.append(BatchRecord(name, md5, "duplicate_pending"))
            continue
        record = _reuse(previous.get(name), md5, out_dir, md5_of, result.rebuilt)
        if record is None:
            result.read.append(name)
            record = _read(path, name, md5, contract, out_dir, md5_of)
        firsts[md5] = record
        result.batches.append(record)
    result.batches = [_resolve_duplicate(r, firsts) for r in result.batches]
    keep = {f"{md5}.parquet" for md5, r in firsts.items() if r.status == "ingested"}
    for stale in out_dir.glob("*.parquet") if out_dir.exists() else ():
        if stale.name not in keep:
            stale.unlink()
    _write_quarantine(quarantine_dir, result.batches)
    write_json(
        out_dir / MANIFEST,
        {"contract": fingerprint, "batches": {r.path: asdict(r) for r in result.batches}},
    )
    return result


def _first_deliveries(
    delivered: list[tuple[Path, str, str | None]], previous: dict[str, dict]
) -> dict[str, str]:
    """The first delivery of each md5: the batch ingest already took it from, while that file
    is still delivered unchanged, else the first in sorted order. A copy delivered later under
    a name that sorts earlier does not take the original's rows."""
    owners: dict[str, str] = {}
    for _, name, md5 in delivered:
        if md5 is None:
            continue
        known = previous.get(name)
        if known and known["md5"] == md5 and not known.get("duplicate_of"):
            owners.setdefault(md5, name)
    for _, name, md5 in delivered:
        if md5 is not None:
            owners.setdefault(md5, name)
    return owners


def _reuse(
    known: dict | None, md5: str, out_dir: Path, md5_of: Callable[[Path], str], rebuilt: list[str]
) -> BatchRecord | None:
    """The recorded result for a batch whose bytes are unchanged, if its output still holds
    the bytes ingest wrote; else None, and the batch is read again."""
    if not known or known["md5"] != md5 or known.get("duplicate_of"):
        return None
    record = BatchRecord(**known)
    if record.status == "quarantined":
        return record
    output = out_dir / f"{md5}.parquet"
    if not output.is_file():
        return None
    actual = md5_of(output)
    if actual != record.output_md5:
        rebuilt.append(
            f"{output.as_posix()} does not match the md5 ingest recorded for it "
            f"({record.output_md5}, now {actual}; rule: output_integrity): "
            f"rebuilt from {record.path}"
        )
        return None
    return record


def _read(
    path: Path, name: str, md5: str, contract: Contract, out_dir: Path, md5_of
) -> BatchRecord:
    """Type one raw batch and write its parquet file, or its quarantine record."""
    try:
        typed, lines = read_batch(path.read_bytes(), name, contract)
    except DataContractError as exc:
        return BatchRecord(name, md5, "quarantined", reason=_reason(str(exc), name))
    frame = with_provenance(typed, name, md5, lines)
    output = out_dir / f"{md5}.parquet"
    write_parquet(output, frame)
    first, last = _event_range(frame[contract.time_column])
    return BatchRecord(
        name, md5, "ingested", len(frame), {}, first, last, output_md5=md5_of(output)
    )


def _resolve_duplicate(record: BatchRecord, firsts: dict[str, BatchRecord]) -> BatchRecord:
    """A copy's record: its first delivery's outcome and rows (which keep the first
    delivery's batch name), marked as a copy of it."""
    if record.status != "duplicate_pending":
        return record
    first = firsts[record.md5]
    return replace(first, path=record.path, duplicate_of=first.path)


def refused_entries(raw_dir: Path, root: Path = Path(".")) -> list[str]:
    """One message per entry under raw_dir that must not be opened or handed to DVC (a
    symlink, a special file), the check ingest applies, for `datawheel add` to run first."""
    found = (_refusal(path, _display_name(path, root)) for path in list_batches(raw_dir))
    return [refusal[2] for refusal in found if refusal is not None]


def _refusal(path: Path, name: str) -> tuple[str, str, str] | None:
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


def _event_range(times: pd.Series) -> tuple[str | None, str | None]:
    if times.notna().sum() == 0:
        return None, None
    return times.min().isoformat(), times.max().isoformat()


def _display_name(path: Path, root: Path) -> str:
    """The batch's path relative to the project root, as git and DVC show it."""
    try:  # resolve the folder only: a symlink's own name is what is shown
        return (path.parent.resolve() / path.name).relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _reason(message: str, name: str) -> dict[str, str]:
    rule = message.rsplit("(rule: ", 1)[-1].split(")", 1)[0] if "(rule: " in message else "unknown"
    return {"stage": "ingest", "rule": rule, "message": message, "batch": name}


def _write_quarantine(quarantine_dir: Path, records: list[BatchRecord]) -> None:
    """One JSON reason file per quarantined batch; the raw file itself stays where it is."""
    quarantine_dir.mkdir(parents=True, exist_ok=True)
    wanted = {f"{r.md5}.json": r for r in records if r.status == "quarantined"}
    for existing in quarantine_dir.glob("*.json"):
        if existing.name not in wanted:
            existing.unlink()
    for filename, record in wanted.items():
        write_json(quarantine_dir / filename, asdict(record))


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
