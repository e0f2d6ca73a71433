"""Proof by rebuilding: a model rebuilt from scratch in a clean clone, compared with its record.

`verify` clones the repository into a temporary folder at the model's source commit (its
data, params, stages and suites; the champion pointer as it was then, so the gate re-scores
the same champion), pulls only the raw data from the DVC remote, checks every raw file
against the md5 in DVC's manifest, runs `dvc repro --force` (every stage from nothing: no
persisted ingest or validation results), then compares each stage's outputs in the rebuilt
dvc.lock with the dvc.lock recorded when the model was made. Stages are compared in
pipeline order, so the first one whose outputs differ is where the rebuild went another way.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from datawheel.audit.trace import Target, Tracer, lock_stages
from datawheel.config import catalog
from datawheel.errors import DatawheelError, IntegrityError
from datawheel.io.code import installed_code
from datawheel.io.files import file_md5
from datawheel.io.git import git
from datawheel.io.process import CommandFailed, dvc
from datawheel.model.card import library_versions

REPRODUCED, MISMATCH, FAILED = "REPRODUCED", "MISMATCH", "FAILED"


class RebuildMismatch(DatawheelError):
    """The rebuilt model, or a stage's outputs, differ from the record."""

    exit_code = 8


@dataclass
class StageComparison:
    stage: str
    same: bool
    outputs: list[dict[str, Any]] = field(default_factory=list)  # {path, recorded, rebuilt}
    inputs: list[dict[str, Any]] = field(default_factory=list)  # deps that differ


@dataclass
class Verification:
    model: str
    version: str | None
    source_commit: str
    record_commit: str
    verdict: str
    recorded_model_md5: str | None
    rebuilt_model_md5: str | None
    first_mismatch: str | None
    stages: list[StageComparison]
    raw_files_checked: int
    environment: list[dict[str, Any]]
    message: str

    @property
    def exit_code(self) -> int:
        return 0 if self.verdict == REPRODUCED else RebuildMismatch.exit_code

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def verify(
    tracer: Tracer,
    target: Target,
    on_line: Callable[[str], None] | None = None,
    keep: Path | None = None,
) -> Verification:
    """Rebuild the target's model from scratch in a clean clone and compare it."""
    say = on_line or (lambda line: None)
    root = tracer.project.root
    record = tracer.project.at(target.commit)
    params = record.params()
    # The source commit is the reproduced state the model was built in (its champion
    # pointer as it was then), so its dvc.lock is what a rebuild there must equal.
    recorded_at = target.source
    recorded = lock_stages(
        tracer.project.at(recorded_at).read_yaml(catalog.DVC_LOCK, default={}) or {}
    )
    if not recorded:
        recorded_at = target.commit
        recorded = lock_stages(record.read_yaml(catalog.DVC_LOCK, default={}) or {})
    if not recorded:
        raise DatawheelError(
            f"{catalog.DVC_LOCK}@{recorded_at[:8]} records no stages: nothing to compare a "
            "rebuild with"
        )
    card = record.read_json(params.paths.card, default={}) or {}
    recorded_md5 = card.get("model", {}).get("md5")

    workdir = Path(tempfile.mkdtemp(prefix="datawheel-verify-")) if keep is None else keep
    clone = workdir / "repo"
    try:
        say(f"clone {root} at {target.source[:8]} into {clone}")
        _clone(root, clone, target.source)
        source_params = tracer.project.at(target.source).params()
        raw = source_params.paths.raw
        say(f"dvc pull {raw}.dvc")
        dvc("pull", "--quiet", f"{raw}.dvc", cwd=clone, on_line=say)
        checked = check_raw(clone, raw)
        say(f"{checked} raw file(s) match their recorded md5; dvc repro --force")
        try:
            dvc("repro", "--force", cwd=clone, on_line=say)
        except CommandFailed as exc:
            return _failed(target, recorded_md5, recorded, checked, card, exc)
        rebuilt = lock_stages(yaml.safe_load((clone / catalog.DVC_LOCK).read_text()) or {})
        model_file = clone / params.paths.model
        rebuilt_md5 = file_md5(model_file) if model_file.exists() else None
    finally:
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)

    stages = compare_locks(recorded, rebuilt)
    first = next((s.stage for s in stages if not s.same), None)
    model_same = recorded_md5 is not None and recorded_md5 == rebuilt_md5
    verdict = REPRODUCED if first is None and model_same else MISMATCH
    if verdict == REPRODUCED:
        message = (
            f"{target.label()}: rebuilt from scratch at {target.source[:8]}; model md5 "
            f"{rebuilt_md5} and every stage's outputs equal the record"
        )
    else:
        where = first or params.paths.model
        message = (
            f"{target.label()}: the rebuild differs first at stage {where}; model md5 "
            f"recorded {recorded_md5}, rebuilt {rebuilt_md5}"
        )
    return Verification(
        target.name,
        target.version,
        target.source,
        target.commit,
        verdict,
        recorded_md5,
        rebuilt_md5,
        None if verdict == REPRODUCED else (first or "train"),
        stages,
        checked,
        environment_differences(card),
        message,
    )


def _clone(root: Path, clone: Path, commit: str) -> None:
    git("clone", "--quiet", "--no-checkout", str(root), str(clone), cwd=Path.cwd())
    git("checkout", "--quiet", "--detach", commit, cwd=clone)
    local = root / ".dvc" / "config.local"  # remote credentials or URL overrides, if any
    if local.exists():
        shutil.copy2(local, clone / ".dvc" / "config.local")
    _pin_local_remotes(root, clone)
    _leave_raw_checks_to_check_raw(clone)


def _leave_raw_checks_to_check_raw(clone: Path) -> None:
    """Turn DVC's `verify` off in the throwaway clone: with it on, the pull stops at an
    altered object with "Checkout failed" and names no file; `check_raw` checks every
    pulled raw file right after and names each one that differs (exit 6)."""
    from dvc.repo import Repo

    with Repo(str(clone)) as repo, repo.config.edit("local") as conf:
        for name in list(repo.config["remote"]):
            conf["remote"].setdefault(name, {})["verify"] = False


def _pin_local_remotes(root: Path, clone: Path) -> None:
    """A remote that is a folder named relative to .dvc/config points elsewhere from a
    clone in a temporary folder: give the clone the absolute path the project resolves."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        urls = {name: conf["url"] for name, conf in repo.config["remote"].items()}
    local = {name: url for name, url in urls.items() if "://" not in url}
    if not local:
        return
    with Repo(str(clone)) as repo, repo.config.edit("local") as conf:
        for name, url in local.items():
            conf["remote"].setdefault(name, {})["url"] = url


def check_raw(clone: Path, raw: str) -> int:
    """Every pulled raw file against the md5 DVC's manifest records: IntegrityError if any
    differs (a remote object altered after it was pushed). Returns the number checked."""
    from dvc.repo import Repo

    pointer = yaml.safe_load((clone / f"{raw}.dvc").read_text()) or {}
    dir_md5 = (pointer.get("outs") or [{}])[0].get("md5")
    if not dir_md5:
        raise DatawheelError(f"{raw}.dvc records no md5")
    with Repo(str(clone)) as repo:
        manifest_path = Path(repo.cache.local.oid_to_path(dir_md5))
    if not dir_md5.endswith(".dir"):
        entries = [{"relpath": "", "md5": dir_md5}]
    else:
        if file_md5(manifest_path) != dir_md5.removesuffix(".dir"):
            raise IntegrityError(
                f"{raw}: the DVC manifest {dir_md5} pulled from the remote does not match its md5 "
                "(rule: remote_integrity)"
            )
        entries = json.loads(manifest_path.read_text(encoding="utf-8"))
    bad = []
    for entry in entries:
        path = clone / raw / entry["relpath"] if entry["relpath"] else clone / raw
        actual = file_md5(path) if path.is_file() else None
        if actual != entry["md5"]:
            bad.append(f"{raw}/{entry['relpath']} (recorded {entry['md5']}, got {actual})")
    if bad:
        raise IntegrityError(
            f"{len(bad)} raw file(s) from the DVC remote do not match their recorded md5, so the "
            f"rebuild would use different data: {'; '.join(bad[:5])} (rule: remote_integrity)"
        )
    return len(entries)


def compare_locks(recorded: list[dict], rebuilt: list[dict]) -> list[StageComparison]:
    """Each recorded stage against its rebuilt twin: outputs (and inputs) by md5."""
    by_name = {s["stage"]: s for s in rebuilt}
    out = []
    for stage in recorded:
        twin = by_name.get(stage["stage"], {"outs": [], "deps": []})
        outputs = _differences(stage["outs"], twin["outs"])
        inputs = _differences(stage["deps"], twin["deps"])
        out.append(StageComparison(stage["stage"], not outputs and not inputs, outputs, inputs))
    return out


def _differences(recorded: list[dict], rebuilt: list[dict]) -> list[dict[str, Any]]:
    again = {e["path"]: e["md5"] for e in rebuilt}
    before = {e["path"]: e["md5"] for e in recorded}
    return [
        {"path": path, "recorded": before.get(path), "rebuilt": again.get(path)}
        for path in sorted(set(before) | set(again))
        if before.get(path) != again.get(path)
    ]


def environment_differences(card: dict) -> list[dict[str, Any]]:
    """Libraries whose version now differs from the one recorded in the model card, and the
    datawheel code when its digest differs: the rebuild runs the installed datawheel."""
    recorded = card.get("libraries") or {}
    now = library_versions()
    differences = [
        {"library": name, "recorded": recorded.get(name), "now": now.get(name)}
        for name in sorted(set(recorded) | set(now))
        if recorded.get(name) != now.get(name)
    ]
    code, installed = card.get("code") or {}, installed_code()
    if code.get("digest") != installed.digest:
        differences.append(
            {
                "library": "datawheel code digest",
                "recorded": code.get("digest"),
                "now": installed.digest,
            }
        )
    return differences


def _failed(target, recorded_md5, recorded, checked, card, exc: CommandFailed) -> Verification:
    return Verification(
        target.name,
        target.version,
        target.source,
        target.commit,
        FAILED,
        recorded_md5,
        None,
        _failing_stage(exc.output, [s["stage"] for s in recorded]),
        [],
        checked,
        environment_differences(card),
        f"{target.label()}: `dvc repro --force` failed at {target.source[:8]}: {exc}",
    )


def _failing_stage(output: str, stages: list[str]) -> str | None:
    running = None
    for line in output.splitlines():
        if line.startswith("Running stage '"):
            running = line.split("'")[1]
    return running or (stages[0] if stages else None)
