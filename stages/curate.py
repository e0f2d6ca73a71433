"""Stage curate: window, de-duplicate, drop quarantined rows, split by time, find label issues.

Only the batches that reach into the window are read (see batches_in_window)."""

from pathlib import Path

from datawheel.curate import batches_in_window, curate_batches
from datawheel.fileio import write_json, write_parquet
from datawheel.ingest import read_manifest
from datawheel.params import Params
from datawheel.stagerun import log, run_stage
from datawheel.validate import quarantined_row_ids


def main(params: Params) -> None:
    paths = params.paths
    records, before = batches_in_window(read_manifest(Path(paths.ingested)), params.window.days)
    quarantined = quarantined_row_ids(Path(paths.quarantine) / "rows", records)
    train, holdout, report = curate_batches(
        Path(paths.ingested), records, quarantined, params, before
    )
    write_parquet(Path(paths.curated) / "train.parquet", train)
    write_parquet(Path(paths.curated) / "holdout.parquet", holdout)
    write_json(Path(paths.reports) / "curation.json", report.to_dict())
    counts = ", ".join(f"{k} {v}" for k, v in report.counts.items())
    log(f"curate: on {params.engine.label}: {counts}")


if __name__ == "__main__":
    run_stage("curate", main, builds_estimators=True)
