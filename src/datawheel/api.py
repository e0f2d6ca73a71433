"""The API stage scripts import: `from datawheel.api import run_stage, Params, ...`.

Projects made by `datawheel init` copy stages/ and keep it as their own code, so what those
scripts import must not move when datawheel's packages do: every name here stays importable
from `datawheel.api` whichever module implements it. Internal modules may move between
releases; this table follows them.

Each name is loaded when first used (PEP 562), so a stage loads only the modules of the
names it imports, and DVC's view of a stage's code (`datawheel.io.code.stage_closure`, which
reads EXPORTS) stays the modules that stage runs.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# name -> the module that implements it
EXPORTS: dict[str, str] = {
    # every stage
    "Params": "datawheel.config.params",
    "DVC_YAML": "datawheel.config.catalog",
    "PROVENANCE_COLUMNS": "datawheel.config.params",
    "run_stage": "datawheel.pipeline.stage",
    "log": "datawheel.pipeline.stage",
    "progress": "datawheel.pipeline.stage",
    "read_json": "datawheel.io.files",
    "write_json": "datawheel.io.files",
    "write_text": "datawheel.io.files",
    "write_parquet": "datawheel.io.files",
    "read_manifest": "datawheel.data.batches",
    # ingest
    "ingest_batches": "datawheel.pipeline.ingest",
    # validate
    "run_validation": "datawheel.pipeline.validate",
    "raise_if_failed": "datawheel.pipeline.validate",
    "render_markdown": "datawheel.render.validation",
    "summary_lines": "datawheel.pipeline.validate",
    "quarantined_row_ids": "datawheel.pipeline.validate",
    # curate
    "batches_in_window": "datawheel.pipeline.curate",
    "curate_batches": "datawheel.pipeline.curation",
    # train
    "fit_model": "datawheel.model.train",
    "model_card": "datawheel.model.card",
    "save_model": "datawheel.io.models",
    # evaluate
    "evaluate_candidate": "datawheel.pipeline.evaluate",
    "check_declared_plots": "datawheel.model.plots",
}

__all__ = sorted(EXPORTS)


def __getattr__(name: str) -> Any:
    module = EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'datawheel.api' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
