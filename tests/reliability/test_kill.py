"""kill -9 of `dvc repro` in each stage, then a re-run that completes.

One project, one chain of runs: the first `dvc repro` is killed (SIGKILL to its whole
process group: DVC and the stage it runs) when DVC announces ingest; the next run redoes
ingest and is killed when it announces validate; and so on to evaluate, after which a last
run completes. Each kill is checked for what it leaves behind, each re-run for redoing the
killed stage, and the end state against dvc.lock.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import yaml

from datawheel.io.files import file_md5
from tests.reliability.conftest import dvc, make_project, tree_md5s

STAGES = ["ingest", "validate", "curate", "train", "evaluate"]
OUTPUT_DIRS = ("data", "models", "reports")


@dataclass
class Kill:
    stage: str
    returncode: int
    output: str
    temp_files: list[str]
    lock_after: str  # dvc.lock's text right after the kill ("" if none)
    rwlock_after: dict  # DVC's .dvc/tmp/rwlock right after the kill: the dead run's entries
    rerun_output: str = ""  # the next run, which must redo this stage


def start_repro(root: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dvc", "repro"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # its own process group, so the stage dies with DVC
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def repro_until(root: Path, stage: str | None) -> tuple[int, str]:
    """Run `dvc repro`; SIGKILL its process group the moment DVC starts `stage` (None:
    let it finish). Returns the exit status and the output read up to then."""
    proc = start_repro(root)
    seen = []
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if stage and f"Running stage '{stage}'" in line:
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.stdout.close()
    return proc.wait(), "".join(seen)


def temp_files(root: Path) -> list[str]:
    """Leftovers of an interrupted write: fileio's `.<name>.<random>.tmp` and DVC's own."""
    found = []
    for folder in OUTPUT_DIRS:
        for path in (root / folder).rglob("*"):
            if path.name.endswith(".tmp") or ".tmp" in path.name or path.name.startswith(".~"):
                found.append(path.relative_to(root).as_posix())
    return sorted(found)


def lock_text(root: Path) -> str:
    lock = root / "dvc.lock"
    return lock.read_text() if lock.exists() else ""


def rwlock(root: Path) -> dict:
    return json.loads((root / ".dvc/tmp/rwlock").read_text())


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> tuple[Path, dict[str, Kill], str]:
    root = make_project(tmp_path_factory.mktemp("kill"), days=14)
    raw_before = tree_md5s(root / "data/raw")
    kills: dict[str, Kill] = {}
    previous: Kill | None = None
    for stage in [*STAGES, None]:
        code, output = repro_until(root, stage)
        if previous is not None:
            previous.rerun_output = output
        if stage is None:
            assert code == 0, output
            final = output
            break
        previous = kills[stage] = Kill(
            stage, code, output, temp_files(root), lock_text(root), rwlock(root)
        )
    assert tree_md5s(root / "data/raw") == raw_before
    return root, kills, final


@pytest.mark.parametrize("stage", STAGES)
def test_kill_during_a_stage_leaves_no_half_output_and_the_rerun_redoes_it(chain, stage):
    _, kills, _ = chain
    kill = kills[stage]
    assert kill.returncode == -signal.SIGKILL, kill.output
    assert kill.temp_files == []
    if kill.lock_after:  # the killed stage is not recorded as done
        assert stage not in (yaml.safe_load(kill.lock_after).get("stages") or {})
    assert f"Running stage '{stage}'" in kill.rerun_output
    assert "Traceback" not in kill.rerun_output
    # DVC's rwlock still holds the killed run's entries; the re-run finds that process gone
    # and goes on (no "is busy" error): a kill -9 needs no manual unlock.
    assert kill.rwlock_after["write"], kill.rwlock_after
    assert "had been killed. Auto removed it from the lock file." in kill.rerun_output
    assert "ERROR" not in kill.rerun_output


def test_after_the_kills_the_outputs_are_what_dvc_lock_records(chain):
    root, _, final = chain
    status = dvc(root, "status")
    assert status.returncode == 0 and "Data and pipelines are up to date." in status.stdout, (
        status.stdout + final
    )
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]
    assert set(lock) == set(STAGES)
    for stage in lock.values():
        for out in stage.get("outs", []):
            if not out["md5"].endswith(".dir"):
                assert file_md5(root / out["path"]) == out["md5"], out["path"]
    assert temp_files(root) == []
    again = dvc(root, "repro")
    assert again.returncode == 0 and "Running stage" not in again.stdout
    # what is left in DVC's rwlock are the killed runs' entries on paths no later run
    # locked again: dead processes only, which DVC skips (and removes) when it meets them
    left = rwlock(root)
    pids = {e["pid"] for mode in left.values() for infos in mode.values() for e in infos}
    assert not any(psutil.pid_exists(pid) for pid in pids), left
