"""Curation on Spark: the window, de-duplication, quarantine, time split and leakage check of
datawheel.pipeline.curate.split_rows, computed by Spark on the ingested batches.

The same rules, in the same order, give the same rows: the window ends the day after the
newest event (UTC days, compared as epoch microseconds, so no time zone enters); of the
rows sharing a row id the first in (batch, line) order is kept, by a window function ordered
like pandas' stable sort (never dropDuplicates, whose survivor is arbitrary). The train and
hold-out rows reach pandas through Arrow, cast to the ingested Parquet schema, so pandas
writes them with the dtypes and bytes of the pandas engine.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from datawheel.config.params import Params
from datawheel.errors import DataContractError
from datawheel.pipeline.curate import (
    NO_ROWS_MESSAGE,
    SplitRows,
    leakage_error,
    split_nonempty_error,
)

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

DAY_MICROS = 86_400 * 1_000_000
_STATUS = "_datawheel_status"
_QUARANTINED = "_datawheel_quarantined"


def _day(micros: int) -> int:
    """Midnight UTC of the day holding an epoch-microsecond instant."""
    return micros // DAY_MICROS * DAY_MICROS


def _iso(micros: int) -> str:
    return pd.Timestamp(micros, unit="us", tz="UTC").isoformat()


def read_batches(session: SparkSession, files: Sequence[Path]) -> DataFrame:
    """Every row of the batch files, a file listed twice (a repeated delivery) read twice,
    as pandas' load_ingested does."""
    from collections import Counter
    from functools import reduce

    times = Counter(files)
    reads = [session.read.parquet(*[str(f) for f in times])]
    reads += [session.read.parquet(str(f)) for f, n in times.items() for _ in range(n - 1)]
    return reduce(lambda left, right: left.unionByName(right), reads)


def split_rows_on_spark(
    session: SparkSession, files: Sequence[Path], quarantined_ids: Set[str], params: Params
) -> SplitRows:
    """split_rows computed by Spark on the ingested batch files (see the module docstring)."""
    import pyarrow.parquet as pq
    from pyspark.sql import functions as F

    if not files:
        raise DataContractError(NO_ROWS_MESSAGE)
    contract = params.contract
    schema = pq.read_schema(files[0])  # with its pandas metadata: the dtypes to hand back
    frame = read_batches(session, files)
    micros = F.unix_micros(F.col(contract.time_column))
    bounds = frame.agg(F.min(micros), F.max(micros), F.count(F.lit(1))).first()
    assert bounds is not None  # a global aggregation always has exactly one row
    oldest, newest, rows = bounds[0], bounds[1], int(bounds[2])
    if not rows or newest is None:
        raise DataContractError(NO_ROWS_MESSAGE)
    end = _day(newest) + DAY_MICROS
    start = _day(oldest) if params.window.days == 0 else end - params.window.days * DAY_MICROS
    window = {"days": params.window.days, "start": _iso(start), "end": _iso(end)}

    cached = _with_status(session, frame, micros, start, end, quarantined_ids).cache()
    try:
        frame = cached
        kept = frame.where(F.col(_STATUS) == "train")
        newest_row = kept.agg(F.max(micros)).first()
        assert newest_row is not None  # a global aggregation always has exactly one row
        newest_kept = newest_row[0]
        if newest_kept is None:
            raise DataContractError(NO_ROWS_MESSAGE)
        cutoff = _day(newest_kept) - (params.split.holdout_days - 1) * DAY_MICROS
        split = {"holdout_days": params.split.holdout_days, "cutoff": _iso(cutoff)}
        is_holdout = (F.col(_STATUS) == "train") & (micros >= cutoff)
        frame = frame.withColumn(
            _STATUS, F.when(is_holdout, F.lit("holdout")).otherwise(F.col(_STATUS))
        )
        statuses = _status_counts(frame)
        totals = {"train": 0, "holdout": 0}
        for counts in statuses.values():
            for name in totals:
                totals[name] += counts.get(name, 0)
        if not totals["train"] or not totals["holdout"]:
            raise split_nonempty_error(totals["train"], totals["holdout"])
        train = frame.where(F.col(_STATUS) == "train")
        holdout = frame.where(F.col(_STATUS) == "holdout")
        _check_leakage(train, holdout, contract.id_column, params.leakage.check_entities)
        return SplitRows(
            train=_collect(train, schema),
            holdout=_collect(holdout, schema),
            window=window,
            split=split,
            removed=_removed(frame),
            statuses=statuses,
            rows=rows,
        )
    finally:
        cached.unpersist()


def _with_status(
    session: SparkSession,
    frame: DataFrame,
    micros: Column,
    start: int,
    end: int,
    quarantined_ids: Set[str],
) -> DataFrame:
    """Each row's fate before the split: outside_window, quarantined, duplicate_row_id or
    train, decided in that order as split_rows decides it."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if quarantined_ids:
        ids = session.createDataFrame(pd.DataFrame({"row_id": sorted(quarantined_ids)}))
        frame = frame.join(F.broadcast(ids.withColumn(_QUARANTINED, F.lit(True))), "row_id", "left")
    else:
        frame = frame.withColumn(_QUARANTINED, F.lit(None).cast("boolean"))
    inside = F.coalesce((micros >= start) & (micros < end), F.lit(False))
    # pandas' duplicated(keep="first") over every row in (batch, line) order
    first = F.row_number().over(Window.partitionBy("row_id").orderBy("batch", "line")) == 1
    status = (
        F.when(~inside, F.lit("outside_window"))
        .when(F.coalesce(F.col(_QUARANTINED), F.lit(False)), F.lit("quarantined"))
        .when(~first, F.lit("duplicate_row_id"))
        .otherwise(F.lit("train"))
    )
    return frame.withColumn(_STATUS, status).drop(_QUARANTINED)


def _status_counts(frame: DataFrame) -> dict[tuple[str, str], dict[str, int]]:
    counts: dict[tuple[str, str], dict[str, int]] = {}
    table = frame.groupBy("batch", "batch_md5", _STATUS).count().toArrow().to_pylist()
    for row in table:
        key = (str(row["batch"]), str(row["batch_md5"]))
        counts.setdefault(key, {})[row[_STATUS]] = int(row["count"])
    return counts


def _removed(frame: DataFrame) -> list[dict]:
    from pyspark.sql import functions as F

    dropped = frame.where(F.col(_STATUS).isin("quarantined", "duplicate_row_id"))
    rows = dropped.select("row_id", "batch", "line", _STATUS).toArrow().to_pylist()
    return [
        {"row_id": r["row_id"], "batch": r["batch"], "line": int(r["line"]), "reason": r[_STATUS]}
        for r in rows
    ]


def _collect(frame: DataFrame, schema) -> pd.DataFrame:
    """The rows in (batch, line) order, as pandas reads the ingested files."""
    from datawheel.pipeline.spark import to_pandas

    return to_pandas(frame.select(*schema.names).orderBy("batch", "line"), schema)


def _shared(left: DataFrame, right: DataFrame, column: str) -> list[str]:
    """Distinct values of a column (as text) in both frames, sorted as curate sorts them."""
    from pyspark.sql import functions as F

    def text(frame: DataFrame) -> DataFrame:
        return frame.select(F.col(column).cast("string").alias("value")).distinct()

    values = text(left).intersect(text(right)).toArrow().column("value").to_pylist()
    return sorted(v for v in values if v is not None)


def _check_leakage(
    train: DataFrame, holdout: DataFrame, id_column: str, check_entities: bool
) -> None:
    """curate.check_leakage, with the shared values found by Spark."""
    from pyspark.sql import functions as F

    shared_rows = _shared(train, holdout, "row_id")
    if shared_rows:
        raise leakage_error(id_column, shared_rows)
    if not check_entities:
        return
    shared = _shared(train, holdout, id_column)
    if shared:
        hit = holdout.where(F.col(id_column).cast("string").isin(shared))
        batches = sorted(hit.select("batch").distinct().toArrow().column("batch").to_pylist())
        raise leakage_error(id_column, [], shared, batches)
