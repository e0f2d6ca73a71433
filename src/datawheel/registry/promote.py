"""Every change CI or an operator makes to main: record, promote and rollback.

`record` commits the state `dvc repro` left (dvc.lock, the outputs git keeps, DVC's
.gitignore entries) after pushing the cached outputs to the DVC remote, so main is always
what `dvc repro` produces for its data, params and code. The commit says [skip ci].

`promote` and `rollback` change the champion only as one commit plus GTO tags, pushed
atomically after the model is in the DVC remote. Changing champion.json changes a dependency
of the evaluate stage, so both re-run it (`dvc repro --pull`) and commit its outputs with
the new pointer: the promotion commit is itself reproduced. Anything failing leaves the
champion, the branch and the workspace as they were.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from datawheel.config import catalog
from datawheel.config.params import Params, load_params, merge_dvc_vars, parse_params
from datawheel.errors import DatawheelError
from datawheel.io.code import code_deps
from datawheel.io.files import read_json, write_json
from datawheel.io.git import GitFailed, git_succeeds
from datawheel.io.git import git as run_git
from datawheel.io.process import CommandFailed
from datawheel.registry.champion import pin_reason, read_champion
from datawheel.registry.tags import (
    PROD,
    Registry,
    next_version,
    read_registry,
    stage_tag_name,
    version_tag_name,
)

PROMOTED, ROLLED_BACK, HELD, REFUSED, ERROR = "promoted", "rolled_back", "held", "refused", "error"
RECORDED, UP_TO_DATE = "recorded", "up_to_date"
PINNED, RELEASED = "pinned", "released"
STAGED, CONFIRMED_RUN, DROPPED = "staged", "confirmed", "dropped"
STAGING = "staging"
EXIT_CODES = {
    PROMOTED: 0,
    STAGED: 0,
    CONFIRMED_RUN: 0,
    DROPPED: 0,
    ROLLED_BACK: 0,
    PINNED: 0,
    RELEASED: 0,
    RECORDED: 0,
    UP_TO_DATE: 0,
    HELD: 10,
    REFUSED: 11,
    ERROR: 1,
}
# GitHub starts no workflow for a pushed commit whose message holds this.
SKIP_CI = "[skip ci]"
# Params sections whose change makes a new MAJOR version: the data contract and everything
# that shapes the model. `validate` (acknowledged batches) and `gate` do not.
MAJOR_SECTIONS = ("contract", "window", "split", "leakage", "label_issues", "model")
MAJOR_PATHS = ("stages", "expectations", catalog.DVC_YAML)
# Also MAJOR: the code the stages run, as their dvc.yaml deps name it (the src/datawheel
# modules of their import closure here, .datawheel/code.json in a `datawheel init` project).


@dataclass
class Outcome:
    """What record, promote or rollback did, for people (message) and for tools (to_dict)."""

    result: str
    message: str
    version: str | None = None
    previous: str | None = None
    tags: list[str] = field(default_factory=list)
    commit: str | None = None
    gate: dict | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.result]

    def to_dict(self) -> dict:
        return asdict(self)


class Refused(DatawheelError):
    """The promotion or rollback cannot go ahead as things stand; nothing was changed."""

    exit_code = 11


class _Git:
    """git in the project: `datawheel.io.git.git` with its cwd bound to root."""

    def __init__(self, root: Path):
        self.root = root

    def __call__(self, *args: str, env: dict | None = None, check: bool = True) -> str:
        return run_git(*args, cwd=self.root, env=env, check=check)


def _dvc_push(root: Path) -> None:
    """`dvc push`, failing with DVC's own error lines. Not `--quiet`: that hides DVC's ERROR
    line and leaves only its "Having any troubles?" footer, which says nothing."""
    from datawheel.io.process import dvc, dvc_error_text

    result = dvc("push", cwd=root, check=False)
    if result.returncode != 0:
        raise CommandFailed(["dvc", "push"], result.returncode, dvc_error_text(result.stdout))


def promote(
    root: Path = Path("."),
    remote: str = "origin",
    branch: str | None = None,
    dvc_push: Callable[[Path], None] = _dvc_push,
) -> Outcome:
    """Promote the candidate of the last `dvc repro` if its gate said so."""
    params = load_params(root / catalog.PARAMS)
    gate = read_json(root / params.artifacts.gate)
    if gate is None:
        raise DatawheelError(f"{params.artifacts.gate}: not found; run `dvc repro` first")
    staged = _with_staging(root, params, gate, remote, branch, dvc_push)
    if staged is not None:
        return staged
    if gate["decision"] != "promote":
        champion = read_champion(root / params.paths.champion)
        previous = champion.version if champion else None
        return Outcome(HELD, hold_paragraph(gate, previous), previous=previous, gate=gate)
    validation = read_json(root / params.artifacts.validation) or {}
    pinned = getattr(read_champion(root / params.paths.champion), "pin", None)
    try:
        if pinned:
            raise Refused(pin_reason(pinned))
        if not validation.get("passed"):
            raise Refused("validation did not pass for this data; the gate cannot promote it")
        _check_lock_is_fresh(root)
        git = _Git(root)
        branch = branch or git("rev-parse", "--abbrev-ref", "HEAD")
        _check_origin_has_not_moved(git, remote, branch)
    except Refused as exc:
        return Outcome(REFUSED, str(exc), gate=gate)

    name = params.registry.model_name
    registry = read_registry(root)
    champion = read_champion(root / params.paths.champion)
    start = git("rev-parse", "HEAD")
    try:
        _check_only_reproduced_changes(git, root)
    except Refused as exc:
        return Outcome(REFUSED, str(exc), gate=gate)
    # The model's source commit is a reproduced one: record the workspace first if CI's
    # `datawheel record` step did not (a local promote after `dvc repro`).
    _commit_reproduced(git, root, _record_message(git, gate))
    source = git("rev-parse", "HEAD")
    bump = bump_kind(root, params, champion.commit if champion else None)
    version = next_version(registry.latest(name), bump)
    card = read_json(root / params.paths.card)
    record = _champion_record(params, version, source, card, gate, champion, bump)
    write_json(root / params.paths.champion, record)
    message = _commit_message(name, version, bump, gate, champion)
    restore = _Restore(start, source, [params.paths.champion, *reproduced_paths(root)])
    try:
        _commit_reevaluated(git, root, params.paths.champion, message)
    except CommandFailed as exc:
        _undo(git, [], restore)
        return Outcome(ERROR, _reevaluation_failed(exc), gate=gate)
    commit = git("rev-parse", "HEAD")
    tags = [
        version_tag_name(name, version),
        stage_tag_name(name, PROD, registry.next_counter(name)),
    ]
    messages = [
        _lineage_message(name, version, bump, source, card, gate, champion),
        f"{name} {version} assigned to {PROD}: beats "
        f"{champion.version if champion else 'the naive baseline'}",
    ]
    return _publish(
        git,
        root,
        remote,
        branch,
        commit,
        tags,
        messages,
        registry,
        dvc_push,
        Outcome(
            PROMOTED,
            f"promoted {name} {version} to {PROD}",
            version,
            champion.version if champion else None,
            tags,
            commit,
            gate,
        ),
        restore,
    )


def record(
    root: Path = Path("."),
    remote: str = "origin",
    branch: str | None = None,
    dvc_push: Callable[[Path], None] = _dvc_push,
) -> Outcome:
    """Commit and push the state the last `dvc repro` left, unless the branch holds it."""
    params = load_params(root / catalog.PARAMS)
    gate = read_json(root / params.artifacts.gate)
    git = _Git(root)
    try:
        branch = branch or git("rev-parse", "--abbrev-ref", "HEAD")
        _check_lock_is_fresh(root)
        _check_only_reproduced_changes(git, root)
        start = git("rev-parse", "HEAD")
        if not git("status", "--porcelain", "--", *_existing(root, reproduced_paths(root))):
            return Outcome(
                UP_TO_DATE,
                f"{branch} at {start[:8]} already holds what `dvc repro` produces: nothing to "
                "record",
                commit=start,
                gate=gate,
            )
        _check_origin_has_not_moved(git, remote, branch)
    except Refused as exc:
        return Outcome(REFUSED, str(exc), gate=gate)
    _commit_reproduced(git, root, _record_message(git, gate))
    commit = git("rev-parse", "HEAD")
    return _publish(
        git,
        root,
        remote,
        branch,
        commit,
        [],
        [],
        None,
        dvc_push,
        Outcome(
            RECORDED,
            f"recorded the reproduced state of {start[:8]} as {commit[:8]} on {branch}",
            commit=commit,
            gate=gate,
        ),
        _Restore(start),
    )


def reproduced_paths(root: Path) -> list[str]:
    """What `dvc repro` writes that git keeps, as pathspecs: dvc.lock, every stage output
    DVC does not cache (`cache: false`: reports, metrics, plots' data, the card) and the
    .gitignore files DVC keeps for the cached ones."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        base = Path(repo.root_dir)
        outs = {
            Path(out.fs_path).relative_to(base).as_posix()
            for stage in repo.index.stages
            for out in stage.outs
            if not out.use_cache
        }
    return [catalog.DVC_LOCK, *sorted(outs), ":(glob)**/.gitignore"]


def _existing(root: Path, paths: list[str]) -> list[str]:
    """The pathspecs that name something (git rejects a literal path matching nothing)."""
    return [p for p in paths if p.startswith(":(") or (root / p).exists()]


def _commit_reproduced(git: _Git, root: Path, message: str, *extra: str) -> bool:
    """Commit the reproduced outputs (and `extra` paths) if any changed; False if none did."""
    paths = _existing(root, [*reproduced_paths(root), *extra])
    if not git("status", "--porcelain", "--", *paths):
        return False
    git("add", "--all", "--", *paths)
    git("commit", "--quiet", "-m", message)
    return True


def _commit_reevaluated(git: _Git, root: Path, champion_path: str, message: str) -> None:
    """champion.json changed: re-run what depends on it and commit both together."""
    from datawheel.io.process import dvc

    dvc("repro", "--pull", cwd=root)
    git("add", "--all", "--", *_existing(root, [champion_path, *reproduced_paths(root)]))
    git("commit", "--quiet", "-m", message)


def _reevaluation_failed(exc: CommandFailed) -> str:
    return (
        "re-evaluating with the new champion pointer failed (`dvc repro --pull`); nothing "
        f"was committed or pushed: {exc}"
    )


def _record_message(git: _Git, gate: dict | None) -> str:
    head = git("rev-parse", "--short", "HEAD")
    decision = (gate or {}).get("decision", "none")
    reasons = (gate or {}).get("reasons") or []
    lines = [
        f"reproduce {head}: {catalog.DVC_LOCK}, reports and plots as `dvc repro` made them "
        f"{SKIP_CI}",
        "",
        f"Gate: {decision}" + (f": {reasons[0]}" if reasons else ""),
        f"Reproduced-by: {promoted_by()}",
    ]
    return "\n".join(lines)


def _check_only_reproduced_changes(git: _Git, root: Path) -> None:
    """Refuse when tracked files other than `dvc repro`'s own outputs have local changes:
    they would be committed as if they were the branch's."""
    excluded = [
        f":(exclude){p}" if not p.startswith(":(") else ":(exclude,glob)**/.gitignore"
        for p in reproduced_paths(root)
    ]
    changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", *excluded)
    if changed:
        files = ", ".join(line[3:] for line in changed.splitlines()[:5])
        raise Refused(
            f"uncommitted changes to {files}: commit or discard them first; only what "
            "`dvc repro` wrote is recorded"
        )


def rollback(
    root: Path = Path("."),
    version: str | None = None,
    remote: str = "origin",
    branch: str | None = None,
    dvc_push: Callable[[Path], None] = _dvc_push,
    reason: str | None = None,
) -> Outcome:
    """Assign `prod` back to an earlier version (default: the one before the champion) and
    pin it there: every gate holds until `release`, so no scheduled run undoes it."""
    params = load_params(root / catalog.PARAMS)
    name = params.registry.model_name
    git = _Git(root)
    current = None
    try:
        branch = branch or git("rev-parse", "--abbrev-ref", "HEAD")
        _check_only_reproduced_changes(git, root)
        _check_origin_has_not_moved(git, remote, branch)
        registry = read_registry(root)
        current = registry.current(name)
        target = version or _previous_champion(registry, name, current)
        target = target if target.startswith("v") else f"v{target}"
        tag = registry.version_tag(name, target)
        if tag is None:
            raise Refused(f"{name} {target} is not a registered version")
        if target == current:
            raise Refused(f"{name} {target} is already in {PROD}")
        record = json_at(git, tag.commit, params.paths.champion)
        if not record or record.get("version") != target:
            raise Refused(
                f"{tag.tag} has no champion record for {target} in {params.paths.champion}"
            )
        if not model_in_remote(root, record["model_md5"]):
            raise Refused(
                f"{name} {target}: model md5 {record['model_md5']} is not in the DVC remote; "
                "it cannot be deployed, so it cannot be rolled back to"
            )
    except Refused as exc:
        return Outcome(REFUSED, str(exc), previous=current)
    pin = _pin(git, target, reason or f"rolled back from {current}")
    record = {**record, "rolled_back_from": current, "pin": pin}
    start = git("rev-parse", "HEAD")
    restore = _Restore(start, start, [params.paths.champion, *reproduced_paths(root)])
    write_json(root / params.paths.champion, record)
    try:
        _commit_reevaluated(
            git,
            root,
            params.paths.champion,
            f"rollback {name}: {PROD} back to {target} from {current}\n\n{_pin_trailer(pin)}",
        )
    except CommandFailed as exc:
        _undo(git, [], restore)
        return Outcome(ERROR, _reevaluation_failed(exc), previous=current)
    commit = git("rev-parse", "HEAD")
    stage_tag = stage_tag_name(name, PROD, registry.next_counter(name))
    return _publish(
        git,
        root,
        remote,
        branch,
        commit,
        [stage_tag],
        [
            f"{name} {target} assigned to {PROD} again: rollback from {current}\n\n"
            f"{_pin_trailer(pin)}"
        ],
        registry,
        dvc_push,
        Outcome(
            ROLLED_BACK,
            f"rolled {name} {PROD} back to {target} from {current}; pinned until "
            "`datawheel release`",
            target,
            current,
            [stage_tag],
            commit,
        ),
        restore,
        tag_commits=[tag.commit],
    )


def pin(
    root: Path = Path("."),
    version: str | None = None,
    reason: str | None = None,
    remote: str = "origin",
    branch: str | None = None,
    dvc_push: Callable[[Path], None] = _dvc_push,
) -> Outcome:
    """Pin prod on the champion it has now (an incident freeze): every gate holds."""
    params = load_params(root / catalog.PARAMS)
    name = params.registry.model_name
    git = _Git(root)
    record = read_json(root / params.paths.champion) or {}
    current = record.get("version")
    try:
        if not current:
            raise Refused(f"{name} has no champion in {PROD} to pin")
        wanted = version if version is None or version.startswith("v") else f"v{version}"
        if wanted and wanted != current:
            raise Refused(
                f"{name} {wanted} is not in {PROD} ({current} is): to put it there and pin it, "
                f"run `datawheel rollback {wanted}`"
            )
        if record.get("pin"):
            raise Refused(f"{name} {PROD} is already pinned: {pin_reason(record['pin'])}")
    except Refused as exc:
        return Outcome(REFUSED, str(exc), previous=current)
    held = _pin(git, current, reason or "pinned by an operator")
    return _repoint(
        git,
        root,
        params.paths.champion,
        {**record, "pin": held},
        f"pin {name} {current} in {PROD}\n\n{_pin_trailer(held)}",
        remote,
        branch,
        dvc_push,
        Outcome(PINNED, f"pinned {name} {PROD} on {current}: {pin_reason(held)}", current),
    )


def release(
    root: Path = Path("."),
    reason: str | None = None,
    remote: str = "origin",
    branch: str | None = None,
    dvc_push: Callable[[Path], None] = _dvc_push,
) -> Outcome:
    """Lift the pin: the next gate may promote again."""
    params = load_params(root / catalog.PARAMS)
    name = params.registry.model_name
    git = _Git(root)
    record = read_json(root / params.paths.champion) or {}
    held = record.get("pin")
    if not held:
        return Outcome(REFUSED, f"{name} {PROD} is not pinned", previous=record.get("version"))
    by, at = operator(git), _now()
    why = (reason or "no reason given").strip()
    message = (
        f"release {name} {PROD}: the pin on {held.get('version')} is lifted\n\n"
        f"Released-by: {by}\nReleased-at: {at}\nReason: {why}\nWas: {pin_reason(held)}"
    )
    return _repoint(
        git,
        root,
        params.paths.champion,
        {**record, "pin": None},
        message,
        remote,
        branch,
        dvc_push,
        Outcome(
            RELEASED,
            f"released the pin on {name} {held.get('version')}: the next gate may promote",
            record.get("version"),
        ),
    )


def _repoint(
    git: _Git,
    root: Path,
    champion_path: str,
    record: dict,
    message: str,
    remote: str,
    branch: str | None,
    dvc_push: Callable[[Path], None],
    outcome: Outcome,
    tags: tuple[list[str], list[str], list[str]] | None = None,
) -> Outcome:
    """Commit a changed champion pointer with the evaluate outputs that depend on it, push.
    `tags`: (names, messages, target commits) of GTO tags to publish with it."""
    try:
        branch = branch or git("rev-parse", "--abbrev-ref", "HEAD")
        _check_only_reproduced_changes(git, root)
        _check_origin_has_not_moved(git, remote, branch)
    except Refused as exc:
        return Outcome(REFUSED, str(exc), previous=outcome.version)
    start = git("rev-parse", "HEAD")
    restore = _Restore(start, start, [champion_path, *reproduced_paths(root)])
    write_json(root / champion_path, record)
    try:
        _commit_reevaluated(git, root, champion_path, message)
    except CommandFailed as exc:
        _undo(git, [], restore)
        return Outcome(ERROR, _reevaluation_failed(exc), previous=outcome.version)
    outcome.commit = git("rev-parse", "HEAD")
    names, messages, targets = tags or ([], [], [])
    outcome.tags = list(names)
    return _publish(
        git,
        root,
        remote,
        branch,
        outcome.commit,
        names,
        messages,
        read_registry(root) if names else None,
        dvc_push,
        outcome,
        restore,
        tag_commits=targets or None,
    )


# --- fail-safe staging (datawheel.registry.staging) ----------------------------------------


def _with_staging(root, params, gate, remote, branch, dvc_push) -> Outcome | None:
    """Promote's action when `gate.staging` is on and prod has a champion; None otherwise
    (the first model goes straight to prod: there is no champion to keep safe)."""
    from datawheel.registry.staging import StagingVerdict, action

    champion = read_champion(root / params.paths.champion)
    if not params.gate.staging.enabled or champion is None:
        return None
    staged = champion.staging
    check = gate.get(STAGING) or {}
    found = StagingVerdict(**check["verdict"]) if check.get("verdict") else None
    chosen = action(
        staged["version"] if staged else None,
        len((staged or {}).get("confirmations") or []),
        params.gate.staging.confirmations,
        found,
        gate["decision"] == "promote",
        bool(check.get("candidate_beats_staged")),
        bool(champion.pin),
    )
    if chosen == "none":
        if not staged:
            return None  # the ordinary hold
        why = found.reason if found else "no staging check ran this time"
        return Outcome(
            HELD, f"{why}; {champion.version} stays in {PROD}", previous=champion.version, gate=gate
        )
    git = _Git(root)
    if chosen in ("stage", "replace"):
        return _stage_candidate(root, params, gate, champion, git, remote, branch, dvc_push)
    # action() confirms, drops or promotes only a staged model, on this run's verdict.
    assert staged is not None and found is not None
    name = params.registry.model_name
    record = champion.to_dict()
    registry = read_registry(root)
    if chosen == "confirm":
        confirmations = [*staged.get("confirmations", []), _confirmation(git, found)]
        record[STAGING] = {**staged, "confirmations": confirmations}
        return _repoint(
            git,
            root,
            params.paths.champion,
            record,
            f"confirm {name} {staged['version']} in {STAGING}: {found.reason}",
            remote,
            branch,
            dvc_push,
            Outcome(CONFIRMED_RUN, found.reason, staged["version"], champion.version, gate=gate),
        )
    version_tag = registry.version_tag(name, staged["version"])
    if version_tag is None:
        return Outcome(
            REFUSED,
            f"{name} {staged['version']} is in {STAGING} but has no register tag; "
            "fetch the registry's tags (`git fetch --tags`) and run promote again",
            previous=champion.version,
            gate=gate,
        )
    unassign = _unassign_tag(name, registry.next_counter(name))
    if chosen == "drop":
        record[STAGING] = None
        return _repoint(
            git,
            root,
            params.paths.champion,
            record,
            f"drop {name} {staged['version']} from {STAGING}: {found.reason}",
            remote,
            branch,
            dvc_push,
            Outcome(
                DROPPED,
                f"dropped {staged['version']} from {STAGING}: {found.reason}",
                staged["version"],
                champion.version,
                gate=gate,
            ),
            (
                [unassign],
                [f"{name} {staged['version']} dropped: {found.reason}"],
                [version_tag.commit],
            ),
        )
    # promote_staged: the staged version, confirmed on data after it, becomes the champion.
    promoted = {**staged["record"], "previous": champion.version, STAGING: None, "pin": None}
    assign = stage_tag_name(name, PROD, registry.next_counter(name) + 1)
    return _repoint(
        git,
        root,
        params.paths.champion,
        promoted,
        f"promote {name} {staged['version']} from {STAGING} to {PROD}: {found.reason}",
        remote,
        branch,
        dvc_push,
        Outcome(
            PROMOTED,
            f"promoted {name} {staged['version']} from {STAGING} to {PROD}",
            staged["version"],
            champion.version,
            gate=gate,
        ),
        (
            [unassign, assign],
            [
                f"{name} {staged['version']} leaves {STAGING}: confirmed",
                f"{name} {staged['version']} assigned to {PROD}: {found.reason}",
            ],
            [version_tag.commit, version_tag.commit],
        ),
    )


def _unassign_tag(name: str, counter: int) -> str:
    from gto.constants import Action
    from gto.tag import name_tag

    return f"{name_tag(Action.UNASSIGN, name, stage=STAGING, simple=True)}#{counter}"


def _confirmation(git: _Git, found) -> dict:
    return {"commit": git("rev-parse", "HEAD"), "rows": found.rows, **found.values}


def _stage_candidate(root, params, gate, champion, git, remote, branch, dvc_push) -> Outcome:
    """Register the candidate and assign it to `staging` (dropping a staged one it beats);
    prod and its champion stay as they are."""
    import pandas as pd

    validation = read_json(root / params.artifacts.validation) or {}
    try:
        if not validation.get("passed"):
            raise Refused("validation did not pass for this data; the gate cannot stage it")
        _check_lock_is_fresh(root)
        branch = branch or git("rev-parse", "--abbrev-ref", "HEAD")
        _check_origin_has_not_moved(git, remote, branch)
        _check_only_reproduced_changes(git, root)
    except Refused as exc:
        return Outcome(REFUSED, str(exc), gate=gate)
    name = params.registry.model_name
    registry = read_registry(root)
    # A staged model this candidate replaces is unassigned at its register tag's commit.
    old_tag = None
    if champion.staging:
        old_tag = registry.version_tag(name, champion.staging["version"])
        if old_tag is None:
            return Outcome(
                REFUSED,
                f"{name} {champion.staging['version']} is in {STAGING} but has no register "
                "tag; fetch the registry's tags (`git fetch --tags`) and run promote again",
                gate=gate,
            )
    start = git("rev-parse", "HEAD")
    _commit_reproduced(git, root, _record_message(git, gate))
    source = git("rev-parse", "HEAD")
    bump = bump_kind(root, params, champion.commit)
    version = next_version(registry.latest(name), bump)
    card = read_json(root / params.paths.card)
    holdout = pd.read_parquet(Path(root) / params.artifacts.holdout)
    selected_through = holdout[params.contract.time_column].max().isoformat()
    would_be = _champion_record(params, version, source, card, gate, champion, bump)
    old = champion.staging
    record = {
        **champion.to_dict(),
        STAGING: {
            "version": version,
            "model_md5": card["model"]["md5"],
            "commit": source,
            "selected_through": selected_through,
            "confirmations": [],
            "record": would_be,
        },
    }
    write_json(root / params.paths.champion, record)
    restore = _Restore(start, source, [params.paths.champion, *reproduced_paths(root)])
    try:
        _commit_reevaluated(
            git,
            root,
            params.paths.champion,
            f"stage {name} {version}: passes the gate against {champion.version}; it reaches "
            f"{PROD} once data after it confirms it",
        )
    except CommandFailed as exc:
        _undo(git, [], restore)
        return Outcome(ERROR, _reevaluation_failed(exc), gate=gate)
    commit = git("rev-parse", "HEAD")
    counter = registry.next_counter(name)
    tags = [version_tag_name(name, version)]
    messages = [_lineage_message(name, version, bump, source, card, gate, champion)]
    targets = [commit]
    if old:
        assert old_tag is not None  # looked up (or refused) above, before any commit
        tags.append(_unassign_tag(name, counter))
        messages.append(f"{name} {old['version']} dropped from {STAGING}: {version} beats it")
        targets.append(old_tag.commit)
        counter += 1
    tags.append(stage_tag_name(name, STAGING, counter))
    messages.append(f"{name} {version} assigned to {STAGING}: beats {champion.version}")
    targets.append(commit)
    return _publish(
        git,
        root,
        remote,
        branch,
        commit,
        tags,
        messages,
        registry,
        dvc_push,
        Outcome(
            STAGED,
            f"staged {name} {version} ({PROD} stays {champion.version})",
            version,
            champion.version,
            tags,
            commit,
            gate,
        ),
        restore,
        tag_commits=targets,
    )


def operator(git: _Git) -> str:
    """Who acts: the CI run when there is one (its URL), else the local git identity."""
    if os.environ.get("GITHUB_RUN_ID"):
        return promoted_by()
    name = git("config", "user.name", check=False) or "unknown"
    email = git("config", "user.email", check=False)
    return f"{name} <{email}>" if email else name


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pin(git: _Git, version: str, reason: str) -> dict:
    return {"version": version, "by": operator(git), "at": _now(), "reason": reason.strip()}


def _pin_trailer(pin: dict) -> str:
    """The pin in the commit and tag messages, readable without datawheel."""
    return (
        f"Pinned-by: {pin['by']}\nPinned-at: {pin['at']}\nPinned-version: {pin['version']}\n"
        f"Reason: {pin['reason']}\nEvery gate holds until `datawheel release`."
    )


def hold_paragraph(gate: dict, champion: str | None = None) -> str:
    """Why the gate held and what stays in prod, in one paragraph of whole sentences."""
    if champion:
        stays = f"the champion {champion} stays in prod"
    elif gate.get("champion"):
        stays = "the current champion stays in prod"
    else:
        stays = "there is no champion yet"
    reasons = [r.strip() for r in gate.get("reasons") or [] if r.strip()]
    label = "Reason:" if len(reasons) == 1 else "Reasons:"
    why = f"{label} {reasons_text(reasons)}" if reasons else "The gate gave no reason."
    return (
        f"Held: the candidate was not promoted and {stays}. {why} "
        "Nothing was committed, tagged or pushed."
    )


def reasons_text(reasons: list[str]) -> str:
    """The gate's reasons, each ending in a full stop, numbered when there are several.

    A reason may start with a metric name (`roc_auc ...`), which must keep its case: so it
    follows a label or a number, never opens a sentence of its own.
    """
    stopped = [r if r.endswith(".") else f"{r}." for r in (r.strip() for r in reasons) if r]
    if len(stopped) == 1:
        return stopped[0]
    return " ".join(f"({number}) {reason}" for number, reason in enumerate(stopped, 1))


def _check_lock_is_fresh(root: Path) -> None:
    """Refuse when the workspace's outputs do not match dvc.lock (a stale or partial repro)."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        changed = repo.status()
    if changed:
        stages = ", ".join(sorted(changed))
        raise Refused(
            f"outputs do not match {catalog.DVC_LOCK} for {stages}: run `dvc repro` and "
            "promote the result, never a stale lock"
        )


def _check_origin_has_not_moved(git: _Git, remote: str, branch: str) -> None:
    """Fetch the branch and tags; the branch on the remote must not be ahead of us."""
    try:
        git("fetch", "--quiet", "--tags", remote, branch)
    except GitFailed as exc:
        if "couldn't find remote ref" in exc.output:
            return  # the remote has no such branch yet: the first push creates it
        raise
    if not git_succeeds("merge-base", "--is-ancestor", "FETCH_HEAD", "HEAD", cwd=git.root):
        raise Refused(
            f"{remote}/{branch} has moved since this commit was built: the newer commit gets "
            "its own retraining run, which compares with whatever champion is current then"
        )


def _params_sections_at(git: _Git, rev: str) -> dict:
    """params.yaml at rev, parsed like today's, so defaults and types compare equal."""
    text = git("show", f"{rev}:{catalog.PARAMS}", check=False)
    pipeline = git("show", f"{rev}:{catalog.DVC_YAML}", check=False)
    try:
        data = merge_dvc_vars(yaml.safe_load(text) or {}, yaml.safe_load(pipeline) or {})
        return parse_params(data).model_dump(mode="json", by_alias=True)
    except (DatawheelError, yaml.YAMLError, AttributeError):
        return {}


def _stage_code_at(git: _Git, rev: str) -> set[str]:
    """The code files dvc.yaml's stages depend on at rev (none when it has no dvc.yaml)."""
    return code_deps(git("show", f"{rev}:{catalog.DVC_YAML}", check=False))


def bump_kind(root: Path, params: Params, champion_commit: str | None, head: str = "HEAD") -> str:
    """MAJOR when the contract, model params, stages, suites or the code the stages run
    changed since the champion.

    `params` are those of `head`: promote asks at HEAD, the pull-request report at its head.
    """
    if champion_commit is None:
        return "major"
    at = _Git(root)
    before = _params_sections_at(at, champion_commit)
    now = params.model_dump(mode="json", by_alias=True)
    if any(before.get(section) != now.get(section) for section in MAJOR_SECTIONS):
        return "major"
    unchanged = git_succeeds(
        "diff",
        "--quiet",
        champion_commit,
        head,
        "--",
        *MAJOR_PATHS,
        *sorted(_stage_code_at(at, champion_commit) | _stage_code_at(at, head)),
        ":(exclude,glob)**/__pycache__/**",
        ":(exclude,glob)**/*.pyc",
        cwd=root,
    )
    return "minor" if unchanged else "major"


def _primary(gate: dict) -> dict:
    boot = gate.get("bootstrap") or {}
    metric = gate.get("primary_metric")
    return {
        "metric": metric,
        "value": (gate.get("candidate") or {}).get(metric),
        "delta": boot.get("delta"),
        "ci_low": boot.get("ci_low"),
        "ci_high": boot.get("ci_high"),
        "confidence": boot.get("confidence"),
    }


def _champion_record(params, version, source, card, gate, champion, bump) -> dict:
    name = params.registry.model_name
    return {
        "version": version,
        "model_name": name,
        "tags": [version_tag_name(name, version)],
        "commit": source,
        "model_path": params.paths.model,
        "model_md5": card["model"]["md5"],
        "bump": bump,
        "previous": champion.version if champion else None,
        "metrics": gate.get("candidate"),
        "primary": _primary(gate),
        "data": {k: v for k, v in card["data"].items()},
        "libraries": card.get("libraries", {}),
    }


def _describe_primary(gate: dict, champion) -> str:
    p = _primary(gate)
    if p["delta"] is None:
        return f"{p['metric']} {p['value']:.4f} (first version: beats the naive baseline)"
    return (
        f"{p['metric']} {p['value']:.4f} ({p['delta']:+.4f} vs {champion.version}, "
        f"{p['confidence']:.0%} CI [{p['ci_low']:+.4f}, {p['ci_high']:+.4f}])"
    )


def promoted_by() -> str:
    """Who promotes: the CI run when there is one (its URL), else the local git identity."""
    run = os.environ.get("GITHUB_RUN_ID")
    if run:
        server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{os.environ.get('GITHUB_REPOSITORY', '')}/actions/runs/{run}"
    return "a local run (no CI run id)"


def _commit_message(name, version, bump, gate, champion) -> str:
    return (
        f"promote {name} {version} ({bump}): {_describe_primary(gate, champion)}\n\n"
        f"Promoted-by: {promoted_by()}"
    )


def _lineage_message(name, version, bump, source, card, gate, champion) -> str:
    data = card["data"]
    batches = data.get("batches", [])
    lines = [
        f"{name} {version} ({bump}) — {_describe_primary(gate, champion)}",
        "",
        f"built from commit: {source}",
        f"model md5: {card['model']['md5']} ({card['model']['estimator']})",
        f"raw data md5: {data.get('raw_dir_md5')}",
        f"batches: {len(batches)}"
        + (f" ({batches[0]['batch']} .. {batches[-1]['batch']})" if batches else ""),
        f"train rows: {data['train_rows']} (fingerprint {data['train_fingerprint']})",
        f"hold-out rows: {data['holdout_rows']} (fingerprint {data['holdout_fingerprint']})",
        f"window: {data['window'].get('start')} .. {data['window'].get('end')}",
        f"previous champion: {champion.version if champion else 'none'}",
        f"promoted by: {promoted_by()}",
    ]
    return "\n".join(lines)


def _previous_champion(registry: Registry, name: str, current: str | None) -> str:
    for event in reversed(registry.assignments(name)):
        if event.action == "assign" and event.version and event.version != current:
            return event.version
    raise Refused(f"{name}: no earlier version was ever in {PROD}; name one to roll back to")


def json_at(git: _Git, rev: str, path: str) -> dict | None:
    """A JSON file as committed at rev, or None."""
    import json

    text = git("show", f"{rev}:{path}", check=False)
    return json.loads(text) if text else None


def model_in_remote(root: Path, md5: str) -> bool:
    """Whether the default DVC remote holds the object with this md5."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        return repo.cloud.get_remote_odb(command="rollback").exists(md5)


# A push that lost a race: someone else moved the branch or took the tag first.
_LOST_RACE = ("non-fast-forward", "fetch first", "already exists", "stale info")


@dataclass(frozen=True)
class _Restore:
    """How to undo: reset the branch to `start`, then take `paths` back from `rev`."""

    start: str
    rev: str | None = None
    paths: list[str] = field(default_factory=list)


def _publish(
    git: _Git,
    root: Path,
    remote: str,
    branch: str,
    commit: str,
    tags: list[str],
    messages: list[str],
    registry: Registry | None,
    dvc_push: Callable[[Path], None] | None,
    outcome: Outcome,
    restore: _Restore,
    tag_commits: list[str] | None = None,
) -> Outcome:
    """Tag, push the data, then push commit and tags atomically; undo everything on failure."""
    # GTO orders assignments by tag time (seconds): keep each new tag strictly later.
    created = max(int(time.time()), registry.last_created() + 1 if registry else 0)
    try:
        for tag, message, target in zip(
            tags, messages, tag_commits or [commit] * len(tags), strict=True
        ):
            git(
                "tag",
                "--annotate",
                tag,
                target,
                "--message",
                message,
                env={"GIT_COMMITTER_DATE": f"{created} +0000"},
            )
            created += 1
        if dvc_push is not None:
            dvc_push(root)
        git(
            "push",
            "--atomic",
            remote,
            f"HEAD:refs/heads/{branch}",
            *(f"refs/tags/{tag}" for tag in tags),
        )
    except (GitFailed, CommandFailed) as exc:
        _undo(git, tags, restore)
        output = getattr(exc, "output", str(exc))
        rejected = isinstance(exc, GitFailed) and any(word in output for word in _LOST_RACE)
        return Outcome(
            REFUSED if rejected else ERROR,
            (
                "the remote rejected the push (another run pushed first?): "
                if rejected
                else "publishing failed; the champion is unchanged and nothing was pushed: "
            )
            + output.strip()[-800:],
            outcome.version,
            outcome.previous,
            gate=outcome.gate,
        )
    return outcome


def _undo(git: _Git, tags: list[str], restore: _Restore) -> None:
    """Drop the local tags and commits, and take the restored paths back; keep the rest."""
    from datawheel.io.process import dvc

    for tag in tags:
        git("tag", "--delete", tag, check=False)
    git("reset", "--quiet", "--mixed", restore.start)
    if restore.rev and restore.paths:
        for path in restore.paths:  # one at a time: a path missing at rev must not stop the rest
            git("checkout", restore.rev, "--", path, check=False)
        dvc("checkout", "--quiet", cwd=git.root, check=False)
