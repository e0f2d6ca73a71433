"""params.yaml and dvc.yaml `vars` parsed once into typed, frozen objects; errors name the key.

params.yaml holds the parameters (what changes a stage's result); `paths` and `registry`
are dvc.yaml's own template variables (`vars:`), so `dvc exp show` and `dvc params diff`
list only real parameters.
"""

from __future__ import annotations

import difflib
import re
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
    # Text a supplier writes for "no value" (`N/A`, `-`, `NULL`), read as null in every
    # column and format, beside the empty cell; matched exactly (case and spaces count).
    null_values: tuple[str, ...] = ()

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
    # `recent_median_rows`, the suite parameter of expectations/volume*.json: the median rows
    # of the last N accepted batches, defined once there are at least the minimum of them.
    volume_history_batches: int = Field(default=14, ge=1)
    volume_min_history_batches: int = Field(default=3, ge=1)
    # Below this many rows a failed critical row-level expectation with `mostly` quarantines
    # its failing rows instead of failing the batch (GX's `mostly` 0.99 tolerates no bad row
    # under 100 rows). 1 = GX's own judgement on every batch.
    min_rows_for_mostly: int = Field(default=100, ge=1)

    @model_validator(mode="after")
    def _history_fits(self) -> Validate:
        if self.volume_min_history_batches > self.volume_history_batches:
            raise ValueError("volume_min_history_batches must not exceed volume_history_batches")
        return self


class Window(_Frozen):
    days: int = Field(ge=0)


class Split(_Frozen):
    holdout_days: int = Field(ge=1)


class Leakage(_Frozen):
    check_entities: bool = True


EstimatorName = Literal["logistic_regression", "hist_gradient_boosting"]


class Model(_Frozen):
    estimator: EstimatorName
    seed: int = 0
    logistic_regression: dict[str, Any] = {}
    hist_gradient_boosting: dict[str, Any] = {}

    @property
    def estimator_params(self) -> dict[str, Any]:
        return dict(getattr(self, self.estimator))


class LabelIssues(_Frozen):
    """Confident learning, with its own scorer: label flags never move with `model:`."""

    enabled: bool = True
    action: Literal["flag", "drop"] = "flag"
    estimator: EstimatorName = "logistic_regression"
    folds: int = Field(default=5, ge=2)
    seed: int = 0
    logistic_regression: dict[str, Any] = {}
    hist_gradient_boosting: dict[str, Any] = {}

    @property
    def scorer(self) -> Model:
        """The model behind the out-of-fold probabilities, seeded by `label_issues.seed`."""
        return Model(
            estimator=self.estimator,
            seed=self.seed,
            logistic_regression=self.logistic_regression,
            hist_gradient_boosting=self.hist_gradient_boosting,
        )


class Staging(_Frozen):
    """Fail-safe staging (datawheel.staging): off by default."""

    enabled: bool = False
    confirmations: int = Field(default=1, ge=1)  # confirmed runs, each a later data commit
    min_new_rows: int = Field(default=100, ge=1)  # new rows a run needs to judge the model


class Gate(_Frozen):
    """The promotion gate's settings; params.yaml `gate:` documents each one."""

    primary_metric: str = "roc_auc"
    min_improvement: float = 0.0
    confidence: float = Field(default=0.95, gt=0, lt=1)
    bootstrap_samples: int = Field(default=1000, ge=100)
    seed: int = 0
    guardrails: dict[str, float] = {}
    segment_tolerance: float = Field(default=0.05, ge=0)
    min_segment_rows: int = Field(default=100, ge=1)
    absolute_floor: float = 0.5
    # Sanity guards: applied with or without a champion; no comparison can skip them.
    scoring_rule: Literal["log_loss", "brier"] = "log_loss"
    max_predicted_class_share: float = Field(default=0.99, gt=0.5, le=1)
    min_class_recall: float | None = Field(default=0.0, ge=0, lt=1)
    min_class_rows: int = Field(default=20, ge=1)
    max_batch_share_of_holdout: float = Field(default=0.5, gt=0, le=1)
    staging: Staging = Field(default_factory=Staging)


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


def parse_params(
    data: dict[str, Any], source: str = "params.yaml", check_estimators: bool = True
) -> Params:
    """Validate a params mapping; every problem is named by its dotted key.

    `check_estimators` also checks the estimator settings against scikit-learn's own
    parameter constraints (importing scikit-learn costs about a second, once per process).
    """
    try:
        params = Params.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(part) for part in err["loc"]) or "(top level)"
            problems.append(f"{key}: {err['msg']}")
        raise ParamsError(f"{source}: " + "; ".join(problems)) from None
    if check_estimators:
        problems = estimator_problems(params)
        if problems:
            raise ParamsError(f"{source}: " + "; ".join(problems))
    return params


def estimator_problems(params: Params) -> list[str]:
    """`key: problem` for each estimator setting scikit-learn would refuse, without fitting.

    Every estimator block of `model:` and `label_issues:` is checked, the unused one too:
    switching `estimator:` must not uncover an old mistake in the middle of a run.
    """
    problems = []
    for section, owner in (("model", params.model), ("label_issues", params.label_issues.scorer)):
        for name in EstimatorName.__args__:
            chosen = owner.model_copy(update={"estimator": name})
            if name == owner.estimator or chosen.estimator_params:
                problems += _estimator_problems(chosen, section)
    return problems


_SKLEARN_MESSAGE = re.compile(
    r"^The '.+?' parameter of \w+ (?P<rule>.+)\. Got (?P<got>.+) instead\.$"
)


def _estimator_problems(model: Model, section: str) -> list[str]:
    """Problems of `model`'s own settings block, each named `section.block.key`."""
    from sklearn.utils._param_validation import (
        InvalidParameterError,
        validate_parameter_constraints,
    )

    from datawheel.estimators import ESTIMATORS, build_estimator

    block = f"{section}.{model.estimator}"
    known = set(ESTIMATORS[model.estimator]._get_param_names()) - {"random_state"}
    problems = []
    for key in model.estimator_params:
        if key == "random_state":
            problems.append(f"{block}.random_state: set by {section}.seed, not here")
        elif key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(f"{block}.{key}: not a setting of {model.estimator}{hint}")
    if problems:
        return problems
    estimator = build_estimator(model)
    settings = estimator.get_params(deep=False)
    keys = {key: f"{block}.{key}" for key in model.estimator_params}
    keys["random_state"] = f"{section}.seed"
    for key, where in keys.items():
        try:
            validate_parameter_constraints(
                estimator._parameter_constraints,
                {key: settings[key]},
                caller_name=type(estimator).__name__,
            )
        except InvalidParameterError as exc:
            text = " ".join(str(exc).split())
            match = _SKLEARN_MESSAGE.match(text)
            if match:
                text = f"{match['rule']}; got {match['got']}"
            problems.append(f"{where}: {text}")
    return problems


DVC_VARS = ("paths", "registry")
"""Sections that live in dvc.yaml `vars:`: template variables for dvc.yaml, not parameters."""


def dvc_vars(dvc_yaml: Any) -> dict[str, Any]:
    """The inline mappings of dvc.yaml's `vars:` list merged into one (file entries skipped)."""
    found: dict[str, Any] = {}
    entries = dvc_yaml.get("vars") if isinstance(dvc_yaml, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict):
            found.update(entry)
    return found


def merge_dvc_vars(
    params: dict[str, Any],
    dvc_yaml: Any,
    params_source: str = "params.yaml",
    dvc_source: str = "dvc.yaml",
) -> dict[str, Any]:
    """params.yaml's sections plus `paths` and `registry` from dvc.yaml `vars:`.

    A commit from before they moved keeps them in params.yaml; that layout still reads, so
    history (diff, report, trace) works across the move. Both at once is an error: DVC
    itself refuses a variable defined twice, and a path must live in one place.
    """
    merged = dict(params)
    variables = dvc_vars(dvc_yaml)
    for key in DVC_VARS:
        if key in variables:
            if key in params:
                raise ParamsError(
                    f"{params_source}: `{key}` is also defined in {dvc_source} `vars:`; "
                    f"keep it only in {dvc_source}"
                )
            merged[key] = variables[key]
        elif key not in params:
            raise ParamsError(
                f"{dvc_source}: `vars:` has no `{key}` mapping; add `- {key}: {{...}}` under "
                "`vars:` as in datawheel's template dvc.yaml"
            )
    return merged


def _read_yaml_mapping(path: Path, hint: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParamsError(f"{path}: not found; {hint}") from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: expected a mapping at the top level")
    return data


def load_params(
    path: str | Path = "params.yaml",
    dvc_yaml: str | Path | None = None,
    check_estimators: bool = True,
) -> Params:
    """Read and validate params.yaml, with `paths` and `registry` from dvc.yaml `vars:`.

    dvc.yaml is the one beside params.yaml unless `dvc_yaml` names another. A caller that
    never builds an estimator may skip `check_estimators` and the scikit-learn import.
    """
    path = Path(path)
    data = _read_yaml_mapping(path, "run from the project root")
    dvc_path = path.parent / "dvc.yaml" if dvc_yaml is None else Path(dvc_yaml)
    if dvc_path.exists() or not all(key in data for key in DVC_VARS):
        pipeline = _read_yaml_mapping(dvc_path, "run from the project root")
    else:
        pipeline = {}
    return parse_params(
        merge_dvc_vars(data, pipeline, str(path), str(dvc_path)), str(path), check_estimators
    )
