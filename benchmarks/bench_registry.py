"""Registry reads on a long history: datawheel's one for-each-ref against the gto CLI.

    python benchmarks/bench_registry.py [--versions 10000] [--gto-versions 1500]

Builds a git repository whose dvc.yaml declares `churn-model`, with N version tags
(`churn-model@vX.Y.0`, annotated, as GTO writes them) and a `prod` assignment for every
tenth version, made in one `git fast-import` stream. Then times what promote, rollback and
status need from the registry (the next version and counter, the current `prod`, the
previous champion) and `gto show` on the same repository. Prints a table.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from datawheel.registry.tags import next_version, read_registry, stage_tag_name, version_tag_name

NAME = "churn-model"
DVC_YAML = f"artifacts:\n  {NAME}:\n    path: models/model.skops\n    type: model\n"


def build_repo(root: Path, versions: int) -> None:
    """One commit per version and annotated GTO tags, written by git fast-import."""
    subprocess.run(["git", "init", "--quiet", "--initial-branch=main", str(root)], check=True)
    stream = []
    start = 1_700_000_000
    counter = 0
    for i in range(versions):
        when = start + 3600 * i
        blob = DVC_YAML.encode()
        message = f"version {i}".encode()
        stream += [
            b"commit refs/heads/main",
            f"mark :{i + 1}".encode(),
            f"committer bench <bench@example.com> {when} +0000".encode(),
            f"data {len(message)}".encode(),
            message,
            *([] if i == 0 else [f"from :{i}".encode()]),
            f"M 644 inline dvc.yaml\ndata {len(blob)}".encode(),
            blob,
        ]
        version = f"v{1 + i // 1000}.{i % 1000}.0"
        tags = [version_tag_name(NAME, version)]
        if i % 10 == 0:
            counter += 1
            tags.append(stage_tag_name(NAME, "prod", counter))
        for offset, tag in enumerate(tags):
            text = f"{tag}\n".encode()
            stream += [
                f"tag {tag}".encode(),
                f"from :{i + 1}".encode(),
                f"tagger bench <bench@example.com> {when + offset} +0000".encode(),
                f"data {len(text)}".encode(),
                text,
            ]
    subprocess.run(
        ["git", "fast-import", "--quiet"], cwd=root, input=b"\n".join(stream) + b"\n", check=True
    )
    subprocess.run(["git", "checkout", "--quiet", "main"], cwd=root, check=True)


def registry_work(root: Path) -> dict:
    """What promote, rollback and status ask of the registry, in one read."""
    registry = read_registry(root)
    current = registry.current(NAME)
    history = [a.version for a in registry.assignments(NAME) if a.version != current]
    return {
        "tags": len(registry.tags),
        "next_version": next_version(registry.latest(NAME), "minor"),
        "next_counter": registry.next_counter(NAME),
        "prod": current,
        "previous_prod": history[-1] if history else None,
    }


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def gto_show(root: Path, limit: float) -> str:
    """One `gto show` run, or "> limit" when it is still going after limit seconds."""
    gto = Path(sys.executable).parent / "gto"
    start = time.perf_counter()
    try:
        subprocess.run(
            [str(gto), "show", NAME], cwd=root, capture_output=True, check=True, timeout=limit
        )
    except subprocess.TimeoutExpired:
        return f"> {limit:.0f} s (stopped)"
    return f"{time.perf_counter() - start:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--versions", type=int, default=10_000)
    parser.add_argument(
        "--gto-versions",
        type=int,
        default=1_500,
        help="also time `gto show` at this size (0: skip)",
    )
    parser.add_argument(
        "--gto-limit", type=float, default=300.0, help="stop a gto show after this many seconds"
    )
    args = parser.parse_args()
    table = Table(title="registry reads (best of 3 for datawheel, one run for gto)")
    for column in (
        "versions",
        "GTO tags",
        "datawheel registry work",
        "datawheel status",
        "gto show",
    ):
        table.add_column(column, justify="right")
    sizes = sorted({args.versions, args.gto_versions} - {0})
    workdir = Path(tempfile.mkdtemp(prefix="dw-bench-registry-"))
    try:
        for size in sizes:
            root = workdir / f"repo-{size}"
            build_repo(root, size)
            seconds, work = timed(lambda root=root: registry_work(root))
            status = status_seconds(root)
            gto = gto_show(root, args.gto_limit)
            print(
                f"{size} versions: registry {seconds:.3f} s, status {status:.2f} s, gto {gto}",
                flush=True,
            )
            table.add_row(
                f"{size:,}", f"{work['tags']:,}", f"{seconds:.3f} s", f"{status:.2f} s", gto
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    Console().print(table)


def status_seconds(root: Path) -> float:
    """The whole `datawheel status` command, process start-up included."""
    from datawheel.project.scaffold import copy_template

    copy_template(root)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "datawheel", "status"], cwd=root, capture_output=True, check=True
    )
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
