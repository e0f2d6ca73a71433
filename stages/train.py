"""Stage train: fit the seeded scikit-learn pipeline and save it with skops and its card."""

from pathlib import Path

import pandas as pd

from datawheel.card import model_card
from datawheel.fileio import read_json, write_json
from datawheel.modelio import save_model
from datawheel.params import Params
from datawheel.stagerun import log, run_stage
from datawheel.train import fit_model


def main(params: Params) -> None:
    paths = params.paths
    train = pd.read_parquet(Path(paths.curated) / "train.parquet")
    model = fit_model(train, params.contract, params.model)
    model_md5 = save_model(model, Path(paths.model))
    curation = read_json(Path(paths.reports) / "curation.json")
    write_json(Path(paths.card), model_card(params, model_md5, train, curation))
    log(f"train: {params.model.estimator} on {len(train)} rows -> {paths.model} md5 {model_md5}")


if __name__ == "__main__":
    run_stage("train", main, builds_estimators=True)
