"""Curation as the curate stage runs it: the ingested batches read and split by params.yaml
`engine`, then the same finish on both engines.

With Spark, the window, de-duplication, split and leakage check run in Spark, which reads
the batches itself (datawheel.pipeline.spark_curate); with pandas, datawheel.pipeline.curate
does. The label-issue search and the report are the same code on both.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from pathlib import Path

import pandas as pd

from datawheel.config.params import Params
from datawheel.data.batches import BatchRecord, load_ingested
from datawheel.pipeline.curate import CurationReport, finish_curation, split_rows


def curate_batches(
    ingested_dir: Path,
    records: Sequence[BatchRecord],
    quarantined_ids: Set[str],
    params: Params,
    before_window: Sequence[BatchRecord] = (),
) -> tuple[pd.DataFrame, pd.DataFrame, CurationReport]:
    """curate on the ingested batches of `records`, computed by params.yaml `engine`: with
    Spark, the window, de-duplication, split and leakage check run in Spark, which reads the
    batches itself; the label-issue search and the report are the same code on both."""
    if params.engine.name == "spark":
        from datawheel.pipeline.spark import spark_session
        from datawheel.pipeline.spark_curate import split_rows_on_spark

        files = [Path(ingested_dir) / f"{r.md5}.parquet" for r in records]
        session = spark_session(params.engine.spark)
        rows = split_rows_on_spark(session, files, quarantined_ids, params)
    else:
        rows = split_rows(load_ingested(Path(ingested_dir), records), quarantined_ids, params)
    return finish_curation(rows, params, before_window)
