"""The model card: what a model was made from, written beside it by the train stage."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd

from datawheel.config.params import Params
from datawheel.io.code import installed_code
from datawheel.io.dvc import pointer_md5

LIBRARIES = ("datawheel", "scikit-learn", "skops", "numpy", "pandas", "pyarrow", "scipy")


def library_versions() -> dict[str, str | None]:
    """Versions of the libraries that shape the model's bytes."""
    found: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


CURATE_SECTIONS = ("window", "split", "leakage", "label_issues")


def model_card(params: Params, model_md5: str, train: pd.DataFrame, curation: dict) -> dict:
    """Params, data fingerprints, the datawheel code (version and digest of the installed
    package) and library versions for one trained model; no wall-clock."""
    paths = params.paths
    return {
        "model": {
            "name": params.registry.model_name,
            "path": paths.model,
            "md5": model_md5,
            "estimator": params.model.estimator,
            "task": params.contract.task,
            "classes": None
            if params.contract.classes is None
            else [str(c) for c in params.contract.classes],
        },
        # curate's settings come from curation.json, which curate wrote with them: the
        # train stage depends on params.yaml's contract and model only (dvc.yaml).
        "params": {
            "contract": params.contract.model_dump(mode="json"),
            **{key: curation["params"][key] for key in CURATE_SECTIONS},
            "model": params.model.model_dump(mode="json"),
        },
        "data": {
            "raw_dir_md5": pointer_md5(Path(f"{paths.raw}.dvc")),
            "train_rows": len(train),
            "holdout_rows": curation["counts"]["holdout_rows"],
            "train_fingerprint": curation["fingerprints"]["train"],
            "holdout_fingerprint": curation["fingerprints"]["holdout"],
            "window": curation["window"],
            "split": curation["split"],
            "batches": curation["per_batch"],
        },
        "code": installed_code().to_dict(),
        "libraries": library_versions(),
    }
