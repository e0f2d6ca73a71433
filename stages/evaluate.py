"""Stage evaluate: score candidate, baseline and champion on one hold-out; decide the gate."""

from pathlib import Path

import pandas as pd

from datawheel.api import (
    DVC_YAML,
    Params,
    check_declared_plots,
    evaluate_candidate,
    log,
    read_json,
    run_stage,
    write_json,
)


def main(params: Params) -> None:
    paths, artifacts = params.paths, params.artifacts
    check_declared_plots(Path(DVC_YAML).read_text(encoding="utf-8"), params.contract.task)
    result = evaluate_candidate(
        params,
        train=pd.read_parquet(artifacts.train),
        holdout=pd.read_parquet(artifacts.holdout),
        card=read_json(Path(paths.card)),
        validation=read_json(Path(artifacts.validation)),
    )
    write_json(Path(artifacts.metrics), result.metrics)
    write_json(Path(artifacts.segments), result.segments)
    gate = result.decision.to_dict()
    if result.staging is not None:  # fail-safe staging: the staged model's check this run
        gate["staging"] = result.staging
    write_json(Path(artifacts.gate), gate)
    result.write_plots(Path(paths.plots))
    log(
        f"evaluate: gate decision {result.decision.decision}: " + "; ".join(result.decision.reasons)
    )


if __name__ == "__main__":
    run_stage("evaluate", main)
