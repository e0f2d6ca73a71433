"""Stage validate: every suite in expectations/ is a unit test of each ingested batch."""

from pathlib import Path

from datawheel.api import (
    PROVENANCE_COLUMNS,
    Params,
    log,
    progress,
    raise_if_failed,
    read_manifest,
    render_markdown,
    run_stage,
    run_validation,
    summary_lines,
    write_json,
    write_text,
)


def main(params: Params) -> None:
    paths = params.paths
    report = run_validation(
        ingested_dir=Path(paths.ingested),
        records=read_manifest(Path(paths.ingested)),
        suites_dir=Path(paths.expectations),
        out_dir=Path(paths.quarantine) / "rows",
        acknowledged=params.validate_.acknowledged_batches,
        volume_history_batches=params.validate_.volume_history_batches,
        volume_min_history_batches=params.validate_.volume_min_history_batches,
        min_rows_for_mostly=params.validate_.min_rows_for_mostly,
        batch_period=params.batch_period_from_data,
        columns=(*params.contract.columns, *PROVENANCE_COLUMNS),
        progress=lambda batches: progress(batches, "validate"),
        engine=params.engine,
    )
    write_json(Path(paths.reports) / "validation.json", report.to_dict())
    write_json(Path(paths.reports) / "validation_summary.json", report.totals)
    write_text(Path(paths.reports) / "validation.md", render_markdown(report))
    for line in report.rebuilt:
        log(f"validate: {line}")
    log(
        f"validate: {len(report.validated)} batch(es) validated on {params.engine.label}, "
        f"totals {report.totals}"
    )
    for line in summary_lines(report):
        log(f"validate: {line}")
    raise_if_failed(report)


if __name__ == "__main__":
    run_stage("validate", main)
