"""Stage train: fit the seeded scikit-learn pipeline and save it with skops and its card."""

from pathlib import Path

import pandas as pd

from datawheel.api import (
    Params,
    fit_model,
    log,
    model_card,
    read_json,
    run_stage,
    save_model,
    write_json,
)


def main(params: Params) -> None:
    paths = params.paths
    train = pd.read_parquet(params.artifacts.train)
    model = fit_model(train, params.contract, params.model)
    model_md5 = save_model(model, Path(paths.model))
    curation = read_json(Path(params.artifacts.curation))
    write_json(Path(paths.card), model_card(params, model_md5, train, curation))
    log(f"train: {params.model.estimator} on {len(train)} rows -> {paths.model} md5 {model_md5}")


if __name__ == "__main__":
    run_stage("train", main, builds_estimators=True)
