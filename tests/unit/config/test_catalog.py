"""The artifact catalog: one table of file names, the same names the template's dvc.yaml uses."""

from __future__ import annotations

from pathlib import Path

import yaml

from datawheel.config import catalog
from datawheel.config.catalog import Artifacts
from datawheel.config.params import load_params

ROOT = Path(__file__).resolve().parents[3]


def _declared_outputs() -> set[str]:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    found = set()
    for stage in stages.values():
        for entry in [*stage.get("outs", []), *stage.get("metrics", []), *stage.get("plots", [])]:
            found.add(next(iter(entry)) if isinstance(entry, dict) else entry)
    return found


def test_every_stage_output_dvc_yaml_declares_is_a_catalog_path():
    artifacts = Artifacts(
        "${paths.reports}", "${paths.curated}", "x", "${paths.quarantine}", "${paths.plots}"
    )
    declared = _declared_outputs()
    for path in [
        artifacts.validation,
        artifacts.validation_markdown,
        artifacts.validation_summary,
        artifacts.curation,
        artifacts.metrics,
        artifacts.gate,
        artifacts.segments,
        artifacts.quarantined_rows,
        artifacts.quarantined_batches,
        artifacts.png,
        artifacts.curated,
    ]:
        assert path in declared, path
    # the curated window is one folder output; the two files are inside it
    assert {artifacts.train, artifacts.holdout} == {
        f"${{paths.curated}}/{catalog.TRAIN}",
        f"${{paths.curated}}/{catalog.HOLDOUT}",
    }


def test_params_give_the_artifacts_of_their_paths():
    params = load_params(ROOT / catalog.PARAMS, ROOT / catalog.DVC_YAML)
    assert params.artifacts.gate == f"{params.paths.reports}/{catalog.GATE}"
    assert params.artifacts.train == f"{params.paths.curated}/{catalog.TRAIN}"
    assert params.artifacts.manifest == f"{params.paths.ingested}/{catalog.MANIFEST}"
    template = yaml.safe_load((ROOT / catalog.DVC_YAML).read_text())
    champion = next(v for v in template["vars"] if "paths" in v)["paths"]["champion"]
    assert champion == catalog.DEFAULT_CHAMPION
