"""Real public datasets as a stream of batches, played end to end as a new user would.

Each dataset ships inside a package installed here (vega_datasets, palmerpenguins,
scikit-learn), so the corpus runs offline. A scenario starts from `datawheel init`, writes
only params.yaml (the contract and a few settings) and expectations/ (suites a user would
write from that contract), then commits data twice; each data commit is retrained by the
project's own `.github/workflows/retrain.yml`, every step as written (install included) in a
fresh clone of origin; then reviews and audits the result with `diff`, `report`, `drift` and
`trace`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import git
import pandas as pd

from datawheel.io.process import command_env, dvc
from datawheel.sandbox.flywheel import set_params
from datawheel.sandbox.workflow import run_steps
from tests.e2e.conftest import FAST_PARAMS

PROVENANCE = {"row_id": "str", "batch": "str", "batch_md5": "str", "line": "int64"}
GX_TYPES = {
    "string": "str",
    "category": "str",
    "int": "int64",
    "float": "float64",
    "datetime": "Timestamp",
    "bool": "bool",
}


@dataclass(frozen=True)
class Dataset:
    """A table and what a user would write for it: the contract and the batch period."""

    name: str
    load: Callable[[], pd.DataFrame]
    contract: Mapping[str, Any]
    period: str  # day, week or month: the batch files are named by it
    history: int  # periods in the first data commit; the next two are the second
    settings: Mapping[tuple[str, ...], Any] = field(default_factory=dict)
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def columns(self) -> Mapping[str, Mapping[str, Any]]:
        return self.contract["columns"]

    @property
    def task(self) -> str:
        return self.contract.get("task", "classification")

    def period_name(self, when: pd.Timestamp) -> str:
        """The batch file stem for an event time: YYYY-MM-DD, YYYY-Www or YYYY-MM."""
        if self.period == "day":
            return when.strftime("%Y-%m-%d")
        if self.period == "week":
            year, week, _ = when.isocalendar()
            return f"{year}-W{week:02d}"
        return when.strftime("%Y-%m")

    def batches(self) -> list[tuple[str, pd.DataFrame]]:
        """The table cut into batches by period of the time column, oldest first."""
        table = self.load()
        times = pd.to_datetime(table[self.contract["time_column"]], utc=True)
        names = times.map(self.period_name)
        return [(name, rows) for name, rows in table.groupby(names, sort=True)]

    def write_batch(self, folder: Path, name: str, rows: pd.DataFrame) -> Path:
        """One CSV as a supplier would export it: ISO UTC times, nulls as the null token."""
        out = rows.copy()
        for column, spec in self.columns.items():
            if spec["type"] == "datetime":
                out[column] = pd.to_datetime(out[column], utc=True).dt.strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                )
        tokens = self.contract.get("null_values") or [""]
        path = folder / f"{name}.csv"
        out.to_csv(path, index=False, na_rep=tokens[0])
        return path

    def suites(self) -> dict[str, dict[str, Any]]:
        """expectations/ as a user writes it from the contract: GX 1.x suite JSON."""
        c = self.contract
        columns = self.columns
        schema = [
            expectation(
                "expect_table_columns_to_match_set",
                {"column_set": [*PROVENANCE, *columns]},
                "critical",
                "The batch has exactly the contract columns plus provenance.",
            )
        ]
        for column, type_ in {
            **PROVENANCE,
            **{n: GX_TYPES[s["type"]] for n, s in columns.items()},
        }.items():
            schema.append(
                expectation(
                    "expect_column_values_to_be_of_type",
                    {"column": column, "type_": type_},
                    "critical",
                    f"{column} is typed as the contract says.",
                )
            )
        nulls = [
            expectation(
                "expect_column_values_to_not_be_null",
                {"column": n},
                "critical",
                f"{n} is non-nullable in the contract.",
            )
            for n, s in columns.items()
            if not s.get("nullable", False)
        ]
        label = []
        if c.get("classes"):
            label.append(
                expectation(
                    "expect_column_values_to_be_in_set",
                    {"column": c["target"], "value_set": list(c["classes"])},
                    "critical",
                    "The label is one of the contract classes.",
                )
            )
        table = self.load()
        domains = [
            expectation(
                "expect_column_values_to_be_in_set",
                {"column": n, "value_set": sorted(table[n].dropna().unique().tolist())},
                "critical",
                f"{n} takes only its known values.",
            )
            for n, s in columns.items()
            if s["type"] == "category"
        ]
        ranges = [
            expectation(
                "expect_column_values_to_be_between",
                {"column": n, "min_value": low, "max_value": high},
                "critical",
                f"{n} lies in [{low}, {high}].",
            )
            for n, (low, high) in self.ranges.items()
        ]
        freshness = [
            expectation(
                "expect_column_values_to_be_between",
                {
                    "column": c["time_column"],
                    "min_value": {"$PARAMETER": "period_start"},
                    "max_value": {"$PARAMETER": "period_end"},
                    "strict_max": True,
                },
                "critical",
                "Events of a batch fall in the period its file name gives.",
            )
        ]
        volume = [
            expectation(
                "expect_table_row_count_to_be_between",
                {
                    "min_value": {"$PARAMETER": "recent_median_rows * 0.2"},
                    "max_value": {"$PARAMETER": "recent_median_rows * 5"},
                },
                "warning",
                "A batch has between 0.2x and 5x the recent median rows.",
            )
        ]
        found = {
            "schema": schema,
            "nulls": nulls,
            "label": label,
            "domains": domains,
            "ranges": ranges,
            "freshness": freshness,
            "volume": volume,
        }
        return {
            name: {"name": name, "expectations": items, "meta": {}}
            for name, items in found.items()
            if items
        }


def expectation(kind: str, kwargs: dict[str, Any], severity: str, why: str) -> dict[str, Any]:
    return {"type": kind, "kwargs": kwargs, "severity": severity, "meta": {"description": why}}


def cli(root: Path, *args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
    """`datawheel ARGS` in the project, as a user runs it; its exit code must be in `ok`."""
    result = subprocess.run(
        [sys.executable, "-m", "datawheel", *args],
        cwd=root,
        env=command_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode in ok, (args, result.returncode, result.stdout, result.stderr)
    return result


def as_json(result: subprocess.CompletedProcess) -> dict[str, Any]:
    return json.loads(result.stdout)


@dataclass
class Played:
    """What a scenario left behind, for each dataset's own assertions."""

    root: Path
    commits: list[str]
    batches: list[list[str]]
    promotions: list[dict[str, Any]]
    diff: dict[str, Any]
    report: dict[str, Any]
    drift: dict[str, Any]
    drift_exit: int
    rows: pd.DataFrame
    entity: str
    entity_trace: dict[str, Any]
    verification: dict[str, Any]
    metrics: dict[str, Any]


def entity_text(value: Any, kind: str) -> str:
    """An id as a user types it on the command line: the form its CSV holds."""
    if kind == "datetime":
        return pd.Timestamp(value).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    if kind == "int":
        return str(int(value))
    return str(value)


def retrain_in_ci(origin: Path, run_dir: Path, sha: str) -> dict[str, Any]:
    """The project's own .github/workflows/retrain.yml, every step as written, in a fresh
    clone of origin: the install step too, which must resolve `requirements.txt` (what init
    wrote) against this environment without an index, as a runner would from PyPI."""
    workspace, temp = run_dir / "workspace", run_dir / "temp"
    temp.mkdir(parents=True)

    def checkout(step, context) -> int:  # setup-python: the runner's Python is this one
        if "actions/checkout" in step.uses:
            git.Repo.clone_from(origin, context["github"]["workspace"], branch="main")
        return 0

    git.Repo.clone_from(origin, run_dir / "workflow")  # the workflow file as pushed
    results = run_steps(
        run_dir / "workflow" / ".github/workflows/retrain.yml",
        "retrain",
        cwd=workspace,
        env={**command_env(), "PIP_NO_INDEX": "1", "GITHUB_RUN_ID": "1"},
        emulate_uses=checkout,
        context={"github": {"sha": sha, "ref": "refs/heads/main", "event_name": "push"}},
        runner_temp=temp,
    )
    failed = [(r.name, r.exit_code, r.output[-2000:]) for r in results if r.outcome != "success"]
    assert not failed, failed
    return json.loads((temp / "promotion.json").read_text())


def play(data: Dataset, tmp_path: Path) -> Played:
    """init, params and suites, two data commits retrained by CI's workflow, review, audit."""
    root, remote = tmp_path / "project", tmp_path / "dvc-remote"
    init = ["init", str(root), "--remote", str(remote), "--model-name", data.name]
    cli(tmp_path, *init, "--task", data.task)
    set_params(root, {("contract",): dict(data.contract), **FAST_PARAMS, **data.settings})
    for old in (root / "expectations").glob("*.json"):
        old.unlink()
    for name, suite in data.suites().items():
        text = json.dumps(suite, indent=2, sort_keys=True) + "\n"
        (root / "expectations" / f"{name}.json").write_text(text)
    repo = git.Repo(root)
    repo.git.add(A=True)
    repo.git.commit("--quiet", "-m", f"{data.name}: contract and suites")
    origin = tmp_path / "origin.git"
    git.Repo.init(origin, bare=True, initial_branch="main")
    repo.create_remote("origin", str(origin))
    repo.git.push("--quiet", "origin", "main")

    stream = data.batches()
    deliveries = [stream[: data.history], stream[data.history : data.history + 2]]
    commits, batches, promotions = [], [], []
    raw = root / "data" / "raw"
    for number, delivery in enumerate(deliveries, start=1):
        for name, rows in delivery:
            data.write_batch(raw, name, rows)
        cli(root, "add", "data/raw")
        repo.git.add(A=True)
        repo.git.commit("--quiet", "-m", f"data: {data.name} delivery {number}")
        dvc("push", "--quiet", cwd=root)
        repo.git.push("--quiet", "origin", "main")
        commits.append(repo.head.commit.hexsha)
        batches.append([name for name, _ in delivery])
        promotions.append(retrain_in_ci(origin, tmp_path / f"ci-{number}", commits[-1]))
        repo.git.pull("--quiet", "--ff-only", "--tags", "origin", "main")
        dvc("pull", "--quiet", cwd=root)

    diff = as_json(cli(root, "diff", commits[0], commits[1], "--json"))
    report = as_json(cli(root, "report", "--base", commits[0], "--head", commits[1], "--json"))
    drifted = cli(root, "drift", "--json", ok=(0, 7))
    rows_file = tmp_path / "v1.0.0-rows.parquet"
    cli(root, "trace", "v1.0.0", "--rows", str(rows_file))
    rows = pd.read_parquet(rows_file)
    id_column = data.contract["id_column"]
    entity = entity_text(rows["entity"].iloc[0], data.columns[id_column]["type"])
    entity_trace = as_json(cli(root, "trace", "--entity", entity, "--json"))
    verification = as_json(cli(root, "trace", "v1.0.0", "--verify", "--json"))["verification"]
    return Played(
        root=root,
        commits=commits,
        batches=batches,
        promotions=promotions,
        diff=diff,
        report=report,
        drift=as_json(drifted),
        drift_exit=drifted.returncode,
        rows=rows,
        entity=entity,
        entity_trace=entity_trace,
        verification=verification,
        metrics=json.loads((root / "reports" / "metrics.json").read_text()),
    )


def check_scenario(data: Dataset, played: Played) -> None:
    """What every dataset must show: the issue's end-to-end list."""
    first, second = played.promotions
    assert first["result"] == "promoted", first
    assert first["version"] == "v1.0.0", first
    assert second["result"] in ("promoted", "held"), second
    tags = git.Repo(played.root).git.tag("--list").split()
    assert f"{data.name}@v1.0.0" in tags, tags
    shown = subprocess.run(
        [str(Path(sys.executable).parent / "gto"), "show", data.name, "--json"],
        cwd=played.root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "v1.0.0" in shown and "prod" in shown, shown
    assert played.report, "report --json printed nothing"
    assert played.drift_exit in (0, 7)
    used = {u["version"] for u in played.entity_trace["versions"]}
    assert "v1.0.0" in used, (played.entity, played.entity_trace)
    assert played.verification["verdict"] == "REPRODUCED", played.verification
    assert played.rows["entity"].notna().all()
