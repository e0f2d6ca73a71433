"""Audit lineage: from a model version to its commit, params, stage hashes and data, and back.

Everything is read from git and DVC records, never from a checkout:

- the version's GTO tag marks the promotion commit, which holds the dvc.lock of the run that
  built the model, the model card (models/card.json: params, per-batch row survival, library
  versions), the reports (validation, curation, metrics, gate) and the champion pointer,
  whose `commit` is the source commit (the data commit CI ran on);
- the registry's tags give who promoted it, when, and its stage history;
- row-level questions (`--rows`, `--row-id`, `--entity`) read the curated train and
  hold-out Parquet files that dvc.lock records, from the DVC cache or remote, each checked
  against its md5.

A forward trace reads a handful of small git blobs, so it does not grow with the data.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from datawheel.config import catalog
from datawheel.data.revisions import Project, Revision, RevisionError
from datawheel.errors import DatawheelError
from datawheel.io.code import CODE_RECORD
from datawheel.registry.tags import PROD, Registry, RegistryTag, read_registry

if TYPE_CHECKING:  # pandas loads only for row-level questions
    import pandas as pd

STAGE_ORDER = ("ingest", "validate", "curate", "train", "evaluate")
_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")
_MD5 = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Target:
    """What a REF names: a model, the commit holding its records and the commit it came from."""

    name: str
    version: str | None  # None: a commit whose dvc.lock names a model never registered
    commit: str  # the commit whose dvc.lock, card and reports describe the model
    source: str  # the commit whose data, params and code built it
    resolved_as: str  # version, stage, champion, commit, source commit, model md5
    tag: RegistryTag | None = None

    def label(self) -> str:
        return f"{self.name} {self.version}" if self.version else f"commit {self.commit[:8]}"


@dataclass
class VersionUse:
    """One model version's use of a batch, row or entity: how many rows, in which sets."""

    version: str
    commit: str
    train_rows: int
    holdout_rows: int
    ever_in_prod: bool
    in_prod_now: bool
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Tracer:
    """Lineage questions about one project, with the registry read once."""

    def __init__(self, project: Project):
        self.project = project
        self._registry: Registry | None = None
        self._name: str | None = None

    # --- the registry ------------------------------------------------------------------

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = read_registry(self.project.root)
        return self._registry

    @property
    def name(self) -> str:
        """The model's name at HEAD: the `registry.model_name` var that dvc.yaml's artifacts use."""
        if self._name is None:
            self._name = self.project.at("HEAD").params().registry.model_name
        return self._name

    def versions(self) -> list[RegistryTag]:
        return self.registry.versions(self.name)

    def stage_history(self, version: str | None = None) -> list[RegistryTag]:
        """Every assignment to (and unassignment from) any stage, oldest first."""
        stages = sorted({t.stage for t in self.registry.of(self.name) if t.stage})
        events = [e for stage in stages for e in self.registry.assignments(self.name, stage)]
        events.sort(key=lambda e: (e.created, e.counter or 0))
        return [e for e in events if version is None or e.version == version]

    def prod_versions(self) -> tuple[set[str], str | None]:
        """Versions ever assigned to prod, and the one there now."""
        ever = {
            e.version for e in self.registry.assignments(self.name, PROD) if e.action == "assign"
        }
        return {v for v in ever if v}, self.registry.current(self.name, PROD)

    # --- resolving a REF ---------------------------------------------------------------

    def resolve(self, ref: str) -> Target:
        """A registry version, a stage, `champion`, a commit or a model md5 → the Target."""
        text = ref.strip()
        if text.startswith(f"{self.name}@"):
            text = text.split("@", 1)[1]
        if text == "champion":
            pointer = self._champion_path()
            record = self.project.at("HEAD").read_json(pointer, default={})
            if not record or not record.get("version"):
                raise TraceError(f"{pointer} at HEAD names no champion yet")
            return self._version_target(record["version"], "champion")
        stages = {t.stage for t in self.registry.of(self.name) if t.stage}
        if text in stages:
            version = self.registry.current(self.name, text)
            if version is None:
                raise TraceError(f"no {self.name} version is in stage {text!r} now")
            return self._version_target(version, f"stage {text}")
        if _VERSION.match(text):
            return self._version_target(text if text.startswith("v") else f"v{text}", "version")
        if _MD5.match(text.lower()):
            found = self._version_by_model_md5(text.lower())
            if found is not None:
                return self._version_target(found, "model md5")
        try:
            commit = self.project.commit_of(text)
        except RevisionError:
            raise TraceError(
                f"{ref!r} is neither a {self.name} version, a stage, `champion`, a model md5 "
                "nor a commit of this repository (registered versions: "
                f"{', '.join(t.version or '' for t in self.versions()) or 'none'})"
            ) from None
        return self._commit_target(commit)

    def _champion_path(self) -> str:
        return self.project.at("HEAD").params().paths.champion

    def _version_target(self, version: str, how: str) -> Target:
        tag = self.registry.version_tag(self.name, version)
        if tag is None:
            known = ", ".join(t.version or "" for t in self.versions()) or "none"
            raise TraceError(f"{self.name} {version} is not a registered version (known: {known})")
        record = self.project.at(tag.commit).read_json(self._champion_path(), default={}) or {}
        source = record.get("commit") if record.get("version") == version else None
        return Target(self.name, version, tag.commit, source or tag.commit, how, tag)

    def _commit_target(self, commit: str) -> Target:
        version = self.registry.version_at(self.name, commit)
        if version:
            return self._version_target(version, "commit")
        for tag in self.versions():
            target = self._version_target(tag.version or "", "source commit")
            if target.source == commit:
                return target
            if self._reproduces(target.source, commit):
                return self._version_target(tag.version or "", "data commit")
        return Target(self.name, None, commit, commit, "commit")

    def _reproduces(self, source: str, commit: str) -> bool:
        """Whether `source` is the commit `datawheel record` made of `commit`'s repro."""
        made = self.project.git.commit(source)
        return [p.hexsha for p in made.parents] == [commit] and str(made.summary).startswith(
            "reproduce "
        )

    def _version_by_model_md5(self, md5: str) -> str | None:
        for tag in reversed(self.versions()):
            if self._card(tag.commit).get("model", {}).get("md5") == md5:
                return tag.version
        return None

    def _card(self, commit: str) -> dict[str, Any]:
        at = self.project.at(commit)
        return at.read_json(at.params().paths.card, default={}) or {}

    # --- forward trace -----------------------------------------------------------------

    def trace(self, target: Target) -> dict[str, Any]:
        """Everything recorded about how the target's model was made, as plain data."""
        at = self.project.at(target.commit)
        params = at.params()
        paths = params.paths
        card = at.read_json(paths.card, default={}) or {}
        artifacts = params.artifacts
        lock = at.read_yaml(catalog.DVC_LOCK, default={}) or {}
        curation = at.read_json(artifacts.curation, default={}) or {}
        validation = at.read_json(artifacts.validation, default={}) or {}
        # The gate that promoted, and what it measured, are the source commit's: the
        # promotion commit re-evaluates with the new pointer (the candidate is the champion).
        decided = self.project.at(target.source)
        gate = decided.read_json(artifacts.gate, default={}) or {}
        metrics = decided.read_json(artifacts.metrics, default={}) or {}
        stages = lock_stages(lock)
        model_md5 = card.get("model", {}).get("md5")
        lock_model_md5 = _out_md5(stages, paths.model)
        ever, now = self.prod_versions()
        return {
            "ref_resolved_as": target.resolved_as,
            "model": {
                "name": target.name,
                "version": target.version,
                "registered": target.version is not None,
                "path": paths.model,
                "md5": model_md5 or lock_model_md5,
                "estimator": card.get("model", {}).get("estimator"),
                "in_prod_now": target.version is not None and target.version == now,
                "ever_in_prod": target.version in ever,
            },
            "commits": {
                "source": commit_info(self.project, target.source),
                "record": commit_info(self.project, target.commit),
            },
            "params": card.get("params") or at.raw_params(),
            "gate_params": at.raw_params().get("gate", {}),
            "stages": stages,
            "data": {
                key: value for key, value in (card.get("data") or {}).items() if key != "batches"
            },
            "batches": (card.get("data") or {}).get("batches", []),
            "curation": curation.get("counts", {}),
            "validation": validation_summary(validation),
            "metrics": metrics,
            "gate": gate,
            "promotion": self._promotion(target),
            "code": card.get("code") or {},
            "libraries": card.get("libraries", {}),
            "consistency": consistency(card, stages, model_md5, lock_model_md5, target, at),
        }

    def _promotion(self, target: Target) -> dict[str, Any] | None:
        if target.tag is None:
            return None
        annotated = self.project.git.tag(f"refs/tags/{target.tag.tag}").tag
        assert annotated is not None  # GTO tags are annotated (read_registry skips the others)
        message = annotated.message
        fields = dict(
            (k.strip(), v.strip())
            for k, _, v in (line.partition(":") for line in message.splitlines())
            if _ and k.strip() in ("promoted by", "previous champion", "built from commit")
        )
        return {
            "tag": target.tag.tag,
            "tagger": target.tag.tagger,
            "date": iso_time(target.tag.created),
            "promoted_by": fields.get("promoted by"),
            "previous_champion": fields.get("previous champion"),
            "message": message.strip(),
            "stage_history": [
                {
                    "stage": e.stage,
                    "action": e.action,
                    "tag": e.tag,
                    "date": iso_time(e.created),
                    "tagger": e.tagger,
                }
                for e in self.stage_history(target.version)
            ],
        }

    # --- rows --------------------------------------------------------------------------

    def rows(self, target: Target) -> pd.DataFrame:
        """The exact train and hold-out rows of the target's model, with their provenance."""
        import pandas as pd

        at = self.project.at(target.commit)
        params = at.params()
        frames = [frame.assign(set=name) for name, frame in curated_frames(at).items()]
        rows = pd.concat(frames, ignore_index=True)
        curation = at.read_json(params.artifacts.curation, default={}) or {}
        flagged = {r["row_id"] for r in curation.get("flagged", [])}
        rows["label_issue"] = rows["row_id"].isin(flagged)
        id_column = params.contract.id_column
        columns = ["set", "row_id", id_column, "batch", "batch_md5", "line", "label_issue"]
        rows = rows[columns].rename(columns={id_column: "entity"})
        rows.insert(0, "version", target.version or "")
        rows["line"] = rows["line"].astype("int64")
        return rows.sort_values(["set", "batch", "line"], kind="stable").reset_index(drop=True)

    # --- reverse trace -----------------------------------------------------------------

    def versions_using_batch(self, batch: str) -> list[VersionUse]:
        """Every version whose train or hold-out rows came from this raw batch (card only)."""
        wanted = batch.strip().lstrip("./")
        ever, now = self.prod_versions()
        uses = []
        for tag in self.versions():
            for entry in (self._card(tag.commit).get("data") or {}).get("batches", []):
                if not _same_batch(entry["batch"], wanted):
                    continue
                train = int(entry.get("train", 0)) + int(entry.get("train_label_issue", 0))
                holdout = int(entry.get("holdout", 0))
                if train or holdout:
                    detail = {"batch": entry["batch"], "md5": entry.get("md5"), "survival": entry}
                    uses.append(_use(tag, train, holdout, ever, now, detail))
        return uses

    def versions_using_rows(
        self, *, row_id: str | None = None, entity: str | None = None, progress=None
    ) -> list[VersionUse]:
        """Every version whose curated train or hold-out data holds this row id or entity."""
        ever, now = self.prod_versions()
        seen: dict[tuple[tuple[str, str | None], ...], dict[str, pd.DataFrame]] = {}
        tags = self.versions()
        uses = []
        for tag in progress(tags) if progress else tags:
            at = self.project.at(tag.commit)
            contract = at.params().contract
            id_column = contract.id_column
            wanted = None if entity is None else _typed_entity(entity, contract)
            key = tuple(sorted(_curated_md5s(at).items()))
            if key not in seen:
                seen[key] = curated_frames(at, columns=["row_id", id_column, "batch", "line"])
            counts, detail = {}, {}
            for name, frame in seen[key].items():
                if row_id is not None:
                    hit = frame[frame["row_id"] == row_id]
                else:
                    hit = frame[(frame[id_column] == wanted).fillna(False).astype(bool)]
                counts[name] = len(hit)
                if len(hit):
                    detail[name] = [
                        {
                            "row_id": r.row_id,
                            "batch": r.batch,
                            # pandas-stubs types every itertuples field as any scalar (even None).
                            "line": int(r.line),  # type: ignore[arg-type]
                        }
                        for r in hit.sort_values(["batch", "line"]).itertuples(index=False)
                    ]
            if counts.get("train") or counts.get("holdout"):
                uses.append(
                    _use(tag, counts.get("train", 0), counts.get("holdout", 0), ever, now, detail)
                )
        return uses


class TraceError(DatawheelError):
    """A REF or a record that the trace needs cannot be found."""

    exit_code = 2


# --- helpers ----------------------------------------------------------------------------


def lock_stages(lock: dict[str, Any]) -> list[dict[str, Any]]:
    """dvc.lock's stages in pipeline order, each with cmd, deps, params and outs (md5s)."""
    stages = lock.get("stages") or {}
    order = [s for s in STAGE_ORDER if s in stages] + sorted(set(stages) - set(STAGE_ORDER))
    out = []
    for name in order:
        stage = stages[name] or {}
        out.append(
            {
                "stage": name,
                "cmd": stage.get("cmd"),
                "deps": [_entry(d) for d in stage.get("deps") or []],
                "params": stage.get("params") or {},
                "outs": [_entry(o) for o in stage.get("outs") or []],
            }
        )
    return out


def _entry(item: dict[str, Any]) -> dict[str, Any]:
    return {"path": item.get("path"), "md5": item.get("md5"), "size": item.get("size")}


def _out_md5(stages: list[dict[str, Any]], path: str) -> str | None:
    for stage in stages:
        for out in stage["outs"]:
            if out["path"] == path:
                return out["md5"]
    return None


def _curated_md5s(at: Revision) -> dict[str, str | None]:
    artifacts = at.params().artifacts
    found = {}
    for name, path in (("train", artifacts.train), ("holdout", artifacts.holdout)):
        item = at.tracked_file(path)
        found[name] = item.md5 if item else None
    return found


def curated_frames(at: Revision, columns: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """The curated train and hold-out frames a commit's dvc.lock records, read and verified."""
    import io

    import pandas as pd

    artifacts = at.params().artifacts
    frames = {}
    for name, path in (("train", artifacts.train), ("holdout", artifacts.holdout)):
        item = at.tracked_file(path)
        if item is None:
            raise TraceError(
                f"{path}@{at.short}: {catalog.DVC_LOCK} at this commit records no such output; the "
                "pipeline did not run to curate at this commit"
            )
        frames[name] = pd.read_parquet(io.BytesIO(at.read_tracked(item)), columns=columns)
    return frames


def _same_batch(recorded: str, wanted: str) -> bool:
    return recorded == wanted or recorded.endswith(f"/{wanted}") or wanted.endswith(f"/{recorded}")


def _use(
    tag: RegistryTag, train: int, holdout: int, ever: set[str], now: str | None, detail: dict
) -> VersionUse:
    version = tag.version or ""
    return VersionUse(
        version, tag.commit, int(train), int(holdout), version in ever, version == now, detail
    )


def commit_info(project: Project, commit: str) -> dict[str, Any]:
    c = project.git.commit(commit)
    return {
        "sha": c.hexsha,
        "author": f"{c.author.name} <{c.author.email}>",
        "date": c.authored_datetime.isoformat(),
        "committer": f"{c.committer.name} <{c.committer.email}>",
        "subject": c.summary if isinstance(c.summary, str) else c.summary.decode(),
    }


def iso_time(unix: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(unix, dt.UTC).isoformat()


def validation_summary(validation: dict[str, Any]) -> dict[str, Any]:
    """Whether validation passed, its totals, and each batch that failed with its rules."""
    failed = []
    for batch in validation.get("batches", []):
        rules = [
            {
                "rule": f"{o['suite']}/{o['expectation_type']}"
                + (f"/{o['column']}" if o.get("column") else ""),
                "severity": o.get("severity"),
                "unexpected_count": o.get("unexpected_count"),
            }
            for o in batch.get("outcomes", [])
            if not o.get("success")
        ]
        if rules or batch.get("status") not in ("passed", None):
            failed.append(
                {
                    "batch": batch.get("batch"),
                    "md5": batch.get("md5"),
                    "status": batch.get("status"),
                    "quarantined_rows": batch.get("quarantined_rows", 0),
                    "failed": rules,
                }
            )
    return {
        "passed": validation.get("passed"),
        "totals": validation.get("totals", {}),
        "batches_with_findings": failed,
    }


def consistency(
    card: dict, stages: list[dict], model_md5, lock_md5, target: Target, at: Revision
) -> list[dict[str, Any]]:
    """Cross-checks between the records: each is a fact an auditor can re-derive."""
    checks = [
        {
            "check": "model card md5 = dvc.lock train output md5",
            "ok": model_md5 is not None and model_md5 == lock_md5,
            "detail": f"{model_md5} / {lock_md5}",
        }
    ]
    if target.version is not None:
        record = at.read_json(at.params().paths.champion, default={}) or {}
        checks.append(
            {
                "check": "champion record at the version's commit names it, with that md5",
                "ok": record.get("version") == target.version
                and record.get("model_md5") == model_md5,
                "detail": f"{record.get('version')} {record.get('model_md5')}",
            }
        )
    raw = at.params().paths.raw
    raw_dep = next(
        (d["md5"] for s in stages if s["stage"] == "ingest" for d in s["deps"] if d["path"] == raw),
        None,
    )
    recorded_raw = (card.get("data") or {}).get("raw_dir_md5")
    source_raw = at.project.at(target.source).output_md5(raw)
    checks.append(
        {
            "check": "the source commit's raw data = ingest's recorded input (the records "
            "describe a run on this commit's data)",
            "ok": raw_dep is not None and raw_dep == source_raw,
            "detail": f"{source_raw} / {raw_dep}",
        }
    )
    checks.append(
        {
            "check": "raw data md5 in the card = ingest's recorded input",
            "ok": raw_dep is not None and raw_dep == recorded_raw,
            "detail": f"{recorded_raw} / {raw_dep}",
        }
    )
    recorded_code = at.read_json(CODE_RECORD, default=None)
    if recorded_code is not None:  # a `datawheel init` project: the stages ran this code
        ran = card.get("code") or {}
        checks.append(
            {
                "check": f"code in the card = {CODE_RECORD} (the code the stages depend on)",
                "ok": ran.get("digest") is not None
                and ran.get("digest") == recorded_code.get("digest"),
                "detail": f"{ran.get('digest')} / {recorded_code.get('digest')}",
            }
        )
    return checks


def _typed_entity(entity: str, contract) -> Any:
    """The entity as the contract types its id column, so `2024-01-05`, `2024-01-05T00:00Z`
    or `42` match the stored datetime or int, not only pandas' text form of it."""
    from datawheel.data.contract import parse_value
    from datawheel.errors import ParamsError

    kind = contract.columns[contract.id_column].type
    value = parse_value(entity, kind)
    if value is None:
        raise ParamsError(
            f"--entity {entity!r} is not a {kind}, the type of the id column "
            f"{contract.id_column!r} in the contract"
        )
    return value
