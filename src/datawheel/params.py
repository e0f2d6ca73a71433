"""params.yaml parsed once into typed, frozen objects with errors that name the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from datawheel.errors import ParamsError

ColumnType = Literal["string", "category", "int", "float", "datetime", "bool"]

PROVENANCE_COLUMNS = ("row_id", "batch", "batch_md5", "line")
"""Added by ingest to every row: content-hash id, raw batch path, its md5, line or row number."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Column(_Frozen):
    type: ColumnType
    nullable: bool = False


class Contract(_Frozen):
    """What a batch must look like: the columns and the roles some of them play."""

    id_column: str
    time_column: str
    target: str
    segment: str | None = None
    classes: tuple[int | str, ...]
    positive_class: int | str | None = None
    columns: dict[str, Column]

    @model_validator(mode="after")
    def _roles_are_columns(self) -> Contract:
        for role in ("id_column", "time_column", "target", "segment"):
            name = getattr(self, role)
            if name is not None and name not in self.columns:
                raise ValueError(f"contract.{role} {name!r} is not one of contract.columns")
        if self.columns[self.time_column].type != "datetime":
            raise ValueError(f"contract.time_column {self.time_column!r} must have type datetime")
        if len(self.classes) < 2:
            raise ValueError("contract.classes must list at least two classes")
        if len(self.classes) == 2 and self.positive_class not in self.classes:
            raise ValueError("contract.positive_class must be one of contract.classes")
        clash = set(PROVENANCE_COLUMNS) & set(self.columns)
        if clash:
            raise ValueError(f"contract.columns may not use the provenance names {sorted(clash)}")
        return self

    @property
    def is_binary(self) -> bool:
        return len(self.classes) == 2

    @property
    def feature_columns(self) -> list[str]:
        """Columns the model learns from: all but the entity id, the time and the target."""
        skip = {self.id_column, self.time_column, self.target}
        return [name for name in self.columns if name not in skip]

    def features_of_type(self, *types: str) -> list[str]:
        return [c for c in self.feature_columns if self.columns[c].type in types]


class Paths(_Frozen):
    raw: str
    ingested: str
    quarantine: str
    curated: str
    model: str
    card: str
    champion: str
    reports: str
    plots: str
    expectations: str


class Registry(_Frozen):
    model_name: str = Field(pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


class Validate(_Frozen):
    acknowledged_batches: tuple[str, ...] = ()


class Window(_Frozen):
    days: int = Field(ge=0)


class Split(_Frozen):
    holdout_days: int = Field(ge=1)


class Leakage(_Frozen):
    check_entities: bool = True


class LabelIssues(_Frozen):
    enabled: bool = True
    action: Literal["flag", "drop"] = "flag"
    estimator: Literal["logistic_regression", "hist_gradient_boosting"] = "logistic_regression"
    folds: int = Field(default=5, ge=2)
    seed: int = 0


class Model(_Frozen):
    estimator: Literal["logistic_regression", "hist_gradient_boosting"]
    seed: int = 0
    logistic_regression: dict[str, Any] = {}
    hist_gradient_boosting: dict[str, Any] = {}

    @property
    def estimator_params(self) -> dict[str, Any]:
        return dict(getattr(self, self.estimator))


class Gate(_Frozen):
    primary_metric: str = "roc_auc"
    min_improvement: float = 0.0
    confidence: float = Field(default=0.95, gt=0, lt=1)
    bootstrap_samples: int = Field(default=1000, ge=100)
    seed: int = 0
    guardrails: dict[str, float] = {}
    segment_tolerance: float = Field(default=0.05, ge=0)
    min_segment_rows: int = Field(default=100, ge=1)
    absolute_floor: float = 0.5


class Drift(_Frozen):
    """Distribution-shift tests: a column is shifted only when significant AND large enough."""

    alpha: float = Field(default=0.05, gt=0, lt=1)
    psi_threshold: float = Field(default=0.2, gt=0)
    wasserstein_threshold: float = Field(default=0.1, gt=0)
    js_threshold: float = Field(default=0.1, gt=0, le=1)
    null_rate_threshold: float = Field(default=0.05, gt=0, le=1)
    label_threshold: float = Field(default=0.05, gt=0, le=1)
    min_rows: int = Field(default=100, ge=2)
    max_rows_per_side: int = Field(default=200_000, ge=100)
    bins: int = Field(default=10, ge=2)
    reference_batches: int = Field(default=7, ge=0)
    seed: int = 0


class Params(_Frozen):
    registry: Registry
    paths: Paths
    contract: Contract
    validate_: Validate = Field(default_factory=Validate, alias="validate")
    window: Window
    split: Split
    leakage: Leakage = Field(default_factory=Leakage)
    label_issues: LabelIssues = Field(default_factory=LabelIssues)
    model: Model
    gate: Gate = Field(default_factory=Gate)
    drift: Drift = Field(default_factory=Drift)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def parse_params(data: dict[str, Any], source: str = "params.yaml") -> Params:
    """Validate a params mapping; every problem is named by its dotted key."""
    try:
        return Params.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(part) for part in err["loc"]) or "(top level)"
            problems.append(f"{key}: {err['msg']}")
        raise ParamsError(f"{source}: " + "; ".join(problems)) from None


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate params.yaml."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParamsError(f"{path}: not found; run from the project root") from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: expected a mapping at the top level")
    return parse_params(data, str(path))
