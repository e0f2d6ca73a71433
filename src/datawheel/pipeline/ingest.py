"""Read raw batches, type them per the data contract and add row provenance.

Every function here but `ingest_batches` is pure over bytes or frames. A batch that cannot
be read or breaks the contract raises `DataContractError`; `ingest_batches` turns that into
a quarantine record and goes on with the other batches. Every file under the raw folder is
accounted for: one in a format ingest does not read, or a symlink, is quarantined too.

A row's `line` is the file's real line number for CSV/TSV (header = line 1, compressed or
not) and JSON lines (blank lines skipped); for Parquet it is the row index + 1.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import pandas as pd

from datawheel.config.params import Contract
from datawheel.data.batches import (
    MANIFEST,
    BatchRecord,
    display_name,
    list_batches,
    refusal,
)
from datawheel.data.contract import contract_fingerprint, read_batch, with_provenance
from datawheel.errors import DataContractError
from datawheel.io.files import StatHashes, read_json, write_json, write_parquet


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
        name = display_name(path, root)
        delivered.append((path, name, None if refusal(path, name) else md5_of(path)))
    owners = _first_deliveries(delivered, previous)
    firsts: dict[str, BatchRecord] = {}  # md5 -> the first delivery's record
    for path, name, md5 in progress(delivered):
        if md5 is None:
            kind, identity, message = refusal(path, name)  # type: ignore[misc]
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


def _event_range(times: pd.Series) -> tuple[str | None, str | None]:
    if times.notna().sum() == 0:
        return None, None
    return times.min().isoformat(), times.max().isoformat()


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
