"""Atomic writes and hashing: a stage killed half-way leaves no half-written output."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # callers that write frames have pandas loaded already
    import pandas as pd

CHUNK = 1 << 20


def file_md5(path: str | Path) -> str:
    """md5 of a file's bytes, read in 1 MiB chunks (the hash DVC records)."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class StatHashes:
    """md5 of files through DVC's own hashing and state database (keyed by inode, mtime and
    size, kept in .dvc/tmp/datawheel), so a file seen before is not read again only to learn
    that it is unchanged: verifying every batch and every persisted output on each run keeps
    a new day's cost flat as the history grows. Outside a DVC project every file is hashed.
    """

    def __init__(self, root: str | Path):
        self.state = None
        dvc_dir = Path(root) / ".dvc"
        if dvc_dir.is_dir():
            from dvc_data.hashfile.state import State
            from dvc_objects.fs.local import LocalFileSystem

            self.fs = LocalFileSystem()
            self.state = State(str(Path(root).resolve()), str(dvc_dir / "tmp" / "datawheel"))

    def md5(self, path: str | Path) -> str:
        if self.state is None:
            return file_md5(path)
        from dvc_data.hashfile.hash import hash_file

        value = hash_file(str(Path(path).resolve()), self.fs, "md5", state=self.state)[1].value
        assert value is not None  # hash_file always sets the md5 of the file it hashed
        return value

    def __enter__(self) -> StatHashes:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.state is not None:
            self.state.close()


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> None:
    """Call write(tmp) on a temporary file beside path, then rename it over path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8", newline="\n"))


def to_json(data: Any) -> str:
    """Stable JSON for committed files: sorted keys, two-space indent, final newline."""
    return (
        json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str, allow_nan=False)
        + "\n"
    )


def json_safe(value: Any) -> Any:
    """Plain JSON values, recursively: the one conversion every JSON datawheel writes goes
    through. Mappings get string keys; lists and tuples become lists, sets sorted lists;
    numpy scalars and arrays become Python values; NaN, infinities, None, pandas NA and NaT
    become None; dates and times ISO 8601 text; anything else its str().
    """
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((json_safe(item) for item in value), key=str)
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if _missing(value):
        return None
    if getattr(value, "ndim", 0):  # a numpy array
        return json_safe(value.tolist())
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # a numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _missing(value: Any) -> bool:
    """pandas' NA and NaT; pandas is not imported for this (a value of it means it is)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and (value is pandas.NA or value is pandas.NaT)


def write_json(path: str | Path, data: Any) -> None:
    write_text(path, to_json(data))


def read_json(path: str | Path, default: Any = None) -> Any:
    path = Path(path)
    if not path.exists():
        return default
    return json.loads(path.read_text(encoding="utf-8"))


def write_parquet(path: str | Path, frame: pd.DataFrame) -> None:
    """Parquet with no index, so the same frame always gives the same bytes."""
    atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False, engine="pyarrow"))


def frame_fingerprint(frame: pd.DataFrame, column: str = "row_id") -> str:
    """md5 over the sorted ids of a frame's rows: equal sets of rows, equal fingerprints."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = pa.array(frame[column].astype(str).to_numpy(dtype=object), pa.string())
    # Arrow sorts UTF-8 bytes, which is the order of code points: the same as sorted()
    ids = "\n".join(pc.take(values, pc.array_sort_indices(values)).to_pylist())
    return hashlib.md5(ids.encode("utf-8")).hexdigest()
