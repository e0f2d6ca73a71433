"""Stage curate: window, de-duplicate, drop quarantined rows, split by time, find label issues.

Only the batches that reach into the window are read (see batches_in_window)."""

from pathlib import Path

from datawheel.api import (
    Params,
    batches_in_window,
    curate_batches,
    log,
    quarantined_row_ids,
    read_manifest,
    run_stage,
    write_json,
    write_parquet,
)


def main(params: Params) -> None:
    paths, artifacts = params.paths, params.artifacts
    records, before = batches_in_window(read_manifest(Path(paths.ingested)), params.window.days)
    quarantined = quarantined_row_ids(Path(artifacts.quarantined_rows), records)
    train, holdout, report = curate_batches(
        Path(paths.ingested), records, quarantined, params, before
    )
    write_parquet(Path(artifacts.train), train)
    write_parquet(Path(artifacts.holdout), holdout)
    write_json(Path(artifacts.curation), report.to_dict())
    counts = ", ".join(f"{k} {v}" for k, v in report.counts.items())
    log(f"curate: on {params.engine.label}: {counts}")


if __name__ == "__main__":
    run_stage("curate", main, builds_estimators=True)
