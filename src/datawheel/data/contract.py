"""The data contract applied to a batch: typing each column, row ids and provenance.

Pure over frames: a value the contract cannot represent raises `DataContractError` naming
the batch, line, column and rule; the ingest stage turns that into a quarantine record.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from datawheel.config.params import Contract
from datawheel.data.batches import read_raw_bytes
from datawheel.errors import DataContractError

_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


_NAN_TEXT = frozenset({"nan", "+nan", "-nan"})


_UNREPRESENTABLE = {"int": "NaN, infinity or outside int64", "float": "NaN or infinity"}


def contract_fingerprint(contract: Contract) -> str:
    """Changes whenever typing or row ids would come out differently."""
    return hashlib.md5(contract.model_dump_json().encode("utf-8")).hexdigest()


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
            count, first = _failures(cannot_hold, values, where)
            raise DataContractError(
                f"{name}: column {column!r}: {count} value(s) cannot be represented as "
                f"{spec.type} ({_UNREPRESENTABLE[spec.type]}), first {first} "
                "(rule: unrepresentable_value)"
            )
        parsed = parse_column(values, spec.type)
        unparseable = parsed.isna() & values.notna()
        if unparseable.any():
            count, first = _failures(unparseable, values, where)
            raise DataContractError(
                f"{name}: column {column!r}: {count} value(s) are not {spec.type}, first "
                f"{first} (rule: contract_type_{spec.type})"
            )
        typed[column] = parsed
    return pd.DataFrame(typed)


def _where(lines: pd.Series | None) -> Callable[[int], str]:
    """'line N (row M)' for the message about row index `i`."""
    if lines is None:
        return lambda i: f"row {i + 1}"
    return lambda i: f"line {int(lines.iloc[i])} (row {i + 1})"


def _failures(failed: pd.Series, values: pd.Series, where: Callable[[int], str]) -> tuple[int, str]:
    """How many values failed, and the first of them with where it is."""
    first = int(failed.to_numpy().nonzero()[0][0])
    return int(failed.sum()), f"{_show(values.iloc[first])} at {where(first)}"


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
