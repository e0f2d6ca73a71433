"""Benchmark: `diff_data` and `build_report` between two versions of a 1,000,000-row dataset.

    python benchmarks/bench_diff.py                      # 100 days x 10,000 rows
    python benchmarks/bench_diff.py --days 30 --rows-per-day 2000 --keep

Builds a real git + DVC project in a temporary folder with the built-in stream: BASE holds
`--days` daily CSV batches; HEAD adds one new day and edits one old day (100 rows dropped,
50 records changed, 100 rows appended). Then it times, in this process:

- diff_data (first call: includes opening DVC and reading two `.dir` manifests);
- diff_data again (the same work, warm imports);
- build_report without the model section (adds the data tests: Great Expectations imported
  and run on the batches read, since the pipeline has not run in this project);
- for comparison, reading and typing every HEAD batch, which a diff that ignored the
  manifests would have to do.

Not a test: nothing here asserts on time. The figures go to benchmarks/RESULTS-diff.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

START = dt.date(2026, 1, 1)
SEED = 7


def build(root: Path, days: int, rows_per_day: int) -> tuple[str, str, dict[str, int]]:
    """The project, BASE and HEAD commits, and what HEAD changed."""
    import git

    from datawheel.data.simulate import csv_text, simulate, simulate_day
    from datawheel.io.process import dvc
    from datawheel.project.scaffold import init_repo

    init_repo(root)
    repo = git.Repo(root)
    raw = root / "data/raw"
    simulate(raw, START, days, rows_per_day, SEED, "csv")
    dvc("add", "--quiet", "data/raw", cwd=root)
    repo.git.add(A=True)
    base = repo.index.commit(f"data: {days} days").hexsha

    simulate(raw, START + dt.timedelta(days=days), 1, rows_per_day, SEED, "csv")
    edited = raw / f"{START + dt.timedelta(days=days // 2)}.csv"
    frame = pd.read_csv(edited, dtype=str, keep_default_na=False)
    day = START + dt.timedelta(days=days // 2)
    donor = pd.read_csv(  # 100 rows of other customers on the same day
        io.StringIO(csv_text(simulate_day(day, 100, SEED + 1).head(100))),
        dtype=str,
        keep_default_na=False,
    )
    frame = frame.drop(index=frame.index[:100])
    frame.loc[frame.index[:50], "monthly_charges"] = "123.45"
    frame = pd.concat([frame, donor], ignore_index=True)
    edited.write_text(frame.to_csv(index=False, lineterminator="\n"), encoding="utf-8")
    dvc("add", "--quiet", "data/raw", cwd=root)
    repo.git.add(A=True)
    head = repo.index.commit("data: one new day, one edited day").hexsha
    return base, head, {"dropped": 100, "edited": 50, "appended": 100}


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def read_everything(root: Path, head: str) -> int:
    """Read and type every HEAD batch: what a manifest-blind diff would pay."""
    from datawheel.data.revisions import Project, load_batch

    rows = 0
    with Project(root) as project:
        at = project.at(head)
        contract = at.params().contract
        for item in at.raw_batches():
            rows += load_batch(at.read_tracked(item), item.path, item.md5, contract).rows
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--rows-per-day", type=int, default=10_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="Keep the project afterwards.")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="datawheel-bench-diff-"))
    root = workdir / "project"
    try:
        (base, head, changed), setup_seconds = timed(build, root, args.days, args.rows_per_day)
        from datawheel.review.diff import diff_data
        from datawheel.review.report import build_report

        first, first_seconds = timed(diff_data, root, base, head)
        _, warm_seconds = timed(diff_data, root, base, head)
        report, report_seconds = timed(build_report, root, base, head, model=False)
        total_rows, everything_seconds = timed(read_everything, root, head)
        rows = first.rows
        read = rows.rows_before + rows.rows_after + first.drift.rows_before
        lines = [
            f"dataset: {args.days} days x {args.rows_per_day:,} rows; HEAD = +1 day, 1 day "
            f"edited ({changed['dropped']} dropped, {changed['edited']} changed, "
            f"{changed['appended']} appended); {total_rows:,} rows at HEAD",
            f"project built in {setup_seconds:.1f} s (simulate, dvc add, commits)",
            "",
            f"{'step':<46} {'seconds':>8}",
            f"{'diff_data (cold: DVC opened, manifests read)':<46} {first_seconds:>8.2f}",
            f"{'diff_data (warm)':<46} {warm_seconds:>8.2f}",
            f"{'build_report, no model (data tests with GX)':<46} {report_seconds:>8.2f}",
            f"{'read + type every HEAD batch (for comparison)':<46} {everything_seconds:>8.2f}",
            "",
            f"batches: {len(first.batches)} changed of {first.head_batches}; rows read for the "
            f"diff: {read:,} (changed batches both sides + {len(first.loaded_reference)} "
            f"reference batches)",
            f"rows: +{rows.added:,} -{rows.removed:,} by row id; {rows.new:,} new, "
            f"{rows.deleted:,} deleted, {rows.changed:,} changed by entity; "
            f"changed columns {rows.changed_columns}",
            f"shifted columns: {first.drift.shifted or 'none'}; report verdict: {report.level}; "
            f"newly failing tests: {[r.rule for r in report.tests.newly_failing]}",
        ]
        print("\n".join(lines))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"project kept in {root}", file=sys.stderr)


if __name__ == "__main__":
    main()
