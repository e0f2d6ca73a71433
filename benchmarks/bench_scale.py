"""Benchmark: the pipeline at scale, pandas against Spark (issue 18).

    python benchmarks/bench_scale.py [--sizes 1000000,10000000,50000000] [--engines pandas,spark]
        [--days 30] [--json benchmarks/scale.json] [--markdown benchmarks/RESULTS-scale.md]
        [--workdir DIR] [--keep]

For each history size N and each engine it builds a real project the way
bench_flywheel.py does (its helpers are imported, not copied: `init_repo` with a local DVC
remote, the shipped params.yaml, the model not shrunk), with the built-in stream (seed 7,
CSV) as --days days of N / days rows, then:

1. "first build": `dvc add data/raw`, a commit, `dvc repro` from nothing (every batch
   ingested and validated, the window curated, a model trained and evaluated), a commit;
2. "new day": one more day of the same rows per day, added and committed, `dvc repro`.

The engines get the same raw bytes (the size's history is simulated once and copied into
each project) and the same params.yaml but for `engine.name` (`engine.spark` is the shipped
one: master local[2], conf {}). `engine` is no stage's parameter, so both projects' dvc.lock
must record the same md5 for every output: the benchmark compares them after each run and
reports it (the engine must not change outputs). No model is promoted, so both projects
stay byte-for-byte comparable (a champion pointer would carry its own commit): every
evaluate here is a first model's, with no champion to re-score.

Per stage: its time from the stages' own profile hook (DATAWHEEL_PROFILE, as
bench_flywheel reads it: seconds since the stage process started, imports included) and
its peak memory: the RSS of the stage process (`python -m stages.X`) plus all its
descendants (the JVM of a Spark stage, joblib workers), sampled from /proc with psutil
every --interval seconds while `dvc repro` runs, and never below the process's own
ru_maxrss from the profile. RSS summed over processes counts shared pages once per process,
so it is an upper bound of what the tree used; a peak shorter than the interval can be
missed, so it is a lower bound of that. "DVC (rest)" is the `dvc repro` time no stage
accounts for.

Results are written after every (size, engine) pair, to --json (which a later run resumes
from: pairs already there are skipped) and to --markdown. Not a test: nothing here asserts
on time, and pytest does not collect it (testpaths is `tests`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import contextlib

from bench_flywheel import (  # noqa: E402
    SEED,
    STAGES,
    START,
    Clock,
    add_data,
    commit_all,
    history_shape,
    machine,
    repro,
)

ENGINES = ("pandas", "spark")
VERSIONS = ("pandas", "pyspark", "great-expectations", "scikit-learn", "dvc", "pyarrow")
DEFAULT_SIZES = "1000000,10000000,50000000"
PHASES = (("first", "first build"), ("new_day", "new day"))


# --- peak memory of each stage's process tree ------------------------------------------------


class StageMemory(threading.Thread):
    """Samples this process's descendants; for every `python -m stages.X` among them, the
    largest RSS sum of it and its own descendants (the JVM, workers) seen, in MB."""

    def __init__(self, interval: float) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peaks: dict[str, float] = {}
        self.child_peaks: dict[str, float] = {}  # the descendants alone (JVM, workers)
        self._done = threading.Event()

    @staticmethod
    def stage_of(proc) -> str | None:
        try:
            cmd = proc.cmdline()
        except Exception:  # gone, or not ours to read
            return None
        for i, arg in enumerate(cmd[:-1]):
            if arg == "-m" and cmd[i + 1].startswith("stages."):
                return cmd[i + 1].removeprefix("stages.")
        return None

    def sample(self) -> None:
        import psutil

        me = psutil.Process()
        for proc in me.children(recursive=True):
            stage = self.stage_of(proc)
            if stage is None:
                continue
            try:
                own = proc.memory_info().rss
                children = 0
                for child in proc.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        children += child.memory_info().rss
            except psutil.Error:
                continue
            mb = (own + children) / 2**20
            self.peaks[stage] = max(self.peaks.get(stage, 0.0), mb)
            self.child_peaks[stage] = max(self.child_peaks.get(stage, 0.0), children / 2**20)

    def run(self) -> None:
        while not self._done.is_set():
            # a process vanishing mid-walk: take the next sample
            with contextlib.suppress(Exception):
                self.sample()
            self._done.wait(self.interval)

    def stop(self) -> None:
        self._done.set()
        self.join()


def measured_repro(root: Path, profile: Path, interval: float) -> dict[str, Any]:
    """bench_flywheel's timed `dvc repro` with each stage tree's memory sampled beside it."""
    from datawheel.io.process import CommandFailed

    sampler = StageMemory(interval)
    sampler.start()
    started = time.perf_counter()
    try:
        run = repro(root, profile)
        out = run.to_dict()
    except CommandFailed as exc:
        out = {
            "seconds": time.perf_counter() - started,
            "error": "\n".join(exc.output.strip().splitlines()[-12:]),
            "stages": {},
        }
    finally:
        sampler.stop()
    for stage in STAGES:
        record = out["stages"].get(stage)
        sampled = sampler.peaks.get(stage)
        if record is None and sampled is None:
            continue
        record = out["stages"].setdefault(stage, {"stage": stage, "unfinished": True})
        own = record.get("peak_rss_mb", 0.0)
        record["tree_peak_mb"] = round(max(own, sampled or 0.0), 1)
        record["children_peak_mb"] = round(sampler.child_peaks.get(stage, 0.0), 1)
    return out


# --- one size, one engine ----------------------------------------------------------------------


def lock_outs(root: Path) -> dict[str, str]:
    """md5 of every output of every stage in dvc.lock (as tests/spark/test_pipeline.py)."""
    import yaml

    path = root / "dvc.lock"
    if not path.exists():
        return {}
    lock = yaml.safe_load(path.read_text())
    return {
        out["path"]: out["md5"]
        for stage in lock["stages"].values()
        for out in stage.get("outs", [])
    }


def file_md5s(folder: Path) -> dict[str, str]:
    """md5 of each file of a directory output, to name the file when its .dir md5 differs."""
    import hashlib

    if not folder.is_dir():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def make_raw(workdir: Path, size: int, days: int, clock: Clock) -> tuple[Path, Path, int]:
    """The size's history and its new day, simulated once for both engines."""
    from datawheel.data.simulate import simulate

    days, per_day = history_shape(size, max(1, size // days))
    raw = workdir / f"raw-{size}"
    if not raw.exists():
        clock.step(f"{size:,} rows: simulating {days} days x {per_day:,} rows (+1 new day)")
        tmp = workdir / f"raw-{size}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        simulate(tmp / "history", START, days, per_day, SEED, "csv")
        simulate(tmp / "new_day", START + dt.timedelta(days=days), 1, per_day, SEED, "csv")
        tmp.rename(raw)
    return raw / "history", raw / "new_day", per_day


def copy_files(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.iterdir()):
        shutil.copy2(path, target / path.name)


def curated_rows(root: Path) -> dict[str, int]:
    import pandas as pd

    return {
        name: len(pd.read_parquet(root / f"data/curated/{name}.parquet", columns=["row_id"]))
        for name in ("train", "holdout")
    }


def bench_pair(
    workdir: Path,
    size: int,
    engine: str,
    days: int,
    interval: float,
    clock: Clock,
    save: Callable[[dict], None],
) -> dict[str, Any]:
    """The first build and the new day of one size on one engine; `save` keeps the first
    build's figures while the new day runs."""
    from datawheel.io.files import read_json
    from datawheel.project.scaffold import init_repo
    from datawheel.sandbox.flywheel import set_params

    history, new_day, per_day = make_raw(workdir, size, days, clock)
    root = workdir / f"project-{size}-{engine}"
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(workdir / f"dvc-remote-{size}-{engine}", ignore_errors=True)
    profiles = workdir / "profiles"
    profiles.mkdir(exist_ok=True)
    init_repo(root, remote=workdir / f"dvc-remote-{size}-{engine}")
    set_params(root, {("engine", "name"): engine})
    copy_files(history, root / "data/raw")
    add_data(root, f"data: {len(list(history.iterdir()))} days")
    out: dict[str, Any] = {
        "size": size,
        "engine": engine,
        "history_days": len(list(history.iterdir())),
        "rows_per_day": per_day,
        "project": str(root),
    }
    clock.step(f"{size:,} rows, {engine}: first build (dvc repro)")
    out["first"] = measured_repro(root, profiles / f"{size}-{engine}-first.jsonl", interval)
    out["first"]["outs"] = lock_outs(root)
    out["first"]["curated_files"] = file_md5s(root / "data/curated")
    clock.step(f"{size:,} rows, {engine}: first build {out['first']['seconds']:.1f} s")
    if "error" in out["first"]:
        clock.step(f"  failed: {out['first']['error'][-300:]}")
        return out
    manifest = read_json(root / "data/ingested/manifest.json")
    out["history_rows"] = sum(b["rows"] for b in manifest["batches"].values())
    curation = read_json(root / "reports/curation.json")
    out["curation"] = {k: v for k, v in curation.items() if isinstance(v, int | float)}
    out["window_rows"] = curated_rows(root)  # the first build's window (the estimate's)
    save(out | {"partial": "first build only"})
    commit_all(root, "bench: history results")

    copy_files(new_day, root / "data/raw")
    add_data(root, "data: one new day")
    clock.step(f"{size:,} rows, {engine}: new day (dvc repro)")
    out["new_day"] = measured_repro(root, profiles / f"{size}-{engine}-new_day.jsonl", interval)
    out["new_day"]["outs"] = lock_outs(root)
    out["new_day"]["curated_files"] = file_md5s(root / "data/curated")
    clock.step(f"{size:,} rows, {engine}: new day {out['new_day']['seconds']:.1f} s")
    if "error" in out["new_day"]:
        clock.step(f"  failed: {out['new_day']['error'][-300:]}")
        return out
    manifest = read_json(root / "data/ingested/manifest.json")
    out["new_day_rows"] = sum(b["rows"] for b in manifest["batches"].values()) - out["history_rows"]
    out["new_day_window_rows"] = curated_rows(root)
    out["disk_mb"] = round(sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 2**20, 1)
    return out


# --- reporting ---------------------------------------------------------------------------------


def same_outputs(results: list[dict], size: int, phase: str) -> str:
    """Do the engines' dvc.lock files record the same md5 for every output at this size?"""
    runs = {
        r["engine"]: r[phase]["outs"]
        for r in results
        if r["size"] == size and phase in r and "error" not in r[phase]
    }
    if len(runs) < 2:
        return "one engine only"
    first, *others = runs.values()
    differ = sorted({p for o in others for p in set(first) | set(o) if first.get(p) != o.get(p)})
    files = [r[phase].get("curated_files") for r in results if r["size"] == size and phase in r]
    if "data/curated" in differ and len(files) > 1 and all(files):
        names = sorted({n for f in files for n in f if f.get(n) != files[0].get(n)})
        differ[differ.index("data/curated")] = f"data/curated ({', '.join(names)})"
    if not differ:
        return f"identical ({len(first)} outputs)"
    return f"DIFFER: {', '.join(differ)}"


def fmt_s(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f}"


def fmt_mb(stage: dict | None) -> str:
    """Peak MB of the stage's tree, with its descendants' part (Spark's JVM) in brackets."""
    if not stage or stage.get("tree_peak_mb") is None:
        return "–"
    children = stage.get("children_peak_mb", 0.0)
    return f"{stage['tree_peak_mb']:,.0f}" + (f" ({children:,.0f})" if children >= 1 else "")


def markdown_table(results: list[dict]) -> str:
    lines = [
        "| history rows | engine | stage | first build s | first build peak MB | "
        "new day s | new day peak MB |",
        "|---:|---|---|---:|---:|---:|---:|",
    ]
    for r in sorted(results, key=lambda r: (r["size"], ENGINES.index(r["engine"]))):
        rows = f"{r.get('history_rows', r['size']):,}"
        for stage in STAGES:
            cells = []
            for phase, _ in PHASES:
                s = r.get(phase, {}).get("stages", {}).get(stage)
                seconds = None if not s or s.get("unfinished") else s["seconds"]
                cells += [fmt_s(seconds), fmt_mb(s)]
            lines.append(f"| {rows} | {r['engine']} | {stage} | " + " | ".join(cells) + " |")
        for label, key in (("DVC (rest)", "dvc_seconds"), ("**dvc repro**", "seconds")):
            cells = []
            for phase, _ in PHASES:
                run = r.get(phase)
                value = None if not run or (key == "dvc_seconds" and "error" in run) else run[key]
                text = fmt_s(value)
                if key == "seconds" and run and "error" in run:
                    text += " (failed)"
                elif key == "seconds" and not run and "partial" in r:
                    text = "not run"
                elif key == "seconds" and value is not None:
                    text = f"**{text}**"
                cells += [text, ""]
            lines.append(f"| {rows} | {r['engine']} | {label} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        "| history rows | days × rows/day | window rows (train + hold-out) | "
        "outputs, first build | outputs, new day | started, load before (first, new day) |"
    )
    lines.append("|---:|---|---:|---|---|---|")
    for size in sorted({r["size"] for r in results}):
        r = next(r for r in results if r["size"] == size)
        window = r.get("window_rows")
        lines.append(
            f"| {r.get('history_rows', size):,} | {r['history_days']} × {r['rows_per_day']:,} | "
            + (f"{window['train']:,} + {window['holdout']:,}" if window else "–")
            + f" | {same_outputs(results, size, 'first')} | "
            f"{same_outputs(results, size, 'new_day')} | "
            + "; ".join(
                f"{x['engine']} {x.get('measured_at', '?')[11:16]}, "
                + ", ".join(
                    f"{x[p]['load_average']:.1f}"
                    for p, _ in PHASES
                    if "load_average" in x.get(p, {})
                )
                for x in results
                if x["size"] == size
            )
            + " |"
        )
    return "\n".join(lines) + "\n"


def stage_peak(result: dict, stage: str) -> float:
    """A stage's largest tree peak over the runs of one pair (first build, new day)."""
    return max(
        result[phase]["stages"][stage].get("tree_peak_mb", 0.0)
        for phase, _ in PHASES
        if stage in result.get(phase, {}).get("stages", {})
    )


def pandas_memory_estimate(results: list[dict], ram_gib: float) -> list[str]:
    """Per stage: pandas' peak MB per million rows it holds, and where it would reach the
    machine's RAM. curate, train and evaluate hold the window; ingest and validate a batch."""
    lines = []
    done = [r for r in results if r["engine"] == "pandas" and "window_rows" in r]
    if not done:
        return lines
    if len(done) < 2:
        return lines  # a slope needs two sizes: one size's peak is mostly the fixed base
    small, big = sorted(done, key=lambda r: r["size"])[-2:]
    ram_mb = ram_gib * 1024
    for stage in STAGES:
        peak = stage_peak(big, stage)
        if stage in ("ingest", "validate"):
            held = lambda r: r["rows_per_day"]  # noqa: E731
            unit = "rows per batch"
        else:
            held = lambda r: r["window_rows"]["train"] + r["window_rows"]["holdout"]  # noqa: E731
            unit = "window rows"
        if held(big) <= held(small):
            continue
        slope = (peak - stage_peak(small, stage)) / (held(big) - held(small))
        base = peak - slope * held(big)
        how = f"between {small['size']:,} and {big['size']:,} history rows"
        if slope <= 0:
            continue
        limit_rows = (ram_mb - base) / slope
        history = limit_rows * big["history_rows"] / held(big)
        lines.append(
            f"| {stage} | {peak:,.0f} MB at {held(big):,} {unit} | "
            f"{slope * 1e6:,.0f} MB per 1M {unit} ({how}) | "
            f"~{limit_rows / 1e6:,.0f}M {unit} ≈ {history / 1e6:,.0f}M history rows |"
        )
    return lines


def write_markdown(path: Path, info: dict, results: list[dict], args: argparse.Namespace) -> None:
    versions = ", ".join(f"{name} {info[name]}" for name in VERSIONS)
    text = [
        "# Scale: pandas vs Spark",
        "",
        f"`python benchmarks/bench_scale.py --days {args.days} --sizes ... --engines ...`, "
        f"one size and engine at a time, each run resuming from {args.json} "
        f"(module docstring: what is measured and how). Machine: {info['cpu']}, "
        f"{info['cores']} cores, {info['ram_gib']} GiB RAM, Python {info['python']}, "
        f"{versions}, Java {info.get('java', '?')}. Measured "
        + ", ".join(sorted({r["measured_at"][:10] for r in results if "measured_at" in r}))
        + " (each pair's start time and the 1-minute load average before each `dvc repro` "
        "in the second table).",
        "",
        "Seconds: the stage process from its start (imports included), from the stages' "
        "profile hook. Peak MB: RSS of the stage process and its descendants (Spark's JVM), "
        "sampled; in brackets the part of its descendants (Spark's JVM; cleanlab's or "
        "joblib's workers). Spark: `engine.spark` as shipped (master local[2], no conf).",
        "",
        markdown_table(results),
    ]
    estimate = pandas_memory_estimate(results, info["ram_gib"])
    if estimate:
        text += [
            "pandas' memory, extrapolated linearly from the measured peaks to the machine's "
            f"{info['ram_gib']} GiB (an estimate, not a measurement; same history shape, "
            f"{args.days} days, 28-day window):",
            "",
            "| stage | measured peak (largest pandas size, first build or new day) | "
            "per 1M rows | RAM reached at |",
            "|---|---|---|---|",
            *estimate,
            "",
        ]
    failed = [
        f"- {r['size']:,} rows, {r['engine']}, {label}: failed: "
        + r[phase]["error"].splitlines()[-1][:200]
        for r in results
        for phase, label in PHASES
        if phase in r and "error" in r[phase]
    ]
    if failed:
        text += ["Failed runs:", "", *failed, ""]
    path.write_text("\n".join(text))


def java_version() -> str:
    import subprocess

    try:
        out = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
        return out.splitlines()[0].split('"')[1]
    except (OSError, IndexError):
        return "not found"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="history rows, comma-separated")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--days", type=int, default=30, help="days of history at every size")
    parser.add_argument("--interval", type=float, default=0.2, help="memory sampling, seconds")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="Keep the projects afterwards.")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/scale.json"))
    parser.add_argument("--markdown", type=Path, default=Path("benchmarks/RESULTS-scale.md"))
    args = parser.parse_args()
    sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()})
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]

    clock = Clock()
    info = machine()
    info["date"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    info["java"] = java_version()
    for name in VERSIONS:
        info[name] = importlib.metadata.version(name)
    previous = json.loads(args.json.read_text()) if args.json.exists() else {"results": []}
    # a pair stopped after its first build ("partial") runs again when asked for
    asked = {(s, e) for s in sizes for e in engines}
    results = [
        r
        for r in previous["results"]
        if "partial" not in r or (r["size"], r["engine"]) not in asked
    ]
    done = {(r["size"], r["engine"]) for r in results}
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="datawheel-bench-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    clock.step(f"sizes {sizes}, engines {engines}, {args.days} days; work in {workdir}")
    try:
        for size in sizes:
            for engine in engines:
                if (size, engine) in done:
                    clock.step(f"{size:,} rows, {engine}: in {args.json} already, skipped")
                    continue
                started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")

                def save(result: dict, final: bool = False, started: str = started) -> None:
                    result["measured_at"] = started
                    if final:
                        results.append(result)
                    shown = results if final else [*results, result]
                    args.json.write_text(
                        json.dumps({"machine": info, "results": shown}, indent=2, default=str)
                        + "\n"
                    )
                    write_markdown(args.markdown, info, shown, args)

                result = bench_pair(workdir, size, engine, args.days, args.interval, clock, save)
                result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
                save(result, final=True)
                if not args.keep:
                    shutil.rmtree(result["project"], ignore_errors=True)
                    shutil.rmtree(workdir / f"dvc-remote-{size}-{engine}", ignore_errors=True)
            if not args.keep:
                shutil.rmtree(workdir / f"raw-{size}", ignore_errors=True)
        print(args.markdown.read_text())
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
