"""Stage evaluate: score candidate, baseline and champion on one hold-out; decide the gate."""

from pathlib import Path

import pandas as pd

from datawheel.api import (
    Params,
    check_declared_plots,
    evaluate_candidate,
    log,
    read_json,
    run_stage,
    write_json,
)


def main(params: Params) -> None:
    paths = params.paths
    check_declared_plots(Path("dvc.yaml").read_text(encoding="utf-8"), params.contract.task)
    curated = Path(paths.curated)
    result = evaluate_candidate(
        params,
        train=pd.read_parquet(curated / "train.parquet"),
        holdout=pd.read_parquet(curated / "holdout.parquet"),
        card=read_json(Path(paths.card)),
        validation=read_json(Path(paths.reports) / "validation.json"),
    )
    reports = Path(paths.reports)
    write_json(reports / "metrics.json", result.metrics)
    write_json(reports / "segments.json", result.segments)
    gate = result.decision.to_dict()
    if result.staging is not None:  # fail-safe staging: the staged model's check this run
        gate["staging"] = result.staging
    write_json(reports / "gate.json", gate)
    result.write_plots(Path(paths.plots))
    log(
        f"evaluate: gate decision {result.decision.decision}: " + "; ".join(result.decision.reasons)
    )


if __name__ == "__main__":
    run_stage("evaluate", main)
