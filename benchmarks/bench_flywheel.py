"""Benchmark: the flywheel end to end, from a new day's data commit to a gate decision.

    python benchmarks/bench_flywheel.py [--sizes 100000,1000000,5000000] [--rows-per-day 10000]
        [--gate-size 1000000] [--keep] [--json out.json] [--workdir DIR]

For each history size N it builds a real project in a temporary folder, as the end-to-end
tests do (`init_repo` with a local DVC remote, the shipped params.yaml: the model is not
shrunk), and writes the history with the built-in stream (seed 7, CSV): N / --rows-per-day
days, but at least 8 days (the 7-day hold-out needs a day of training data) and at most
200 days, so 5,000,000 rows are 200 days of 25,000 rows. Then `dvc add data/raw`, a commit,
the first `dvc repro` ("first build", every batch read and validated) and a commit of its
results, so the working tree is clean. At the gate size (--gate-size, default 1,000,000, or
the largest size given) the first model is promoted with `datawheel promote` to a bare
`origin`, so the next gate re-scores a real champion with its bootstrap, as every run after
the first does. Then ONE new day of --rows-per-day rows is simulated, added and committed,
and `dvc repro` is timed: the whole pipeline at the gate size, `dvc repro validate` (ingest
and validate) at the other sizes. The figures:

1. the incremental `dvc repro` at the gate size: a new data commit to a gate decision
   (reports/gate.json), aim < 60 s;
2. ingest and validate of that one new day at every size, from the stages' own profile
   (below); each stage's time divided by its time at the smallest size should stay flat
   ("met" at most 1.5x: the machine is shared, so a few tenths of a second are noise);
3. framework overhead: the incremental `dvc repro` against a bare script (`bare_script`
   below, run as a fresh `python -c` so its imports count as the stages' do) that reads the
   raw CSVs the pipeline's 28-day window covers with pandas (pyarrow engine), makes the same
   window and 7-day hold-out split by event_time, fits the same scikit-learn pipeline
   (median / most-frequent imputing, one-hot, HistGradientBoosting with params.yaml's
   values), predicts the hold-out and scores its ROC AUC (best of 3 runs, as it is cheap);
   aim at most 1.5x. The pipeline does more than the script (data tests, label-issue
   search, champion re-scoring with a bootstrap, plots), all counted as overhead. Also a fresh
   project holding only those window files, its whole `dvc repro` from scratch against the
   same bare script;
4. `dvc repro` again with nothing changed;
5. rows/s of the shipped suites through Great Expectations (datawheel's SuiteRunner, the
   stage's code path) against the same checks written as vectorised pandas
   (`pandas_checks`), on the new day's batch (as the stage runs it) and on every ingested row
   at once (about N rows, named without a date, so the suites' day-bound check on event_time
   is skipped on both sides). The per-rule outcomes and counts of both are compared, there
   and on three batches with injected faults (null_burst; out_of_range with duplicates;
   bad_label), where the quarantined row ids must match too;
6. peak RSS of each stage's process (ru_maxrss) against the in-memory size of the training
   frame (`data/curated/train.parquet`, `memory_usage(deep=True)`).

Stage times and peak memory come from run_stage's opt-in profile hook: with
DATAWHEEL_PROFILE naming a file (here a temporary file outside the project), every stage
appends `{stage, seconds (since its process started, imports included), body_seconds,
peak_rss_mb}`. "DVC" in the stage table is the `dvc repro` time the stages do not account
for (DVC's start-up, hashing and caching outputs, the lock file). Each `dvc repro` row also
shows the CPU time of all its processes and the load average before it: on a shared machine
a wall time far above the CPU time means the run waited for the CPU (scikit-learn's OpenMP
threads suffer most), so compare runs made at similar load.

Prints step lines while it builds, then the machine and two tables; --json writes every
figure. Not a test: nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import inspect
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

START = dt.date(2026, 1, 1)
SEED = 7
MIN_HISTORY_DAYS = 8
MAX_HISTORY_DAYS = 200
STAGES = ("ingest", "validate", "curate", "train", "evaluate")
AIM_GATE_SECONDS = 60.0
AIM_OVERHEAD = 1.5
FLAT_LIMIT = 1.5
BARE_REPEAT = 3
VERSIONS = ("dvc", "great-expectations", "scikit-learn", "pandas", "pyarrow")


# --- setting up -------------------------------------------------------------------------------


class Clock:
    """Step lines with the time since the benchmark started, so long set-up is visible."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def step(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.started:7.1f} s] {message}", flush=True)


def history_shape(rows: int, rows_per_day: int) -> tuple[int, int]:
    """Days and rows per day of a history of about `rows` rows (see the module docstring)."""
    days = min(max(round(rows / rows_per_day), MIN_HISTORY_DAYS), MAX_HISTORY_DAYS)
    return days, round(rows / days)


def git(root: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def commit_all(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "--allow-empty", "-m", message)


def add_data(root: Path, message: str) -> None:
    from datawheel.io.process import dvc

    dvc("add", "--quiet", "data/raw", cwd=root)
    commit_all(root, message)


@dataclass
class Run:
    """One `dvc repro` and what its stages reported through the profile hook."""

    seconds: float
    cpu_seconds: float  # user + system time of every process the run started
    load_average: float  # the 1-minute load average just before: the machine is shared
    stages: dict[str, dict] = field(default_factory=dict)

    @property
    def dvc_seconds(self) -> float:
        """The part of the run no stage process accounts for."""
        return self.seconds - sum(s["seconds"] for s in self.stages.values())

    def to_dict(self) -> dict:
        return {
            "seconds": self.seconds,
            "cpu_seconds": self.cpu_seconds,
            "load_average": self.load_average,
            "dvc_seconds": self.dvc_seconds,
            "stages": self.stages,
        }


def repro(root: Path, profile: Path, *targets: str) -> Run:
    """Time `dvc repro [targets]` with the stages' profile hook writing to `profile`."""
    from datawheel.io.process import dvc

    profile.unlink(missing_ok=True)
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    os.environ["DATAWHEEL_PROFILE"] = str(profile)
    try:
        started = time.perf_counter()
        dvc("repro", *targets, cwd=root)
        seconds = time.perf_counter() - started
    finally:
        del os.environ["DATAWHEEL_PROFILE"]
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    records = (
        [json.loads(line) for line in profile.read_text().splitlines()] if profile.exists() else []
    )
    return Run(seconds, cpu, load, {r["stage"]: r for r in records})


def promote_first_model(root: Path, clock: Clock) -> str:
    """A bare `origin` and `datawheel promote`, so the next gate has a champion to beat."""
    from datawheel.registry.promote import promote

    origin = root.parent / f"{root.name}-origin.git"
    subprocess.run(
        ["git", "init", "--quiet", "--bare", "--initial-branch=main", str(origin)], check=True
    )
    git(root, "remote", "add", "origin", str(origin))
    git(root, "push", "--quiet", "origin", "main")
    outcome = promote(root)
    commit_all(root, "bench: after promotion")
    clock.step(f"  promote: {outcome.result} {outcome.version or ''} {outcome.message[:80]}")
    return outcome.result


# --- the bare script (item 3) -----------------------------------------------------------------


def bare_script(root: str) -> dict:
    """What the pipeline computes, as a plain script: read, window, split, fit, predict, score.

    Self-contained (its source is run in a fresh interpreter), pandas and scikit-learn only.
    """
    import time

    started = time.perf_counter()
    from pathlib import Path

    import pandas as pd
    import yaml
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    numeric = ["tenure_months", "monthly_charges", "support_calls", "data_usage_gb", "age"]
    categorical = ["region", "plan", "contract_type", "payment_method"]
    params = yaml.safe_load((Path(root) / "params.yaml").read_text())
    window_days, holdout_days = params["window"]["days"], params["split"]["holdout_days"]
    model = params["model"]

    files = sorted((Path(root) / "data" / "raw").glob("*.csv"))
    newest = pd.Timestamp(files[-1].stem, tz="UTC")
    if window_days:  # one file per day: the window's files, then the window by event time
        files = [
            f
            for f in files
            if pd.Timestamp(f.stem, tz="UTC") > newest - pd.Timedelta(days=window_days)
        ]
    frame = pd.concat([pd.read_csv(f, engine="pyarrow") for f in files], ignore_index=True)
    event_time = pd.to_datetime(frame["event_time"], utc=True)
    end = event_time.max().floor("D") + pd.Timedelta(days=1)
    if window_days:
        inside = (event_time >= end - pd.Timedelta(days=window_days)) & (event_time < end)
        frame, event_time = frame[inside], event_time[inside]
    is_holdout = event_time >= end - pd.Timedelta(days=holdout_days)

    features = frame[numeric].astype("float64").join(frame[categorical].astype(object))
    labels = frame["churned"].to_numpy()
    pipeline = Pipeline(
        [
            (
                "preprocess",
                ColumnTransformer(
                    [
                        ("numeric", SimpleImputer(strategy="median"), numeric),
                        (
                            "categorical",
                            Pipeline(
                                [
                                    ("impute", SimpleImputer(strategy="most_frequent")),
                                    (
                                        "onehot",
                                        OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                                    ),
                                ]
                            ),
                            categorical,
                        ),
                    ]
                ),
            ),
            (
                "model",
                HistGradientBoostingClassifier(
                    random_state=model["seed"], **model["hist_gradient_boosting"]
                ),
            ),
        ]
    )
    train = ~is_holdout.to_numpy()
    pipeline.fit(features[train], labels[train])
    proba = pipeline.predict_proba(features[~train])[:, 1]
    return {
        "files": len(files),
        "rows": len(frame),
        "train_rows": int(train.sum()),
        "holdout_rows": int((~train).sum()),
        "roc_auc": float(roc_auc_score(labels[~train], proba)),
        "seconds_in_process": time.perf_counter() - started,
    }


def run_bare_script(root: Path, repeat: int = BARE_REPEAT) -> dict:
    """bare_script in a fresh interpreter, best of `repeat`; the wall time includes start-up
    and imports. It is cheap, so repeating it keeps one unlucky moment on a shared machine
    from flattering the pipeline."""
    code = (
        inspect.getsource(bare_script)
        + f"\nimport json\nprint(json.dumps(bare_script({str(root)!r})))\n"
    )
    best: dict = {}
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if not best or seconds < best["seconds"]:
            figures = json.loads(result.stdout.strip().splitlines()[-1])
            best = {"seconds": seconds, "cpu_seconds": cpu, **figures}
    return best | {"repeat": repeat}


def window_files(root: Path, window_days: int) -> list[Path]:
    """The raw day files the pipeline's window covers (the newest `window_days` days)."""
    files = sorted((root / "data/raw").glob("*.csv"))
    newest = dt.date.fromisoformat(files[-1].stem)
    return [f for f in files if (newest - dt.date.fromisoformat(f.stem)).days < window_days]


# --- validation throughput (item 5) -------------------------------------------------------------


def _resolve(value: Any, parameters: dict[str, str]) -> Any:
    if isinstance(value, dict) and "$PARAMETER" in value:
        return parameters[value["$PARAMETER"]]
    return value


def _dtype_is(series, type_name: str) -> bool:
    from pandas.api import types

    checks = {
        "str": types.is_string_dtype,
        "int64": types.is_integer_dtype,
        "float64": types.is_float_dtype,
        "Timestamp": types.is_datetime64_any_dtype,
    }
    return bool(checks[type_name](series.dtype))


def pandas_checks(frame, suites: list[dict], parameters: dict[str, str]) -> dict[str, dict]:
    """The suites' checks as vectorised pandas: per rule its success, unexpected count and,
    for critical row-level failures, the failing row ids (what the stage quarantines)."""
    import pandas as pd

    n = len(frame)
    results: dict[str, dict] = {}
    for suite in suites:
        for config in suite["expectations"]:
            kind, kwargs = config["type"], config["kwargs"]
            column = kwargs.get("column")
            rule = "/".join([suite["name"], kind] + ([column] if column else []))
            if any(
                isinstance(v, dict) and v.get("$PARAMETER") not in parameters
                for v in kwargs.values()
            ):
                continue  # as SuiteRunner: a day-bound check on a batch not named by a date
            values = frame[column] if column else None
            unexpected = None
            success = None
            if kind == "expect_column_values_to_not_be_null":
                unexpected = values.isna()
            elif kind == "expect_column_values_to_be_in_set":
                unexpected = values.notna() & ~values.isin(kwargs["value_set"])
            elif kind == "expect_column_values_to_be_between":
                low, high = (
                    _resolve(kwargs.get(k), parameters) for k in ("min_value", "max_value")
                )
                if pd.api.types.is_datetime64_any_dtype(values.dtype):
                    low, high = pd.Timestamp(low), pd.Timestamp(high)
                below = values <= low if kwargs.get("strict_min") else values < low
                above = values >= high if kwargs.get("strict_max") else values > high
                unexpected = (below | above).fillna(False).astype(bool)
            elif kind == "expect_column_values_to_be_increasing":
                step = values.diff()
                bad = step <= pd.Timedelta(0) if kwargs.get("strictly") else step < pd.Timedelta(0)
                unexpected = bad.fillna(False).astype(bool)
            elif kind == "expect_column_values_to_be_unique":
                unexpected = values.notna() & values.duplicated(keep=False)
            elif kind == "expect_column_values_to_match_regex":
                unexpected = values.notna() & ~values.str.contains(kwargs["regex"], regex=True)
                unexpected = unexpected.fillna(False).astype(bool)
            elif kind == "expect_column_values_to_be_of_type":
                success = _dtype_is(values, kwargs["type_"])
            elif kind == "expect_column_mean_to_be_between":
                success = kwargs["min_value"] <= float(values.mean()) <= kwargs["max_value"]
            elif kind == "expect_table_columns_to_match_set":
                success = set(frame.columns) == set(kwargs["column_set"])
            elif kind == "expect_table_row_count_to_be_between":
                success = kwargs["min_value"] <= n <= kwargs["max_value"]
            else:
                raise ValueError(f"pandas_checks: add {kind} to match the suites")
            result: dict[str, Any] = {"success": success, "unexpected_count": None}
            if unexpected is not None:
                count = int(unexpected.sum())
                checked = (
                    n
                    if kind == "expect_column_values_to_not_be_null"
                    else int(values.notna().sum())
                )
                mostly = kwargs.get("mostly", 1.0)
                result["success"] = checked == 0 or (checked - count) / checked >= mostly
                result["unexpected_count"] = count
                if config.get("severity", "critical") == "critical" and count:
                    result["row_ids"] = frame.loc[unexpected.to_numpy(), "row_id"].tolist()
            results[rule] = result
    return results


def best_of(repeat: int, function, *args):
    best, value = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        value = function(*args)
        best = min(best, time.perf_counter() - started)
    return best, value


def disagreements(gx_result, pandas_result: dict[str, dict]) -> list[str]:
    """Rules on which GX and the pandas checks differ (success, or unexpected count)."""
    out = []
    gx_rules = {o.rule: o for o in gx_result.outcomes}
    for rule in sorted(set(gx_rules) | set(pandas_result)):
        gx, pd_ = gx_rules.get(rule), pandas_result.get(rule)
        if gx is None or pd_ is None:
            out.append(f"{rule}: only in {'pandas' if gx is None else 'GX'}")
        elif gx.success != pd_["success"]:
            out.append(f"{rule}: success GX {gx.success}, pandas {pd_['success']}")
        elif pd_["unexpected_count"] is not None and gx.unexpected_count not in (
            None,
            pd_["unexpected_count"],
        ):
            out.append(f"{rule}: {gx.unexpected_count} vs {pd_['unexpected_count']} unexpected")
    return out


INJECTED = ("null_burst", "out_of_range,duplicates", "bad_label")


def injected_agreement(runner, suites: list[dict], contract) -> dict:
    """GX and pandas_checks on batches with known faults: the rules that fail, their counts
    and the quarantined row ids must be the same (clean data alone proves little)."""
    from datawheel.data.contract import read_batch, with_provenance
    from datawheel.data.simulate import csv_text, parse_injection, simulate_day
    from datawheel.pipeline.validate import BATCH_FAILED_RULE, batch_suite_parameters

    day = START
    name = f"data/raw/{day}.csv"
    out = {"batches": len(INJECTED), "failing_rules": 0, "disagreements": []}
    for kinds in INJECTED:
        injections = [parse_injection(f"{kind}@0", day) for kind in kinds.split(",")]
        data = csv_text(simulate_day(day, 3_000, SEED, injections)).encode()
        typed, lines = read_batch(data, name, contract)
        frame = with_provenance(typed, name, "0" * 32, lines)
        gx = runner.validate(frame, name)
        checks = pandas_checks(frame, suites, batch_suite_parameters(name))
        out["failing_rules"] += sum(not o.success for o in gx.outcomes)
        out["disagreements"] += [f"{kinds}: {line}" for line in disagreements(gx, checks)]
        quarantined = gx.quarantine
        gx_ids = set(quarantined.loc[quarantined["rule"] != BATCH_FAILED_RULE, "row_id"])
        pandas_ids = {i for result in checks.values() for i in result.get("row_ids", ())}
        if gx_ids != pandas_ids:
            out["disagreements"].append(
                f"{kinds}: quarantined rows GX {len(gx_ids)}, pandas {len(pandas_ids)}"
            )
    return out


def validation_throughput(root: Path, new_batch: str, clock: Clock) -> dict:
    """Item 5: GX through SuiteRunner against pandas_checks, on one day and on every row."""
    from datawheel.config.params import load_params
    from datawheel.data.batches import load_ingested, read_manifest
    from datawheel.pipeline.validate import SuiteRunner, batch_suite_parameters, load_suites

    records = read_manifest(root / "data/ingested")
    day = next(r for r in records if r.path == new_batch)
    import pandas as pd

    day_frame = pd.read_parquet(root / "data/ingested" / f"{day.md5}.parquet")
    everything = load_ingested(root / "data/ingested", records)
    suites = load_suites(root / "expectations")  # imports GX
    out: dict[str, Any] = {"expectations": sum(len(s["expectations"]) for s in suites)}

    started = time.perf_counter()
    runner = SuiteRunner(suites)
    runner.validate(day_frame, day.path)
    out["gx_first_day_seconds"] = time.perf_counter() - started  # context, data source, asset
    for name, frame, batch in (
        ("day", day_frame, day.path),
        ("all", everything, "history"),
    ):
        clock.step(f"  validation throughput: {len(frame):,} rows ({name}), GX then pandas")
        repeat = 3 if name == "day" else 1
        gx_seconds, gx_result = best_of(repeat, runner.validate, frame, batch)
        parameters = batch_suite_parameters(batch)
        pd_seconds, pd_result = best_of(3, pandas_checks, frame, suites, parameters)
        out[name] = {
            "rows": len(frame),
            "gx_seconds": gx_seconds,
            "pandas_seconds": pd_seconds,
            "gx_rows_per_second": len(frame) / gx_seconds,
            "pandas_rows_per_second": len(frame) / pd_seconds,
            "rules": len(pd_result),
            "disagreements": disagreements(gx_result, pd_result),
        }
    clock.step("  validation: GX and pandas on batches with injected faults")
    contract = load_params(root / "params.yaml").contract
    out["injected"] = injected_agreement(runner, suites, contract)
    return out


# --- one history size -----------------------------------------------------------------------


def memory_mb(path: Path) -> float:
    import pandas as pd

    return float(pd.read_parquet(path).memory_usage(deep=True).sum()) / 2**20


def bench_size(
    workdir: Path, size: int, rows_per_day: int, full: bool, clock: Clock
) -> dict[str, Any]:
    """Build the project of one history size and take its figures (see the docstring)."""
    from datawheel.config.params import load_params
    from datawheel.data.simulate import simulate
    from datawheel.io.files import read_json
    from datawheel.project.scaffold import init_repo

    root = workdir / f"project-{size}"
    profiles = workdir / "profiles"
    profiles.mkdir(exist_ok=True)
    days, history_rows_per_day = history_shape(size, rows_per_day)
    out: dict[str, Any] = {
        "size": size,
        "project": str(root),
        "history_days": days,
        "history_rows_per_day": history_rows_per_day,
        "full_pipeline": full,
    }
    clock.step(f"{size:,} rows: project, {days} days x {history_rows_per_day:,} rows")
    init_repo(root, remote=workdir / f"dvc-remote-{size}")
    simulate(root / "data/raw", START, days, history_rows_per_day, SEED, "csv")
    add_data(root, f"data: {days} days")
    clock.step(f"{size:,} rows: first build (dvc repro)")
    first = repro(root, profiles / f"{size}-first.jsonl")
    out["first_build"] = first.to_dict()
    manifest = read_json(root / "data/ingested/manifest.json")
    out["history_rows"] = sum(b["rows"] for b in manifest["batches"].values())
    clock.step(f"{size:,} rows: first build took {first.seconds:.1f} s")
    commit_all(root, "bench: history results")
    if full:
        out["promote"] = promote_first_model(root, clock)

    new_day = START + dt.timedelta(days=days)
    simulate(root / "data/raw", new_day, 1, rows_per_day, SEED, "csv")
    add_data(root, f"data: {new_day}")
    targets = () if full else ("validate",)
    clock.step(f"{size:,} rows: new day {new_day}: dvc repro {' '.join(targets)}")
    incremental = repro(root, profiles / f"{size}-incremental.jsonl", *targets)
    out["incremental"] = incremental.to_dict()
    out["new_day"] = {"batch": f"data/raw/{new_day}.csv"}
    manifest = read_json(root / "data/ingested/manifest.json")
    out["new_day"]["rows"] = manifest["batches"][out["new_day"]["batch"]]["rows"]
    clock.step(f"{size:,} rows: incremental run took {incremental.seconds:.1f} s")
    if not full:
        return out

    out["gate"] = read_json(root / "reports/gate.json")["decision"]
    out["candidate_roc_auc"] = read_json(root / "reports/metrics.json")["candidate"]["roc_auc"]
    out["train_frame_mb"] = memory_mb(root / "data/curated/train.parquet")
    out["holdout_frame_mb"] = memory_mb(root / "data/curated/holdout.parquet")
    clock.step(f"{size:,} rows: no-op dvc repro")
    out["noop"] = repro(root, profiles / f"{size}-noop.jsonl").to_dict()

    clock.step(f"{size:,} rows: bare script (pandas + scikit-learn)")
    out["bare_script"] = run_bare_script(root)

    params = load_params(root / "params.yaml")
    window = window_files(root, params.window.days)
    scratch = workdir / f"project-{size}-window"
    clock.step(f"{size:,} rows: the window's {len(window)} files from scratch (dvc repro)")
    init_repo(scratch, remote=workdir / f"dvc-remote-{size}-window")
    (scratch / "data/raw").mkdir(parents=True, exist_ok=True)
    for path in window:
        shutil.copy2(path, scratch / "data/raw" / path.name)
    add_data(scratch, "data: the window")
    out["window_from_scratch"] = repro(scratch, profiles / f"{size}-window.jsonl").to_dict()
    out["window_from_scratch"]["project"] = str(scratch)

    out["validation"] = validation_throughput(root, out["new_day"]["batch"], clock)
    return out


# --- reporting --------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    ram_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            ram_kb = int(line.split()[1])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": round(ram_kb / 2**20, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "os": platform.platform(),
        "python": platform.python_version(),
        **{name: importlib.metadata.version(name) for name in VERSIONS},
    }


def yes_no(met: bool) -> str:
    return "[green]yes[/]" if met else "[red]no[/]"


def summary_rows(results: list[dict]) -> list[tuple[str, str, str, str, str]]:
    """The table's rows: item, history rows, value, aim, met?"""
    rows: list[tuple[str, str, str, str, str]] = []
    smallest = results[0]
    full = next(r for r in results if r["full_pipeline"])
    hist = lambda r: f"{r['history_rows']:,}"  # noqa: E731

    inc = full["incremental"]
    rows.append(
        (
            "1. new day -> gate decision (dvc repro)",
            hist(full),
            f"{inc['seconds']:.1f} s (gate: {full['gate']})",
            f"< {AIM_GATE_SECONDS:.0f} s",
            yes_no(inc["seconds"] < AIM_GATE_SECONDS),
        )
    )
    for r in results:
        rows.append(
            (
                "   first build (dvc repro, all history)",
                hist(r),
                f"{r['first_build']['seconds']:.1f} s",
                "",
                "",
            )
        )
    for stage in ("ingest", "validate"):
        base = smallest["incremental"]["stages"][stage]
        for r in results:
            s = r["incremental"]["stages"][stage]
            ratio = s["seconds"] / base["seconds"]
            body_ratio = s["body_seconds"] / base["body_seconds"] if base["body_seconds"] else 0
            rows.append(
                (
                    f"2. {stage} of the new day",
                    hist(r),
                    f"{s['seconds']:.1f} s (body {s['body_seconds']:.2f} s); "
                    f"x{ratio:.2f} (body x{body_ratio:.2f})",
                    f"flat (<= x{FLAT_LIMIT})",
                    yes_no(ratio <= FLAT_LIMIT),
                )
            )
    bare = full["bare_script"]
    ratio = inc["seconds"] / bare["seconds"]
    rows.append(
        (
            "3. pipeline (new day) / bare script",
            hist(full),
            f"x{ratio:.2f} ({inc['seconds']:.1f} s / {bare['seconds']:.1f} s, bare best of "
            f"{bare['repeat']}; CPU {inc['cpu_seconds']:.0f} s / {bare['cpu_seconds']:.0f} s)",
            f"<= x{AIM_OVERHEAD}",
            yes_no(ratio <= AIM_OVERHEAD),
        )
    )
    scratch = full["window_from_scratch"]
    scratch_ratio = scratch["seconds"] / bare["seconds"]
    rows.append(
        (
            "   pipeline from scratch on the window / bare",
            f"{bare['rows']:,}",
            f"x{scratch_ratio:.2f} ({scratch['seconds']:.1f} s / {bare['seconds']:.1f} s)",
            f"<= x{AIM_OVERHEAD}",
            yes_no(scratch_ratio <= AIM_OVERHEAD),
        )
    )
    rows.append(
        (
            "   ROC AUC: pipeline / bare script",
            hist(full),
            f"{full['candidate_roc_auc']:.4f} / {bare['roc_auc']:.4f}",
            "",
            "",
        )
    )
    rows.append(("4. no-op dvc repro", hist(full), f"{full['noop']['seconds']:.1f} s", "", ""))
    validation = full["validation"]
    for name, label in (("day", "one day's batch"), ("all", "every ingested row")):
        v = validation[name]
        agree = "agree" if not v["disagreements"] else f"{len(v['disagreements'])} differ"
        rows.append(
            (
                f"5. validation rows/s, {label}",
                f"{v['rows']:,}",
                f"GX {v['gx_rows_per_second']:,.0f} ({v['gx_seconds']:.2f} s), pandas "
                f"{v['pandas_rows_per_second']:,.0f} ({v['pandas_seconds']:.3f} s); "
                f"x{v['gx_seconds'] / v['pandas_seconds']:.0f}; {v['rules']} rules {agree}",
                "",
                "",
            )
        )
    injected = validation["injected"]
    rows.append(
        (
            "   GX = pandas on injected faults",
            "",
            f"{injected['batches']} batches, {injected['failing_rules']} failing rules: "
            + (
                "outcomes, counts and quarantined rows agree"
                if not injected["disagreements"]
                else f"{len(injected['disagreements'])} differences"
            ),
            "",
            "",
        )
    )
    rows.append(
        (
            "   GX set-up + first batch",
            "",
            f"{validation['gx_first_day_seconds']:.1f} s",
            "",
            "",
        )
    )
    train_mb = full["train_frame_mb"]
    rows.append(("6. training frame in memory", hist(full), f"{train_mb:.0f} MB", "", ""))
    for stage in STAGES:
        first = full["first_build"]["stages"][stage]["peak_rss_mb"]
        again = full["incremental"]["stages"][stage]["peak_rss_mb"]
        rows.append(
            (
                f"6. peak RSS {stage} (first build / new day)",
                hist(full),
                f"{first:,.0f} / {again:,.0f} MB (x{again / train_mb:.1f} the frame)",
                "",
                "",
            )
        )
    return rows


def stage_rows(results: list[dict]) -> list[tuple[str, ...]]:
    out = []
    for r in results:
        phases = [("first build", r["first_build"]), ("new day", r["incremental"])]
        if r["full_pipeline"]:
            phases += [("no-op", r["noop"]), ("window, scratch", r["window_from_scratch"])]
        for phase, run in phases:
            for stage in STAGES:
                s = run["stages"].get(stage)
                if s:
                    out.append(
                        (
                            f"{r['history_rows']:,}",
                            phase,
                            stage,
                            f"{s['seconds']:.2f}",
                            f"{s['body_seconds']:.2f}",
                            f"{s['peak_rss_mb']:,.0f}",
                        )
                    )
            out.append(
                (
                    f"{r['history_rows']:,}",
                    phase,
                    "DVC (rest)",
                    f"{run['dvc_seconds']:.2f}",
                    "",
                    "",
                )
            )
            out.append(
                (
                    f"{r['history_rows']:,}",
                    phase,
                    f"[b]dvc repro[/] (CPU {run['cpu_seconds']:.0f} s, "
                    f"load {run['load_average']:.1f} before)",
                    f"{run['seconds']:.2f}",
                    "",
                    "",
                )
            )
    return out


def print_report(info: dict, results: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=160)
    console.print(
        f"machine: {info['cpu']}, {info['cores']} cores, {info['ram_gib']} GiB RAM, "
        f"load average {info['load_average']} at start, {info['load_average_at_end']} at "
        f"the end, Python {info['python']}; "
        + ", ".join(f"{name} {info[name]}" for name in VERSIONS),
        highlight=False,
    )
    table = Table(title="flywheel benchmark")
    for column, justify in (
        ("item", "left"),
        ("history rows", "right"),
        ("seconds / value", "left"),
        ("aim", "left"),
        ("met?", "left"),
    ):
        table.add_column(column, justify=justify)
    for row in summary_rows(results):
        table.add_row(*row)
    console.print(table)
    stages = Table(title="per stage (profile hook): process seconds, body seconds, peak RSS")
    for column in ("history rows", "run", "stage", "process s", "body s", "peak RSS MB"):
        stages.add_column(column, justify="left" if column in ("run", "stage") else "right")
    for row in stage_rows(results):
        stages.add_row(*row)
    console.print(stages)
    for r in results:
        if r["full_pipeline"]:
            for name in ("day", "all", "injected"):
                for line in r["validation"][name]["disagreements"]:
                    console.print(f"[yellow]GX and pandas differ ({name}): {line}[/]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--sizes",
        default="100000,1000000,5000000",
        help="history sizes in rows, comma-separated",
    )
    parser.add_argument("--rows-per-day", type=int, default=10_000)
    parser.add_argument(
        "--gate-size",
        type=int,
        default=1_000_000,
        help="the size that runs the whole pipeline (default 1,000,000, else the largest)",
    )
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="Keep the projects afterwards.")
    parser.add_argument("--json", type=Path, default=None, help="Write every figure here.")
    args = parser.parse_args()
    sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()})
    gate_size = args.gate_size if args.gate_size in sizes else sizes[-1]

    clock = Clock()
    info = machine()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="datawheel-bench-flywheel-"))
    workdir.mkdir(parents=True, exist_ok=True)
    clock.step(f"sizes {sizes}, whole pipeline at {gate_size:,}; work in {workdir}")
    results = []
    try:
        for size in sizes:
            results.append(bench_size(workdir, size, args.rows_per_day, size == gate_size, clock))
        info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        print_report(info, results)
        if args.json:
            args.json.write_text(
                json.dumps(
                    {"machine": info, "args": vars(args) | {"sizes": sizes}, "sizes": results},
                    indent=2,
                    default=str,
                )
                + "\n"
            )
    finally:
        if args.keep:
            print(f"projects kept in {workdir}:", file=sys.stderr)
            for path in sorted(workdir.glob("project-*[0-9w]")):  # not the bare origins
                print(f"  {path}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
