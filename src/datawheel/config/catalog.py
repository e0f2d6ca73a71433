"""Every artifact's file name in one place, and where each lives in a project.

The folders come from dvc.yaml `vars: paths` (`datawheel.config.params.Paths`); the names
of the files inside them are defined here and nowhere else in the library. dvc.yaml and
the stage scripts of the project template spell the same names (DVC reads them from
there); `tests/unit/config/test_catalog.py` keeps the template's outputs equal to this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datawheel.config.params import Paths

# Project files, at the project root.
PARAMS = "params.yaml"
DVC_YAML = "dvc.yaml"
DVC_LOCK = "dvc.lock"
CODE_RECORD = ".datawheel/code.json"  # the installed datawheel a project records
DEFAULT_CHAMPION = "models/champion.json"  # paths.champion as `datawheel init` writes it

# In paths.reports: what the stages write.
VALIDATION = "validation.json"
VALIDATION_MARKDOWN = "validation.md"
VALIDATION_SUMMARY = "validation_summary.json"
CURATION = "curation.json"
METRICS = "metrics.json"
GATE = "gate.json"
SEGMENTS = "segments.json"

# In paths.curated: the curated window.
TRAIN = "train.parquet"
HOLDOUT = "holdout.parquet"

# In paths.ingested: one Parquet file per raw batch (named by its md5) and their manifest.
MANIFEST = "manifest.json"
# In paths.quarantine/rows: each per-batch result's md5, checked before it is reused.
CHECKSUMS = "checksums.json"

# In paths.plots/png: the PNGs that are no DVC plot.
PNG_FOLDER = "png"
CONFUSION_PNG = "confusion.png"
SEGMENTS_PNG = "segments.png"

# What `datawheel report` and `datawheel drift` write into their --out folder.
REPORT_MARKDOWN = "report.md"
REPORT_JSON = "report.json"
DRIFT_MARKDOWN = "drift.md"
DRIFT_JSON = "drift.json"
# What `datawheel promote --out` writes: the decision and what was done.
PROMOTION = "promotion.json"


@dataclass(frozen=True)
class Artifacts:
    """The project-relative POSIX path of each stage output, from dvc.yaml `vars: paths`:
    `root / artifacts.gate` on disk, `revision.read_json(artifacts.gate)` at a commit."""

    reports: str
    curated: str
    ingested: str
    quarantine: str
    plots: str

    @classmethod
    def of(cls, paths: Paths) -> Artifacts:
        return cls(paths.reports, paths.curated, paths.ingested, paths.quarantine, paths.plots)

    def _report(self, name: str) -> str:
        return f"{self.reports}/{name}"

    @property
    def validation(self) -> str:
        return self._report(VALIDATION)

    @property
    def validation_markdown(self) -> str:
        return self._report(VALIDATION_MARKDOWN)

    @property
    def validation_summary(self) -> str:
        return self._report(VALIDATION_SUMMARY)

    @property
    def curation(self) -> str:
        return self._report(CURATION)

    @property
    def metrics(self) -> str:
        return self._report(METRICS)

    @property
    def gate(self) -> str:
        return self._report(GATE)

    @property
    def segments(self) -> str:
        return self._report(SEGMENTS)

    @property
    def train(self) -> str:
        return f"{self.curated}/{TRAIN}"

    @property
    def holdout(self) -> str:
        return f"{self.curated}/{HOLDOUT}"

    @property
    def manifest(self) -> str:
        return f"{self.ingested}/{MANIFEST}"

    @property
    def quarantined_rows(self) -> str:
        return f"{self.quarantine}/rows"

    @property
    def quarantined_batches(self) -> str:
        return f"{self.quarantine}/batches"

    @property
    def png(self) -> str:
        return f"{self.plots}/{PNG_FOLDER}"
