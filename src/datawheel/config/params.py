"""params.yaml and dvc.yaml `vars` parsed once into typed, frozen objects; errors name the key.

params.yaml holds the parameters (what changes a stage's result); `paths` and `registry`
are dvc.yaml's own template variables (`vars:`), so `dvc exp show` and `dvc params diff`
list only real parameters.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from datawheel.config.catalog import Artifacts
from datawheel.errors import ParamsError

ColumnType = Literal["string", "category", "int", "float", "datetime", "bool"]
Task = Literal["classification", "regression"]


@dataclass(frozen=True)
class MetricSpec:
    """What the gate needs to know of a metric: the task it scores, and its direction."""

    task: Task
    higher_is_better: bool

    @property
    def direction(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"


# The one table of metrics. Here, not in datawheel.model.metrics, so that params.yaml's metric
# names are checked without importing scikit-learn; the direction belongs to the metric,
# never to the task (r2 is a regression metric where higher is better).
METRIC_SPECS: dict[str, MetricSpec] = {
    "accuracy": MetricSpec("classification", True),
    "precision": MetricSpec("classification", True),
    "recall": MetricSpec("classification", True),
    "f1": MetricSpec("classification", True),
    "roc_auc": MetricSpec("classification", True),
    "log_loss": MetricSpec("classification", False),
    "brier": MetricSpec("classification", False),
    "mae": MetricSpec("regression", False),
    "rmse": MetricSpec("regression", False),
    "r2": MetricSpec("regression", True),
}

SCORING_RULES: dict[Task, tuple[str, ...]] = {
    "classification": ("log_loss", "brier"),
    "regression": ("mae", "rmse"),
}
"""The errors a candidate must also beat the naive baseline on (gate.scoring_rule)."""

# gate.* keys whose default depends on contract.task (the Gate defaults are classification's).
# A regression model has no absolute floor: an error in the target's units has no universal
# bar, and a first model must beat the naive baseline (the training mean / median) instead.
TASK_GATE_DEFAULTS: dict[Task, dict[str, Any]] = {
    "classification": {
        "primary_metric": "roc_auc",
        "scoring_rule": "log_loss",
        "absolute_floor": 0.5,
    },
    "regression": {"primary_metric": "rmse", "scoring_rule": None, "absolute_floor": None},
}


def metrics_of(task: Task) -> list[str]:
    """The metric names of one task, in the table's order."""
    return [name for name, spec in METRIC_SPECS.items() if spec.task == task]


PROVENANCE_COLUMNS = ("row_id", "batch", "batch_md5", "line")
"""Added by ingest to every row: content-hash id, raw batch path, its md5, line or row number."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Column(_Frozen):
    type: ColumnType
    nullable: bool = False


class Contract(_Frozen):
    """What a batch must look like: the columns and the roles some of them play.

    `task` says what the target is: class labels (`classes`, `positive_class`) or a number
    (`regression`: an int or float target, and no classes)."""

    id_column: str
    time_column: str
    target: str
    task: Task = "classification"
    segment: str | None = None
    classes: tuple[int | str, ...] | None = None
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
        if self.task == "regression":
            for key in ("classes", "positive_class"):
                if getattr(self, key) is not None:
                    raise ValueError(
                        f"contract.{key} must be absent or null when contract.task is "
                        "regression: a numeric target has no classes"
                    )
            target_type = self.columns[self.target].type
            if target_type not in ("int", "float"):
                raise ValueError(
                    f"contract.target {self.target!r} has type {target_type}; a regression "
                    "target must have type int or float"
                )
        elif self.classes is None or len(self.classes) < 2:
            raise ValueError("contract.classes must list at least two classes")
        elif len(self.classes) == 2 and self.positive_class not in self.classes:
            raise ValueError("contract.positive_class must be one of contract.classes")
        clash = set(PROVENANCE_COLUMNS) & set(self.columns)
        if clash:
            raise ValueError(f"contract.columns may not use the provenance names {sorted(clash)}")
        return self

    @property
    def is_binary(self) -> bool:
        return self.classes is not None and len(self.classes) == 2

    @property
    def is_regression(self) -> bool:
        return self.task == "regression"

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
    # A batch whose file name names no period (`export-17.csv`) takes as its period the
    # calendar unit most of its events fall in; `name` reads periods from names only.
    batch_period: Literal["name", "day", "week", "month", "quarter", "year"] = "name"

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


EstimatorName = Literal["logistic_regression", "hist_gradient_boosting", "ridge"]

TASK_ESTIMATORS: dict[Task, tuple[str, ...]] = {
    "classification": ("logistic_regression", "hist_gradient_boosting"),
    "regression": ("ridge", "hist_gradient_boosting"),
}
"""The estimator names each task accepts (datawheel.config.estimators maps them to scikit-learn)."""


class Model(_Frozen):
    estimator: EstimatorName
    seed: int = 0
    logistic_regression: dict[str, Any] = {}
    hist_gradient_boosting: dict[str, Any] = {}
    ridge: dict[str, Any] = {}

    @property
    def estimator_params(self) -> dict[str, Any]:
        return dict(getattr(self, self.estimator))


class LabelIssues(_Frozen):
    """Confident learning, with its own scorer: label flags never move with `model:`."""

    enabled: bool = True
    action: Literal["flag", "drop"] = "flag"
    estimator: Literal["logistic_regression", "hist_gradient_boosting"] = "logistic_regression"
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
    """Fail-safe staging (datawheel.registry.staging): off by default."""

    enabled: bool = False
    confirmations: int = Field(default=1, ge=1)  # confirmed runs, each a later data commit
    min_new_rows: int = Field(default=100, ge=1)  # new rows a run needs to judge the model


class Gate(_Frozen):
    """The promotion gate's settings; params.yaml `gate:` documents each one."""

    # The defaults are classification's; Params fills in contract.task's (TASK_GATE_DEFAULTS).
    primary_metric: str = "roc_auc"
    min_improvement: float = 0.0
    confidence: float = Field(default=0.95, gt=0, lt=1)
    bootstrap_samples: int = Field(default=1000, ge=100)
    seed: int = 0
    guardrails: dict[str, float] = {}
    segment_tolerance: float = Field(default=0.05, ge=0)
    min_segment_rows: int = Field(default=100, ge=1)
    absolute_floor: float | None = 0.5  # null: no floor (regression: beat the baseline)
    # Sanity guards: applied with or without a champion; no comparison can skip them.
    scoring_rule: Literal["log_loss", "brier", "mae", "rmse"] | None = "log_loss"
    max_predicted_class_share: float = Field(default=0.99, gt=0.5, le=1)
    min_class_recall: float | None = Field(default=0.0, ge=0, lt=1)
    min_class_rows: int = Field(default=20, ge=1)
    max_batch_share_of_holdout: float = Field(default=0.5, gt=0, le=1)
    staging: Staging = Field(default_factory=Staging)


ReferenceKind = Literal["champion", "recent", "season"]
"""`drift.reference`: the champion's training rows, the batches just before, or the same
calendar period in earlier years."""


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
    # `datawheel drift` only: what the newest batches are compared with (datawheel.review.drift).
    reference: ReferenceKind = "champion"
    season_years: int = Field(default=1, ge=1)
    seed: int = 0


SPARK_MASTER_ENV = "DATAWHEEL_SPARK_MASTER"
"""Overrides engine.spark.master, so one committed params.yaml runs locally and on a cluster."""


class SparkEngine(_Frozen):
    """Where a Spark session runs and with which settings (`engine.spark` in params.yaml).

    DATAWHEEL_SPARK_MASTER in the environment overrides `master` (datawheel.pipeline.spark), so one
    committed params.yaml runs on a laptop and on a cluster."""

    master: str = Field(default="local[2]", min_length=1)
    conf: dict[str, Any] = {}

    @property
    def run_master(self) -> str:
        """The master a session is built with: DATAWHEEL_SPARK_MASTER when set, else `master`."""
        return os.environ.get(SPARK_MASTER_ENV, "").strip() or self.master

    @model_validator(mode="after")
    def _conf_is_settings(self) -> SparkEngine:
        for key, value in self.conf.items():
            if not isinstance(value, str | int | float | bool):
                raise ValueError(
                    f"engine.spark.conf.{key}: a Spark setting is a string, number or "
                    f"boolean, not {type(value).__name__}"
                )
        return self


class Engine(_Frozen):
    """Which engine computes validate and curate. Not a stage parameter: dvc.yaml lists it
    in no stage, because both engines give the same bytes, so switching it reruns nothing."""

    name: Literal["pandas", "spark"] = "pandas"
    spark: SparkEngine = Field(default_factory=SparkEngine)

    @property
    def label(self) -> str:
        """What a stage's log says ran: `pandas`, or `spark (master local[2])`."""
        return "pandas" if self.name == "pandas" else f"spark (master {self.spark.run_master})"


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
    engine: Engine = Field(default_factory=Engine)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @property
    def artifacts(self) -> Artifacts:
        """Where each stage output lives in the project (datawheel.config.catalog)."""
        return Artifacts.of(self.paths)

    @property
    def batch_period_from_data(self) -> tuple[str, str] | None:
        """(time column, unit) when batches named by no period take it from their events."""
        unit = self.validate_.batch_period
        return None if unit == "name" else (self.contract.time_column, unit)

    @model_validator(mode="before")
    @classmethod
    def _task_gate_defaults(cls, data: Any) -> Any:
        """gate.* keys left out take contract.task's defaults (TASK_GATE_DEFAULTS)."""
        if not isinstance(data, dict):
            return data
        contract = data.get("contract")
        task = contract.get("task") if isinstance(contract, dict) else None
        gate = data.get("gate", {})
        if task not in TASK_GATE_DEFAULTS or not isinstance(gate, dict):
            return data
        missing = {k: v for k, v in TASK_GATE_DEFAULTS[task].items() if k not in gate}
        return {**data, "gate": {**gate, **missing}} if missing else data

    @model_validator(mode="after")
    def _settings_fit_the_task(self) -> Params:
        task, gate = self.contract.task, self.gate
        known = metrics_of(task)
        if self.model.estimator not in TASK_ESTIMATORS[task]:
            raise ValueError(
                f"model.estimator {self.model.estimator!r} is not a {task} estimator; "
                f"choose from {list(TASK_ESTIMATORS[task])}"
            )
        if gate.primary_metric not in known:
            raise ValueError(
                f"gate.primary_metric {gate.primary_metric!r} is not a {task} metric; "
                f"choose from {known}"
            )
        unknown = sorted(set(gate.guardrails) - set(known))
        if unknown:
            raise ValueError(
                f"gate.guardrails {unknown} are not {task} metrics; choose from {known}"
            )
        rules = SCORING_RULES[task]
        if gate.scoring_rule is None and task == "classification":
            raise ValueError(f"gate.scoring_rule must be one of {list(rules)}")
        if gate.scoring_rule is not None and gate.scoring_rule not in rules:
            raise ValueError(
                f"gate.scoring_rule {gate.scoring_rule!r} is not a {task} scoring rule; "
                f"choose from {list(rules)}" + (" or null" if task == "regression" else "")
            )
        if task == "regression" and gate.absolute_floor is not None:
            raise ValueError(
                "gate.absolute_floor must be null when contract.task is regression: an error "
                "has no absolute floor; a first model must beat the naive baseline instead"
            )
        if task == "classification" and gate.absolute_floor is None:
            raise ValueError("gate.absolute_floor must be a number for classification")
        return self


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

    Every estimator block of `model:` (those of contract.task) and `label_issues:` (a
    classifier, whatever the task) is checked, the unused one too: switching `estimator:`
    must not uncover an old mistake in the middle of a run.
    """
    problems = []
    for section, owner, task in (
        ("model", params.model, params.contract.task),
        ("label_issues", params.label_issues.scorer, "classification"),
    ):
        for name in TASK_ESTIMATORS[task]:
            chosen = owner.model_copy(update={"estimator": name})
            if name == owner.estimator or chosen.estimator_params:
                problems += _estimator_problems(chosen, section, task)
    return problems


_SKLEARN_MESSAGE = re.compile(
    r"^The '.+?' parameter of \w+ (?P<rule>.+)\. Got (?P<got>.+) instead\.$"
)


def _estimator_problems(model: Model, section: str, task: Task) -> list[str]:
    """Problems of `model`'s own settings block, each named `section.block.key`."""
    from sklearn.utils._param_validation import (
        InvalidParameterError,
        validate_parameter_constraints,
    )

    from datawheel.config.estimators import ESTIMATORS, build_estimator

    block = f"{section}.{model.estimator}"
    estimator_class = ESTIMATORS[task][model.estimator]
    known = set(estimator_class._get_param_names()) - {"random_state"}
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
    estimator = build_estimator(model, task)
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
