"""Data tests: the Great Expectations suites in expectations/ run on every ingested batch.

The suites are the data's unit tests. Each expectation carries GX's own `severity`:

- critical: rows that fail it are quarantined (row_id, batch, line and the rule
  `suite/expectation_type/column`). If it fails as a whole - more bad rows than its `mostly`
  allows, or a table-level check such as the column set - the batch fails, and every row of
  a failed batch is excluded from curation. On a batch of fewer rows than
  `validate.min_rows_for_mostly`, a row-level expectation with `mostly` that fails only
  quarantines its failing rows (`small_batch`; see _on_small_batch and docs/validation.md).
- warning: failures are recorded with counts and a sample of row ids; the rows are kept.
- info: recorded only.

A batch's status is `failed` (a critical expectation failed), `warning` (a warning
expectation failed, or rows were quarantined while every critical expectation held) or
`passed`. Batches that ingest rejected appear as failed batches whose rule is the ingest
contract rule (suite `contract`). Every failed batch, rejected by ingest or failed by a
critical expectation, stops the pipeline (exit code 4) unless params.yaml
`validate.acknowledged_batches` lists its path or file name: then it stays excluded but the
run passes. A batch with the same bytes (md5) as an earlier one is
reported as a warning (`contract/duplicate_batch`): its rows are that batch's rows, with the
same row ids, and curate de-duplicates them.

The quarantine file of a batch (`<md5>.parquet`: row_id, batch, line, rule) lists each row
failing a critical row-level expectation once per rule, and, for a failed batch, every row
once more with rule `batch_failed`; `quarantined_row_ids` is what curate leaves out.

Expectations that need a suite parameter (`{"$PARAMETER": "day_start"}`, or GX's arithmetic
on one: `{"$PARAMETER": "recent_median_rows * 5"}`) get it per batch: `day_start` and
`day_end` are the UTC bounds of the day named by a `YYYY-MM-DD` file stem, `period_start`
and `period_end` those of any period a stem names (`YYYY-MM-DD`, `YYYY-Www`, `YYYY-MM`,
`YYYY-Qn`, `YYYY`), or, with params.yaml `validate.batch_period` set to a unit (day, week,
month, quarter, year), of the calendar unit most events of a batch named otherwise fall in;
`recent_median_rows` is the median row count of the last `validate.volume_history_batches`
accepted (not failed, not duplicate) batches before this one, defined once at least
`validate.volume_min_history_batches` of them exist. When a parameter is not defined (a
batch not named by a period; the first batches of a project) those expectations are skipped
and listed as skipped.
An expectation on a column the batch lacks fails with a message naming the column (it is
not handed to GX, whose error for that case names no column).

Engines: params.yaml `engine` chooses the runner (suite_runner): pandas, or GX's Spark data
source (SparkSuiteRunner), which translates the suites' pandas type names to Spark's; both
give the same outcomes, quarantine files and reports.

Speed: GX is imported only when something has to be validated (the import alone takes
seconds); one ephemeral context, data source and asset serve a whole run, and all suites
run as one combined GX suite per batch, so each batch is validated once. Results are cached
per batch in `<out_dir>/<md5>.json` (the outcome) and `<out_dir>/<md5>.parquet` (the excluded
rows): a batch with the same md5, path, suites fingerprint and suite parameters is not
validated again. `recent_median_rows` makes a verdict depend on earlier batches, so it is
part of that key: a new day costs one day (its median comes from verdicts already in
memory), and only a change to the batches before it (a backfill, a failed batch) can make
a later batch's cached verdict stale.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import math
import os
import re
import statistics
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from datawheel.config.catalog import CHECKSUMS
from datawheel.config.params import Engine
from datawheel.data.batches import BatchRecord
from datawheel.errors import DatawheelError, ParamsError, ValidationFailed
from datawheel.io.files import (
    StatHashes,
    json_safe,
    read_json,
    to_json,
    write_json,
    write_parquet,
)

SEVERITIES = ("critical", "warning", "info")
STATUSES = ("passed", "warning", "failed")
BATCH_FAILED_RULE = "batch_failed"
"""Rule of every row of a failed batch in the quarantine file, beside its row-level rules."""
INGEST_SUITE = "contract"
SAMPLE_SIZE = 20
QUARANTINE_COLUMNS = ("row_id", "batch", "line", "rule")

# Bump when the meaning of a cached result changes, so old caches are not reused.
_SEMANTICS_VERSION = 2  # 2: validate.min_rows_for_mostly
_SUITE_TAG = "datawheel_suite"
_INDEX_TAG = "datawheel_index"
# The periods a batch file's stem can name (batch_period), upper-cased first.
_PERIOD_STEM = re.compile(
    r"^(?P<year>\d{4})"
    r"(?:-(?P<month>\d{2})(?:-(?P<day>\d{2}))?|-W(?P<week>\d{2})|-Q(?P<quarter>[1-4]))?$"
)
"""md5 of each cached result file as validate wrote it: a file that differs is not reused."""
_CACHE_NAME = re.compile(r"^[0-9a-f]{32}\.(json|parquet)$")
# Names in a suite parameter expression: GX's variables (a letter, then letters, digits, `_`
# or `$`), not function names (followed by `(`) nor its constants E and PI.
_EXPRESSION_NAME = re.compile(r"(?<![\w$.])([A-Za-z][\w$]*)(?![\w$])(?!\s*\()")
_EXPRESSION_CONSTANTS = {"e", "pi"}
HISTORY_PARAMETER = "recent_median_rows"
"""Suite parameter: median rows of the recent accepted batches (see the module docstring)."""


# --- results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpectationOutcome:
    """How one expectation fared on one batch."""

    suite: str
    expectation_type: str
    column: str | None
    severity: str
    success: bool
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    sample_row_ids: tuple[str, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    observed_value: Any = None
    message: str = ""
    # A critical row-level expectation with `mostly` that failed on a batch of fewer rows
    # than validate.min_rows_for_mostly: its failing rows are quarantined, the batch is not.
    small_batch: bool = False

    @property
    def fails_batch(self) -> bool:
        """Whether this outcome fails its batch: a critical failure not on a small batch."""
        return self.severity == "critical" and not self.success and not self.small_batch

    @property
    def rule(self) -> str:
        """`suite/expectation_type/column`, or `suite/expectation_type` for table checks."""
        parts = [self.suite, self.expectation_type] + ([self.column] if self.column else [])
        return "/".join(parts)

    @property
    def observed_text(self) -> str:
        """`observed <value>` for a message: the value as JSON, at most 80 characters."""
        text = json.dumps(self.observed_value, default=str)
        return f"observed {text if len(text) <= 80 else text[:79] + '…'}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "expectation_type": self.expectation_type,
            "column": self.column,
            "rule": self.rule,
            "severity": self.severity,
            "success": self.success,
            "element_count": self.element_count,
            "unexpected_count": self.unexpected_count,
            "unexpected_percent": self.unexpected_percent,
            "sample_row_ids": list(self.sample_row_ids),
            "kwargs": self.kwargs,
            "observed_value": self.observed_value,
            "message": self.message,
            "small_batch": self.small_batch,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExpectationOutcome:
        values = {k: v for k, v in data.items() if k != "rule"}
        values["sample_row_ids"] = tuple(values.get("sample_row_ids", ()))
        return cls(**values)


@dataclass
class BatchValidation:
    """The suites' verdict on one batch; `quarantine` holds the excluded rows (not in JSON)."""

    batch: str
    md5: str
    status: str
    rows: int
    quarantined_rows: int
    outcomes: list[ExpectationOutcome]
    skipped: list[str] = field(default_factory=list)
    quarantine: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    @property
    def failures(self) -> list[ExpectationOutcome]:
        """Outcomes that did not succeed, most severe first, in suite order."""
        order = {s: i for i, s in enumerate(SEVERITIES)}
        failed = [o for o in self.outcomes if not o.success]
        return sorted(failed, key=lambda o: order.get(o.severity, len(order)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "md5": self.md5,
            "status": self.status,
            "rows": self.rows,
            "quarantined_rows": self.quarantined_rows,
            "outcomes": [o.to_dict() for o in self.outcomes],
            "skipped": list(self.skipped),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BatchValidation:
        return cls(
            batch=data["batch"],
            md5=data["md5"],
            status=data["status"],
            rows=data["rows"],
            quarantined_rows=data["quarantined_rows"],
            outcomes=[ExpectationOutcome.from_dict(o) for o in data["outcomes"]],
            skipped=list(data.get("skipped", [])),
        )


@dataclass
class ValidationReport:
    """Every batch's verdict, and whether the pipeline may go on."""

    batches: list[BatchValidation]
    acknowledged: tuple[str, ...] = ()
    validated: list[str] = field(default_factory=list)  # batches run through GX this time
    suites_fingerprint: str = ""
    # One sentence per cached result that did not match its recorded md5 and was redone.
    rebuilt: list[str] = field(default_factory=list)

    def is_acknowledged(self, batch: str) -> bool:
        """True when params.yaml lists the batch's path or its file name."""
        return batch in self.acknowledged or PurePosixPath(batch).name in self.acknowledged

    @property
    def failed_batches(self) -> list[BatchValidation]:
        """Failed batches nobody has acknowledged: these stop the pipeline, whether ingest
        rejected them (suite `contract`) or a critical expectation failed them."""
        return [
            b for b in self.batches if b.status == "failed" and not self.is_acknowledged(b.batch)
        ]

    @property
    def acknowledged_batches(self) -> list[BatchValidation]:
        """Failed batches that are acknowledged: excluded, but the run goes on."""
        return [b for b in self.batches if b.status == "failed" and self.is_acknowledged(b.batch)]

    @property
    def stale_acknowledgements(self) -> list[str]:
        """Entries of acknowledged_batches that match no failed batch (remove them)."""
        failed = [b.batch for b in self.batches if b.status == "failed"]
        names = set(failed) | {PurePosixPath(b).name for b in failed}
        return sorted(a for a in self.acknowledged if a not in names)

    @property
    def passed(self) -> bool:
        return not self.failed_batches

    @property
    def totals(self) -> dict[str, int]:
        count = {s: sum(b.status == s for b in self.batches) for s in STATUSES}
        return {
            "batches": len(self.batches),
            **count,
            "acknowledged": len(self.acknowledged_batches),
            "rows": sum(b.rows for b in self.batches),
            "quarantined_rows": sum(b.quarantined_rows for b in self.batches),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "totals": self.totals,
            "failed_batches": [b.batch for b in self.failed_batches],
            "acknowledged_batches": [b.batch for b in self.acknowledged_batches],
            "stale_acknowledgements": self.stale_acknowledgements,
            "suites_fingerprint": self.suites_fingerprint,
            "batches": [b.to_dict() for b in self.batches],
        }


# --- suites ------------------------------------------------------------------------------


def _read_suite_files(directory: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Parse every *.json suite (sorted by file name) and check its outline; no GX needed."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ParamsError(f"{directory}: expectations folder not found (paths.expectations)")
    files = sorted(directory.glob("*.json"), key=lambda p: p.name)
    if not files:
        raise ParamsError(f"{directory}: no expectation suites (*.json) found")
    loaded: list[tuple[Path, dict[str, Any]]] = []
    names: dict[str, Path] = {}
    for path in files:
        try:
            suite = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ParamsError(
                f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from None
        if not isinstance(suite, dict) or not isinstance(suite.get("name"), str):
            raise ParamsError(f"{path}: not an expectation suite (expected an object with 'name')")
        expectations = suite.get("expectations")
        if not isinstance(expectations, list) or not all(isinstance(e, dict) for e in expectations):
            raise ParamsError(f"{path}: 'expectations' must be a list of objects")
        if suite["name"] in names:
            raise ParamsError(
                f"{path}: suite name {suite['name']!r} is already used by {names[suite['name']]}"
            )
        names[suite["name"]] = path
        loaded.append((path, suite))
    return loaded


def _check_suites(loaded: Iterable[tuple[Path, dict[str, Any]]]) -> None:
    """Build every expectation with GX so that a typo fails here, naming its file."""
    _gx_environment()
    from great_expectations.exceptions import GreatExpectationsError
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    for path, suite in loaded:
        for number, expectation in enumerate(suite["expectations"], start=1):
            kind = expectation.get("type", "(no type)")
            where = f"{path}: expectation #{number} {kind!r}"
            severity = expectation.get("severity", "critical")
            if severity not in SEVERITIES:
                raise ParamsError(f"{where}: severity {severity!r} is not one of {SEVERITIES}")
            try:
                ExpectationConfiguration(**expectation).to_domain_obj()
            except GreatExpectationsError as exc:
                message = getattr(exc, "message", None) or str(exc)
                if "not found" in message:
                    message = "not a Great Expectations expectation type" + _suggested_type(
                        str(kind)
                    )
                raise ParamsError(f"{where}: {message}") from None
            except (TypeError, ValueError) as exc:
                detail = " ".join(str(exc).split())
                raise ParamsError(f"{where}: invalid configuration: {detail}") from None


COLUMN_KWARGS = ("column", "column_A", "column_B", "column_list", "column_set")
"""The kwargs through which an expectation names the column(s) it reads."""


def _check_columns(loaded: Iterable[tuple[Path, dict[str, Any]]], columns: Collection[str]) -> None:
    """Every column a suite names must be a batch column: otherwise the expectation fails on
    every batch, and quarantining the whole history would hide a mistake in the suite."""
    known = set(columns)
    for path, suite in loaded:
        for number, expectation in enumerate(suite["expectations"], start=1):
            kwargs = expectation.get("kwargs")
            if not isinstance(kwargs, dict):
                continue
            for key in COLUMN_KWARGS:
                value = kwargs.get(key)
                names = [value] if isinstance(value, str) else value
                if not isinstance(names, list):
                    continue
                for name in names:
                    if isinstance(name, str) and name not in known:
                        close = difflib.get_close_matches(name, sorted(known), n=1)
                        hint = f"did you mean {close[0]!r}, or " if close else ""
                        raise ParamsError(
                            f"{path}: expectation #{number} {expectation.get('type')!r}: "
                            f"{key} {name!r} is not a column of params.yaml contract.columns "
                            f"(nor a provenance column); {hint}add it to the contract"
                        )


def _suggested_type(kind: str) -> str:
    """A hint for an unknown expectation type: GX 1.x's snake_case name, or a close one."""
    from great_expectations.expectations.registry import (
        list_registered_expectation_implementations,
    )

    registered = list_registered_expectation_implementations()
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", kind).lower()
    if snake != kind and snake in registered:
        return f"; GX 1.x names it in snake_case: {snake!r}"
    close = difflib.get_close_matches(kind, registered, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def load_suites(directory: Path, columns: Collection[str] | None = None) -> list[dict[str, Any]]:
    """Read and check the suites in directory, sorted by file name, as GX JSON dicts.

    `columns`: the batch's columns (contract plus provenance); a suite naming another is an
    error."""
    loaded = _read_suite_files(directory)
    if columns is not None:
        _check_columns(loaded, columns)
    _check_suites(loaded)
    return [suite for _, suite in loaded]


def suites_fingerprint(suites: Sequence[Mapping[str, Any]]) -> str:
    """Changes whenever a suite, or the meaning of a cached result, changes."""
    text = to_json({"semantics": _SEMANTICS_VERSION, "suites": list(suites)})
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def batch_period(batch: str) -> tuple[dt.datetime, dt.datetime] | None:
    """The UTC period a batch's file stem names, start inclusive, end exclusive: a day
    `YYYY-MM-DD`, an ISO week `YYYY-Www`, a month `YYYY-MM`, a quarter `YYYY-Qn` or a year
    `YYYY` (any case); None for any other name or an impossible date."""
    stem = PurePosixPath(batch).name.split(".", 1)[0].upper()
    match = _PERIOD_STEM.match(stem)
    if match is None:
        return None
    year = int(match["year"])
    try:
        if match["day"]:
            start = dt.date(year, int(match["month"]), int(match["day"]))
            end = start + dt.timedelta(days=1)
        elif match["week"]:
            start = dt.date.fromisocalendar(year, int(match["week"]), 1)
            end = start + dt.timedelta(weeks=1)
        elif match["month"]:
            start = dt.date(year, int(match["month"]), 1)
            end = _months_later(start, 1)
        elif match["quarter"]:
            start = dt.date(year, 3 * int(match["quarter"]) - 2, 1)
            end = _months_later(start, 3)
        else:
            start, end = dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
    except ValueError:
        return None
    midnight = dt.time(tzinfo=dt.UTC)
    return dt.datetime.combine(start, midnight), dt.datetime.combine(end, midnight)


def _months_later(first: dt.date, months: int) -> dt.date:
    index = first.year * 12 + first.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


PERIOD_UNITS = ("day", "week", "month", "quarter", "year")
"""validate.batch_period's units for batches whose file name names no period."""


def period_containing(when: dt.date, unit: str) -> tuple[dt.datetime, dt.datetime]:
    """The UTC calendar `unit` (day, ISO week, month, quarter, year) holding a date."""
    if unit == "day":
        start, end = when, when + dt.timedelta(days=1)
    elif unit == "week":
        start = when - dt.timedelta(days=when.weekday())
        end = start + dt.timedelta(weeks=1)
    elif unit == "month":
        start = when.replace(day=1)
        end = _months_later(start, 1)
    elif unit == "quarter":
        start = dt.date(when.year, 3 * ((when.month - 1) // 3) + 1, 1)
        end = _months_later(start, 3)
    elif unit == "year":
        start, end = dt.date(when.year, 1, 1), dt.date(when.year + 1, 1, 1)
    else:
        raise ValueError(f"unknown period unit {unit!r}; choose from {list(PERIOD_UNITS)}")
    midnight = dt.time(tzinfo=dt.UTC)
    return dt.datetime.combine(start, midnight), dt.datetime.combine(end, midnight)


def period_of_events(times: pd.Series, unit: str) -> tuple[dt.datetime, dt.datetime] | None:
    """The calendar `unit` holding most of a batch's event times (the earliest on a tie),
    for a batch whose name names no period; None when it has no event time."""
    stamps = pd.to_datetime(times, utc=True).dropna()
    if stamps.empty:
        return None
    starts = pd.Series([period_containing(d, unit)[0] for d in stamps.dt.date])
    counts = starts.value_counts()
    return period_containing(min(counts[counts == counts.max()].index).date(), unit)


def batch_suite_parameters(
    batch: str, events: tuple[pd.Series, str] | None = None
) -> dict[str, str]:
    """`period_start`/`period_end` (UTC, end exclusive) of the period the file stem names
    (batch_period), and for a `YYYY-MM-DD` stem the same as `day_start`/`day_end`.

    `events`: the batch's event times and params.yaml `validate.batch_period` unit; a name
    that names no period then takes the period most of its events fall in (period_of_events),
    so a batch spanning two periods has its stray rows caught by the freshness suite."""
    period = batch_period(batch)
    if period is None and events is not None:
        period = period_of_events(*events)
    if period is None:
        return {}
    start, end = (bound.isoformat() for bound in period)
    parameters = {"period_start": start, "period_end": end}
    if period[1] - period[0] == dt.timedelta(days=1):
        parameters |= {"day_start": start, "day_end": end}
    return parameters


# --- running GX --------------------------------------------------------------------------


def _gx_environment() -> None:
    """Keep GX from phoning home; called just before GX is imported."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def recent_median_rows(
    accepted_rows: Sequence[int], history_batches: int, min_history_batches: int
) -> float | None:
    """Median rows of the last `history_batches` accepted batches; None with too few."""
    recent = list(accepted_rows)[-history_batches:]
    if len(recent) < min_history_batches or not recent:
        return None
    return float(statistics.median(recent))


def _expression_names(expression: str) -> set[str]:
    """The parameters a `$PARAMETER` value reads: a plain name, or the names in GX arithmetic."""
    if expression.isidentifier():
        return {expression}
    found = set(_EXPRESSION_NAME.findall(expression))
    return {name for name in found if name.lower() not in _EXPRESSION_CONSTANTS}


def _parameter_names(value: Any) -> set[str]:
    if isinstance(value, dict):
        if "$PARAMETER" in value:
            return _expression_names(str(value["$PARAMETER"]))
        return set().union(*(_parameter_names(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_parameter_names(v) for v in value))
    return set()


def _resolve_parameters(value: Any, parameters: Mapping[str, Any]) -> Any:
    if isinstance(value, dict):
        if "$PARAMETER" in value:
            return parameters.get(str(value["$PARAMETER"]), value)
        return {k: _resolve_parameters(v, parameters) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_parameters(v, parameters) for v in value]
    return value


@dataclass(frozen=True)
class _Planned:
    """One expectation of one suite, ready to run."""

    suite: str
    index: int
    config: dict[str, Any]

    @property
    def column(self) -> str | None:
        column = self.config.get("kwargs", {}).get("column")
        return str(column) if column is not None else None

    @property
    def severity(self) -> str:
        return str(self.config.get("severity", "critical"))

    @property
    def expectation_type(self) -> str:
        return str(self.config["type"])

    @property
    def rule(self) -> str:
        return "/".join(
            [self.suite, self.expectation_type] + ([self.column] if self.column else [])
        )

    def outcome(
        self,
        success: bool,
        parameters: Mapping[str, Any],
        evaluated: Mapping[str, Any] | None = None,
        **values: Any,
    ) -> ExpectationOutcome:
        """`evaluated`: the kwargs as GX ran them, which resolve parameter arithmetic."""
        config = self.config.get("kwargs", {})
        resolved = _resolve_parameters(config, parameters)
        for key, value in (evaluated or {}).items():
            if isinstance(config.get(key), dict) and "$PARAMETER" in config[key]:
                resolved[key] = value
        kwargs = {k: json_safe(v) for k, v in resolved.items() if k != "column"}
        return ExpectationOutcome(
            suite=self.suite,
            expectation_type=self.expectation_type,
            column=self.column,
            severity=self.severity,
            success=success,
            kwargs=kwargs,
            **values,
        )


class SuiteRunner:
    """Validates frames against a fixed list of suites with one ephemeral GX context.

    GX is imported and the context, data source and asset are created on first use, once
    per runner; run_validation makes one runner per run.
    """

    def __init__(
        self,
        suites: Sequence[Mapping[str, Any]],
        min_rows_for_mostly: int = 0,
        batch_period: tuple[str, str] | None = None,
    ):
        self.suites = [dict(s) for s in suites]
        self.min_rows_for_mostly = min_rows_for_mostly
        # (time column, unit): a batch named by no period takes its period from its events
        self.batch_period = batch_period
        self._planned = [
            _Planned(str(suite["name"]), index, dict(config))
            for suite in self.suites
            for index, config in enumerate(suite.get("expectations", []))
        ]
        self._batch_definition: Any = None
        self._gx_suites: dict[tuple[int, ...], Any] = {}

    def _definition(self) -> Any:
        if self._batch_definition is None:
            _gx_environment()
            import great_expectations as gx
            from great_expectations.data_context.types.base import ProgressBarsConfig

            context = gx.get_context(mode="ephemeral")
            context.variables.progress_bars = ProgressBarsConfig(
                globally=False, metric_calculations=False
            )
            asset = self._data_source(context).add_dataframe_asset("batches")
            self._batch_definition = asset.add_batch_definition_whole_dataframe("batch")
        return self._batch_definition

    def _data_source(self, context: Any) -> Any:
        return context.data_sources.add_pandas("datawheel")

    def _gx_frame(self, frame: pd.DataFrame) -> Any:
        """The batch as this runner's GX data source takes it."""
        return frame

    def _gx_config(self, config: dict[str, Any]) -> dict[str, Any]:
        """An expectation's configuration as this runner's engine reads it."""
        return config

    def _observed(self, planned: _Planned, value: Any) -> Any:
        """A GX observed value as the suite's own terms say it."""
        return value

    def _gx_suite(self, chosen: list[int]) -> Any:
        """The combined GX suite of the chosen expectations, built once per choice."""
        key = tuple(chosen)
        if key not in self._gx_suites:
            import great_expectations as gx

            expectations = []
            for position in chosen:
                planned = self._planned[position]
                config = self._gx_config(dict(planned.config))
                config["meta"] = {
                    **(config.get("meta") or {}),
                    _SUITE_TAG: planned.suite,
                    _INDEX_TAG: position,
                }
                expectations.append(config)
            suite = gx.ExpectationSuite(name="datawheel_combined", expectations=expectations)
            if len(suite.expectations) != len(expectations):  # GX drops invalid ones silently
                raise ParamsError(
                    "an expectation suite holds an invalid expectation; check it with load_suites"
                )
            self._gx_suites[key] = suite
        return self._gx_suites[key]

    def validate(
        self, frame: pd.DataFrame, batch: str, parameters: Mapping[str, Any] | None = None
    ) -> BatchValidation:
        """Run every suite on one typed batch (with provenance columns) in one GX run.

        `parameters`: suite parameters beyond the batch's own day bounds, such as
        `recent_median_rows`; expectations needing one that is not given are skipped.
        """
        if "row_id" not in frame.columns:
            raise DatawheelError(
                f"{batch}: the frame has no row_id column; validate frames typed by ingest"
            )
        events = None
        if self.batch_period is not None and self.batch_period[0] in frame.columns:
            events = (frame[self.batch_period[0]], self.batch_period[1])
        parameters = {**batch_suite_parameters(batch, events), **(parameters or {})}
        columns = set(frame.columns)
        outcomes: dict[int, ExpectationOutcome] = {}
        row_ids: dict[int, list[str]] = {}
        skipped: list[str] = []
        chosen: list[int] = []
        for position, planned in enumerate(self._planned):
            needed = _parameter_names(planned.config.get("kwargs", {}))
            if needed - parameters.keys():
                skipped.append(planned.rule)
            elif planned.column is not None and planned.column not in columns:
                outcomes[position] = planned.outcome(
                    False,
                    parameters,
                    element_count=len(frame),
                    message=f"column {planned.column!r} is not in the batch",
                )
            else:
                chosen.append(position)
        if chosen:
            result = (
                self._definition()
                .get_batch(batch_parameters={"dataframe": self._gx_frame(frame)})
                .validate(
                    self._gx_suite(chosen),
                    result_format={
                        "result_format": "COMPLETE",
                        "unexpected_index_column_names": ["row_id"],
                    },
                    expectation_parameters=parameters or None,
                )
            )
            for gx_result in result.results:
                position = int(gx_result.expectation_config.meta[_INDEX_TAG])
                outcomes[position], row_ids[position] = self._outcome(
                    position, gx_result, parameters
                )
        ordered = sorted(outcomes)
        return _verdict(
            frame,
            batch,
            [_on_small_batch(outcomes[p], len(frame), self.min_rows_for_mostly) for p in ordered],
            [row_ids.get(p, []) for p in ordered],
            skipped,
        )

    def _outcome(
        self, position: int, gx_result: Any, parameters: Mapping[str, Any]
    ) -> tuple[ExpectationOutcome, list[str]]:
        """Our outcome of one GX result, and the ids of all its unexpected rows."""
        planned = self._planned[position]
        result = gx_result.result or {}
        index_list = result.get("unexpected_index_list") or []
        row_ids = sorted({str(entry["row_id"]) for entry in index_list if "row_id" in entry})
        percent = result.get("unexpected_percent")
        evaluated = dict(gx_result.expectation_config.kwargs)
        message = _result_message(gx_result)
        needed = _parameter_names(planned.config.get("kwargs", {}))
        if not message and HISTORY_PARAMETER in needed and not gx_result.success:
            message = _volume_message(result.get("observed_value"), evaluated, parameters)
        outcome = planned.outcome(
            bool(gx_result.success),
            parameters,
            evaluated,
            element_count=json_safe(result.get("element_count")),
            unexpected_count=json_safe(result.get("unexpected_count")),
            unexpected_percent=round(float(percent), 4) if percent is not None else None,
            sample_row_ids=tuple(row_ids[:SAMPLE_SIZE]),
            observed_value=json_safe(self._observed(planned, result.get("observed_value"))),
            message=message,
        )
        return outcome, row_ids


class SparkSuiteRunner(SuiteRunner):
    """The same suites through GX's Spark data source: each batch becomes a Spark DataFrame
    (through Arrow) and the expectations are computed by Spark. The suites name pandas types;
    they are translated to Spark's here (datawheel.pipeline.spark.SPARK_TYPE_NAMES), and Spark's
    observed types back, so the outcomes and quarantined rows equal the pandas runner's."""

    def __init__(
        self,
        suites: Sequence[Mapping[str, Any]],
        min_rows_for_mostly: int,
        session: Any,
        batch_period: tuple[str, str] | None = None,
    ):
        super().__init__(suites, min_rows_for_mostly, batch_period)
        self.session = session

    def _data_source(self, context: Any) -> Any:
        return context.data_sources.add_spark("datawheel")

    def _gx_frame(self, frame: pd.DataFrame) -> Any:
        from datawheel.pipeline.spark import to_spark

        return to_spark(self.session, frame)

    def _gx_config(self, config: dict[str, Any]) -> dict[str, Any]:
        from datawheel.pipeline.spark import spark_type_name

        kwargs = dict(config.get("kwargs") or {})
        if isinstance(kwargs.get("type_"), str):
            kwargs["type_"] = spark_type_name(kwargs["type_"])
        if isinstance(kwargs.get("type_list"), list):
            kwargs["type_list"] = [
                spark_type_name(t) if isinstance(t, str) else t for t in kwargs["type_list"]
            ]
        return {**config, "kwargs": kwargs}

    def _observed(self, planned: _Planned, value: Any) -> Any:
        from datawheel.pipeline.spark import pandas_type_name

        kwargs = planned.config.get("kwargs") or {}
        expected = kwargs.get("type_", kwargs.get("type_list"))
        if isinstance(value, str) and isinstance(expected, str | list):
            return pandas_type_name(value, [t for t in _listed(expected) if isinstance(t, str)])
        return value


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def suite_runner(
    suites: Sequence[Mapping[str, Any]],
    min_rows_for_mostly: int,
    engine: Engine | None = None,
    batch_period: tuple[str, str] | None = None,
) -> SuiteRunner:
    """The runner of params.yaml `engine`: pandas (the default) or Spark."""
    if engine is None or engine.name == "pandas":
        return SuiteRunner(suites, min_rows_for_mostly, batch_period)
    from datawheel.pipeline.spark import spark_session

    return SparkSuiteRunner(suites, min_rows_for_mostly, spark_session(engine.spark), batch_period)


def _volume_message(
    observed: Any, evaluated: Mapping[str, Any], parameters: Mapping[str, Any]
) -> str:
    """A failed row count next to the recent median it was judged against."""
    median = float(parameters[HISTORY_PARAMETER])
    low, high = evaluated.get("min_value"), evaluated.get("max_value")
    if low is not None and high is not None:
        allowed = f"between {low:,} and {high:,}"
    elif high is not None:
        allowed = f"at most {high:,}"
    else:
        allowed = f"at least {low:,}"
    try:
        rows = int(observed)
    except (TypeError, ValueError):
        return f"expected {allowed} rows against a recent median of {median:,.0f}"
    ratio = rows / median if median else math.inf
    return (
        f"{rows:,} rows, {ratio:,.1f}x the recent median of {median:,.0f} rows per batch; "
        f"expected {allowed}"
    )


def _result_message(gx_result: Any) -> str:
    """What went wrong beyond the counts: GX's error, or the mismatched column names."""
    info = gx_result.exception_info or {}
    errors = [info] if info.get("raised_exception") else []
    errors += [v for v in info.values() if isinstance(v, dict) and v.get("raised_exception")]
    if errors:
        return str(errors[0].get("exception_message") or "Great Expectations raised an error")
    mismatched = ((gx_result.result or {}).get("details") or {}).get("mismatched") or {}
    return "; ".join(
        f"{kind} {sorted(names)}" for kind, names in sorted(mismatched.items()) if names
    )


def _empty_quarantine() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row_id": pd.Series([], dtype="str"),
            "batch": pd.Series([], dtype="str"),
            "line": pd.Series([], dtype="int64"),
            "rule": pd.Series([], dtype="str"),
        }
    )


def _on_small_batch(
    outcome: ExpectationOutcome, rows: int, min_rows_for_mostly: int
) -> ExpectationOutcome:
    """The outcome marked `small_batch` when it is a failed critical row-level expectation
    with `mostly` below 1 on a batch of fewer than min_rows_for_mostly rows (0: never).

    GX fails such an expectation when the failing share exceeds 1 - mostly, so with
    mostly 0.99 a batch under 100 rows tolerates no failing row at all: one bad row of 30
    would fail the whole batch and stop the pipeline, which is not what 0.99 said. On such a
    batch the failing rows are quarantined and the batch warns instead."""
    mostly = outcome.kwargs.get("mostly")
    if (
        outcome.success
        or outcome.severity != "critical"
        or outcome.unexpected_count is None
        or not isinstance(mostly, int | float)
        or mostly >= 1
        or rows >= min_rows_for_mostly
    ):
        return outcome
    message = (
        f"{rows:,} rows, fewer than validate.min_rows_for_mostly ({min_rows_for_mostly:,}): "
        f"its {outcome.unexpected_count:,} failing rows are quarantined, the batch does not "
        f"fail on mostly {mostly:g}"
    )
    return replace(outcome, small_batch=True, message=message)


def _verdict(
    frame: pd.DataFrame,
    batch: str,
    outcomes: list[ExpectationOutcome],
    failing_ids: list[list[str]],
    skipped: list[str],
) -> BatchValidation:
    """Status and quarantined rows of a batch from its outcomes (see the module docstring)."""
    failed = any(o.fails_batch for o in outcomes)
    warned = any(o.severity == "warning" and not o.success for o in outcomes)
    if "line" in frame.columns:
        rows = frame[["row_id", "line"]]
    else:  # a frame not from ingest: number the rows from 1
        rows = frame[["row_id"]].assign(line=range(1, len(frame) + 1))
    pieces = []
    for outcome, ids in zip(outcomes, failing_ids, strict=True):
        if outcome.severity == "critical" and ids:
            hit = rows[rows["row_id"].isin(ids)]
            pieces.append(hit.assign(rule=outcome.rule))
    if failed:
        pieces.append(rows.assign(rule=BATCH_FAILED_RULE))
    quarantine = _empty_quarantine()
    if pieces:
        joined = pd.concat(pieces, ignore_index=True).assign(batch=batch)
        quarantine = (
            joined[list(QUARANTINE_COLUMNS)]
            .astype({"row_id": "str", "batch": "str", "line": "int64", "rule": "str"})
            .drop_duplicates()
            .sort_values(["line", "rule"], kind="stable", ignore_index=True)
        )
    excluded = len(frame) if failed else int(quarantine["line"].nunique())
    status = "failed" if failed else ("warning" if warned or excluded else "passed")
    md5 = str(frame["batch_md5"].iloc[0]) if "batch_md5" in frame.columns and len(frame) else ""
    return BatchValidation(
        batch=batch,
        md5=md5,
        status=status,
        rows=len(frame),
        quarantined_rows=excluded,
        outcomes=outcomes,
        skipped=skipped,
        quarantine=quarantine,
    )


def validate_frame(
    frame: pd.DataFrame,
    suites: Sequence[Mapping[str, Any]],
    batch: str,
    runner: SuiteRunner | None = None,
) -> BatchValidation:
    """Validate one typed batch against the suites; no disk. Pass a runner to reuse GX."""
    if runner is None:
        runner = SuiteRunner(suites)
    elif runner.suites != [dict(s) for s in suites]:
        raise ValueError("runner was built for other suites")
    return runner.validate(frame, batch)


# --- the stage ---------------------------------------------------------------------------


def _ingest_failure(record: BatchRecord) -> BatchValidation:
    """A batch ingest rejected, as a failed batch whose rule is the ingest contract rule."""
    reason = record.reason or {}
    outcome = ExpectationOutcome(
        suite=INGEST_SUITE,
        expectation_type=str(reason.get("rule", "contract")),
        column=None,
        severity="critical",
        success=False,
        message=str(reason.get("message", "rejected by ingest")),
    )
    return BatchValidation(record.path, record.md5, "failed", 0, 0, [outcome])


def _duplicate_batch(record: BatchRecord, first: str) -> BatchValidation:
    """A batch with the same bytes as an earlier one: same rows, same ids; curate de-duplicates."""
    outcome = ExpectationOutcome(
        suite=INGEST_SUITE,
        expectation_type="duplicate_batch",
        column=None,
        severity="warning",
        success=False,
        message=f"same bytes as {first}; its rows are that batch's rows",
    )
    return BatchValidation(record.path, record.md5, "warning", record.rows, 0, [outcome])


def _verified(
    out_dir: Path, md5: str, checksums: Mapping[str, str], hashes: StatHashes, rebuilt: list[str]
) -> bool:
    """Whether a batch's cached files still hold the bytes validate wrote (md5s recorded in
    CHECKSUMS); a file that does not is named in `rebuilt`, and the batch is validated again."""
    for name in (f"{md5}.json", f"{md5}.parquet"):
        path = out_dir / name
        if not path.is_file():
            return False
        actual = hashes.md5(path)
        if actual != checksums.get(name):
            rebuilt.append(
                f"{path.as_posix()} does not match the md5 validate recorded for it "
                f"({checksums.get(name)}, now {actual}; rule: output_integrity): validated again"
            )
            return False
    return True


def _cached(
    out_dir: Path,
    record: BatchRecord,
    fingerprint: str,
    parameters: Mapping[str, Any],
    min_rows_for_mostly: int,
    batch_period: tuple[str, str] | None = None,
) -> BatchValidation | None:
    """The stored verdict on this batch if made with the same suites, parameters,
    min_rows_for_mostly and batch_period, else None. Call only once `_verified` has
    accepted the files."""
    try:
        stored = read_json(out_dir / f"{record.md5}.json")
    except (OSError, ValueError):  # unreadable cache: validate again
        return None
    if (
        not isinstance(stored, dict)
        or stored.get("suites_fingerprint") != fingerprint
        or stored.get("parameters") != dict(parameters)
        or stored.get("min_rows_for_mostly") != min_rows_for_mostly
        or stored.get("batch_period") != (list(batch_period) if batch_period else None)
        or not (out_dir / f"{record.md5}.parquet").exists()
    ):
        return None
    result = BatchValidation.from_dict(stored["validation"])
    if result.batch != record.path or result.md5 != record.md5:
        return None
    return result


def run_validation(
    ingested_dir: Path,
    records: list[BatchRecord],
    suites_dir: Path,
    out_dir: Path,
    acknowledged: Sequence[str] = (),
    progress: Callable[[Iterable[BatchRecord]], Iterable[BatchRecord]] = iter,
    volume_history_batches: int = 14,
    volume_min_history_batches: int = 3,
    columns: Collection[str] | None = None,
    root: Path = Path("."),
    min_rows_for_mostly: int = 0,
    batch_period: tuple[str, str] | None = None,
    engine: Engine | None = None,
) -> ValidationReport:
    """Validate every ingested batch not already validated with the same md5, suites and
    suite parameters (`recent_median_rows` from the accepted batches before it).

    Writes `<md5>.json` and `<md5>.parquet` per batch into out_dir and removes those of
    batches no longer present. GX is imported only if some batch needs validating.
    `columns` (contract plus provenance), if given, must hold every column a suite names:
    that is checked before any batch, cached or not.

    A cached result is reused only while its two files hold the bytes validate wrote: their
    md5s are kept in `<out_dir>/checksums.json` and checked through DVC's state database
    (`root`'s), so an unchanged file is not read again.

    `min_rows_for_mostly`: params.yaml `validate.min_rows_for_mostly` (see _on_small_batch;
    0 judges `mostly` as GX does on every batch). `batch_period`: (the contract's time
    column, params.yaml `validate.batch_period`) when batches not named by a period take
    their period from their events; None reads periods from names only.

    `engine`: params.yaml `engine` (None: pandas); both give the same outcomes and files.
    """
    with StatHashes(root) as hashes:
        return _run_validation(
            Path(ingested_dir),
            Path(out_dir),
            records,
            suites_dir,
            acknowledged,
            progress,
            volume_history_batches,
            volume_min_history_batches,
            columns,
            hashes,
            min_rows_for_mostly,
            batch_period,
            engine,
        )


def _run_validation(
    ingested_dir,
    out_dir,
    records,
    suites_dir,
    acknowledged,
    progress,
    volume_history_batches,
    volume_min_history_batches,
    columns,
    hashes,
    min_rows_for_mostly,
    batch_period,
    engine,
) -> ValidationReport:
    loaded = _read_suite_files(suites_dir)
    if columns is not None:
        _check_columns(loaded, columns)
    suites = [suite for _, suite in loaded]
    fingerprint = suites_fingerprint(suites)
    runner: SuiteRunner | None = None
    results: list[BatchValidation] = []
    validated: list[str] = []
    first_of_md5: dict[str, str] = {}
    rebuilt: list[str] = []
    checksums = read_json(out_dir / CHECKSUMS, default={})
    fresh: dict[str, str] = {}
    accepted_rows: list[int] = []  # row counts of the batches the history parameter reads
    for record in progress(records):
        if record.status != "ingested":
            results.append(_ingest_failure(record))
            continue
        first = record.duplicate_of or first_of_md5.get(record.md5)
        if first is not None:
            results.append(_duplicate_batch(record, first))
            continue
        first_of_md5[record.md5] = record.path
        parameters: dict[str, Any] = {}
        median = recent_median_rows(
            accepted_rows, volume_history_batches, volume_min_history_batches
        )
        if median is not None:
            parameters[HISTORY_PARAMETER] = median
        result = None
        if _verified(out_dir, record.md5, checksums, hashes, rebuilt):
            result = _cached(
                out_dir, record, fingerprint, parameters, min_rows_for_mostly, batch_period
            )
        if result is None:
            if runner is None:
                _check_suites(loaded)
                runner = suite_runner(suites, min_rows_for_mostly, engine, batch_period)
            source = ingested_dir / f"{record.md5}.parquet"
            if not source.exists():
                raise DatawheelError(
                    f"{record.path}: ingested file {source} is missing; run the ingest stage first"
                )
            frame = pd.read_parquet(source)
            result = runner.validate(frame, record.path, parameters)
            result.md5 = record.md5
            assert result.quarantine is not None  # a runner's result carries its quarantine
            write_parquet(out_dir / f"{record.md5}.parquet", result.quarantine)
            write_json(
                out_dir / f"{record.md5}.json",
                {
                    "suites_fingerprint": fingerprint,
                    "parameters": parameters,
                    "min_rows_for_mostly": min_rows_for_mostly,
                    "batch_period": list(batch_period) if batch_period else None,
                    "validation": result.to_dict(),
                },
            )
            validated.append(record.path)
        for name in (f"{record.md5}.json", f"{record.md5}.parquet"):
            fresh[name] = hashes.md5(out_dir / name)
        if result.status != "failed":
            accepted_rows.append(result.rows)
        results.append(result)
    _remove_stale(out_dir, set(first_of_md5))
    if fresh != checksums:  # an unchanged history leaves every file untouched
        write_json(out_dir / CHECKSUMS, fresh)
    return ValidationReport(results, tuple(acknowledged), validated, fingerprint, rebuilt)


def _remove_stale(out_dir: Path, md5s: set[str]) -> None:
    """Delete cached results of batches no longer ingested (only files named <md5>.*)."""
    if not out_dir.exists():
        return
    for path in out_dir.iterdir():
        if _CACHE_NAME.match(path.name) and path.name.split(".", 1)[0] not in md5s:
            path.unlink()


def quarantined_rows(out_dir: Path, records: Iterable[BatchRecord]) -> pd.DataFrame:
    """Rows curate must exclude, one per (batch, line) with its row_id: quarantined rows of
    batches still present and every row of a failed batch (acknowledged or not)."""
    frames = []
    for record in records:
        if record.status != "ingested":
            continue
        path = Path(out_dir) / f"{record.md5}.parquet"
        if not path.exists():
            raise DatawheelError(
                f"{record.path}: no validation result {path}; run the validate stage first"
            )
        frames.append(pd.read_parquet(path, columns=["row_id", "batch", "line"]))
    if not frames:
        return _empty_quarantine()[["row_id", "batch", "line"]]
    rows = pd.concat(frames, ignore_index=True).drop_duplicates(ignore_index=True)
    return rows.sort_values(["batch", "line"], kind="stable", ignore_index=True)


def quarantined_row_ids(out_dir: Path, records: Iterable[BatchRecord]) -> set[str]:
    """Row ids curate must exclude (see quarantined_rows).

    Row ids are content hashes, so an identical row delivered in another batch has the same
    id and is excluded with it; filter on (batch, line) from quarantined_rows to avoid that.
    """
    return set(quarantined_rows(out_dir, records)["row_id"].astype(str))


def raise_if_failed(report: ValidationReport) -> None:
    """Raise ValidationFailed naming the failed batches nobody has acknowledged."""
    stopping = report.failed_batches
    if not stopping:
        return
    names = {b.batch for b in stopping}
    lines = [
        line
        for line in summary_lines(report)
        if "[acknowledged]" not in line and line.split(":", 1)[0] in names
    ]
    first = lines[0] if lines else ", ".join(sorted(names))
    more = f" (and {len(lines) - 1} more failures)" if len(lines) > 1 else ""
    raise ValidationFailed(
        f"{len(stopping)} batch(es) failed critical data tests: {first}{more}; "
        "fix upstream and add a corrected batch, or list the batch in params.yaml "
        "validate.acknowledged_batches"
    )


# --- the failures as text: the stage's log and ValidationFailed -------------------------


def _rows_text(outcome: ExpectationOutcome) -> str:
    if outcome.unexpected_count is not None and outcome.element_count:
        return f"{outcome.unexpected_count:,} of {outcome.element_count:,} rows"
    if outcome.message:
        return outcome.message
    if outcome.observed_value is not None:
        return outcome.observed_text
    return "failed"


def summary_lines(report: ValidationReport) -> list[str]:
    """One line per failed expectation: batch, column, rule, severity and failing rows."""
    lines = []
    for batch in report.batches:
        tag = (
            " [acknowledged]"
            if batch.status == "failed" and report.is_acknowledged(batch.batch)
            else ""
        )
        for outcome in batch.failures:
            where = f"column {outcome.column!r}" if outcome.column else "batch"
            small = ", rows quarantined: small batch" if outcome.small_batch else ""
            lines.append(
                f"{batch.batch}: {where} failed rule {outcome.expectation_type!r} "
                f"({outcome.severity}{small}): {_rows_text(outcome)}{tag}"
            )
    return lines
