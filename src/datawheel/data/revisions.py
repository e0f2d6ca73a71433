"""A datawheel project read at any git revision, without checking anything out.

Git-tracked files (params.yaml, expectations/, dvc.lock, reports/*.json) are read from the
revision's git tree. DVC-tracked data is found through DVC's own records at that revision:
the `.dvc` pointer or dvc.lock entry gives the output's md5; for a directory (`data/raw`)
that md5 names a `.dir` object, the JSON manifest of {relpath, md5} of every file in it, so
listing a revision's batches reads one small object and no data. A file's bytes are read by
its md5 (`datawheel.io.dvc.fetch_by_md5`): the local DVC cache, else the default DVC remote's
object store; a manifest the cache lacks is listed through `dvc.api.DVCFileSystem(repo,
rev=...)`. So a CI job that checked out HEAD, ran `dvc pull` (or nothing) and `git fetch`ed
the base commit can read both. Every object read is checked against its md5.

Pipeline results (dvc.lock, reports/*.json, models/*.json) of the commit that is checked out
are read from the working tree when asked (`worktree=True`): a pull request's CI job runs
`dvc repro` on the checked-out merge commit and reviews it without committing the results.
Data, params and suites always come from the commit itself.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from datawheel.config import catalog
from datawheel.config.params import Contract, Params, merge_dvc_vars, parse_params
from datawheel.errors import (
    DataContractError,
    DatawheelError,
    MissingObjectError,
    ParamsError,
)

if TYPE_CHECKING:  # pandas and the ingest machinery load when data is read, not to read git
    import pandas as pd

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available


class RevisionError(DatawheelError):
    """A revision, or something it should hold, cannot be found."""

    exit_code = 2


@dataclass(frozen=True)
class TrackedFile:
    """A DVC-tracked file at a revision: repo-relative path and md5 (as DVC records it)."""

    path: str
    md5: str
    size: int | None = None


class Project:
    """A git + DVC project on disk, read at any revision: `with Project(root) as p: p.at(rev)`."""

    def __init__(self, root: str | Path = ".", worktree_results: bool = True):
        """`worktree_results`: read dvc.lock of the checked-out commit from the working tree
        (a review of a run not committed yet); an audit reads only what was committed."""
        import git

        self.root = Path(root).resolve()
        try:
            self.git = git.Repo(self.root)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise RevisionError(f"{self.root}: not a git repository") from None
        self.worktree_results = worktree_results
        self._dvc: Any = None
        try:
            self.checked_out: str | None = self.git.head.commit.hexsha
        except ValueError:  # no commit yet
            self.checked_out = None
        self._filesystems: dict[str, Any] = {}
        self._revisions: dict[str, Revision] = {}

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for fs in self._filesystems.values():
            fs.close()
        self._filesystems.clear()
        if self._dvc is not None:
            self._dvc.close()
            self._dvc = None
        self.git.close()

    def commit_of(self, rev: str) -> str:
        """The full commit hash a revision (branch, tag, sha, HEAD~1...) names."""
        import git

        try:
            return self.git.commit(rev).hexsha
        except (git.BadName, ValueError, git.GitCommandError):
            raise RevisionError(
                f"revision {rev!r} not found in {self.root}; in CI, fetch it first "
                f"(`git fetch origin {rev}` or `actions/checkout` with fetch-depth: 0)"
            ) from None

    def at(self, rev: str) -> Revision:
        """The project as of a revision (cached per commit)."""
        commit = self.commit_of(rev)
        if commit not in self._revisions:
            self._revisions[commit] = Revision(self, rev, commit)
        return self._revisions[commit]

    @property
    def dvc(self) -> Any:
        """DVC's Repo for the working copy: its cache holds every revision's objects."""
        if self._dvc is None:
            from dvc.repo import Repo

            self._dvc = Repo(str(self.root))
        return self._dvc

    def cached_path(self, md5: str) -> Path | None:
        """Where the local DVC cache keeps an object, if it has it."""
        path = Path(self.dvc.cache.local.oid_to_path(md5))
        return path if path.is_file() else None

    def filesystem(self, commit: str) -> Any:
        """DVC's filesystem at a commit: git files plus DVC data from the cache or remote."""
        if commit not in self._filesystems:
            from dvc.api import DVCFileSystem

            self._filesystems[commit] = DVCFileSystem(str(self.root), rev=commit)
        return self._filesystems[commit]


@dataclass
class Revision:
    """One commit of a project; every read is of that commit, never the working tree."""

    project: Project
    rev: str
    commit: str
    _params: Params | None = field(default=None, repr=False)
    _yaml: dict[tuple[str, bool], Any] = field(default_factory=dict, repr=False)

    @property
    def short(self) -> str:
        return self.commit[:8]

    # --- git-tracked files -------------------------------------------------------------

    def _blob(self, path: str) -> Any:
        tree = self.project.git.commit(self.commit).tree
        try:
            item = tree / path
        except KeyError:
            return None
        return item if item.type == "blob" else None

    def read_bytes_git(self, path: str) -> bytes | None:
        """A git-tracked file's bytes at this commit, or None if it is not there."""
        blob = self._blob(path)
        return None if blob is None else blob.data_stream.read()

    @property
    def live(self) -> bool:
        """This commit is the one checked out in the working tree."""
        return self.commit == self.project.checked_out

    def from_worktree(self, path: str) -> bool:
        """A pipeline result read from the working tree differs from this commit's copy."""
        return self.live and self.read_bytes(path, worktree=True) != self.read_bytes_git(path)

    def read_bytes(self, path: str, worktree: bool = False) -> bytes | None:
        """A git-tracked file at this commit. With `worktree`, a pipeline result (dvc.lock,
        reports/, models/*.json) is read from the working tree instead when this commit is
        checked out there: a run not committed yet, as in a pull request's CI job."""
        if worktree and self.live:
            local = self.project.root / path
            if local.is_file():
                return local.read_bytes()
        return self.read_bytes_git(path)

    def read_text(self, path: str, worktree: bool = False) -> str | None:
        data = self.read_bytes(path, worktree)
        return None if data is None else data.decode("utf-8")

    def read_json(self, path: str, default: Any = None, worktree: bool = False) -> Any:
        text = self.read_text(path, worktree)
        if text is None:
            return default
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise RevisionError(f"{path}@{self.short}: not valid JSON: {exc}") from None

    def read_yaml(self, path: str, default: Any = None, worktree: bool = False) -> Any:
        """A YAML file at this commit, parsed once (treat the result as read-only)."""
        key = (path, worktree)
        if key not in self._yaml:
            text = self.read_text(path, worktree)
            try:
                self._yaml[key] = None if text is None else yaml.load(text, Loader=_LOADER)
            except yaml.YAMLError as exc:
                raise RevisionError(f"{path}@{self.short}: not valid YAML: {exc}") from None
        value = self._yaml[key]
        return default if value is None else value

    def list_files(self, folder: str, suffix: str = "") -> list[str]:
        """Paths of the git-tracked files directly in a folder, sorted."""
        tree = self.project.git.commit(self.commit).tree
        try:
            sub = tree / folder.rstrip("/")
        except KeyError:
            return []
        paths = [str(b.path) for b in sub.blobs]  # gitpython types a blob's path as PathLike
        return sorted(p for p in paths if p.endswith(suffix))

    def params(self) -> Params:
        """params.yaml at this commit with dvc.yaml's `paths` and `registry` vars, validated."""
        if self._params is None:
            data = self.read_yaml(catalog.PARAMS)
            if not isinstance(data, dict):
                raise ParamsError(f"{catalog.PARAMS}@{self.short}: missing or not a mapping")
            source = f"{catalog.PARAMS}@{self.short}"
            merged = merge_dvc_vars(
                data,
                self.read_yaml(catalog.DVC_YAML, default={}),
                source,
                f"{catalog.DVC_YAML}@{self.short}",
            )
            self._params = parse_params(merged, source)
        return self._params

    def raw_params(self) -> dict[str, Any]:
        """params.yaml at this commit as plain data ({} when absent)."""
        data = self.read_yaml(catalog.PARAMS, default={})
        return data if isinstance(data, dict) else {}

    def suites(self) -> dict[str, dict[str, Any]]:
        """The expectation suites at this commit: {file path: suite JSON}."""
        folder = self.params().paths.expectations
        return {path: self.read_json(path) for path in self.list_files(folder, ".json")}

    # --- DVC-tracked data --------------------------------------------------------------

    def output_md5(self, path: str) -> str | None:
        """The md5 DVC records for an output at this commit: its `.dvc` pointer, or dvc.lock
        (from the working tree when this commit is checked out and the pipeline ran there)."""
        pointer = self.read_yaml(f"{path}.dvc")
        if isinstance(pointer, dict):
            for out in pointer.get("outs") or []:
                if out.get("path") == posixpath.basename(path) and out.get("md5"):
                    return str(out["md5"])
        worktree = self.project.worktree_results
        lock = self.read_yaml(catalog.DVC_LOCK, default={}, worktree=worktree) or {}
        for stage in (lock.get("stages") or {}).values():
            for out in stage.get("outs") or []:
                if out.get("path") == path and out.get("md5"):
                    return str(out["md5"])
        return None

    def _manifest(self, path: str, dir_md5: str) -> list[TrackedFile]:
        """The files of a tracked directory from its `.dir` object: cache, else DVC's fs."""
        cached = self.project.cached_path(dir_md5)
        if cached is not None:
            entries = json.loads(cached.read_text(encoding="utf-8"))
            return sorted(
                (TrackedFile(f"{path}/{e['relpath']}", e["md5"], e.get("size")) for e in entries),
                key=lambda f: f.path,
            )
        fs = self.project.filesystem(self.commit)
        unavailable: tuple[type[Exception], ...] = (OSError, *_dvc_errors())
        try:
            found = fs.find(path, detail=True, dvc_only=True)
        except unavailable as exc:
            raise RevisionError(
                f"{path}@{self.short}: its DVC manifest {dir_md5} is neither in the local DVC "
                f"cache nor on the DVC remote ({exc}); check the remote and your access to it "
                "(`dvc remote list`), or `dvc push` from the clone that added the data"
            ) from None
        files = []
        for name, info in found.items():
            md5 = (info.get("dvc_info") or {}).get("md5")
            if md5:
                files.append(TrackedFile(name.lstrip("/"), md5, info.get("size")))
        return sorted(files, key=lambda f: f.path)

    def tracked_dir(self, path: str) -> list[TrackedFile]:
        """Every file of a DVC-tracked directory at this commit, with md5s; [] if untracked."""
        md5 = self.output_md5(path)
        if md5 is None:
            return []
        if not md5.endswith(".dir"):
            return [TrackedFile(path, md5)]
        return self._manifest(path, md5)

    def tracked_file(self, path: str) -> TrackedFile | None:
        """A DVC-tracked file at this commit (itself an output, or inside a tracked directory)."""
        md5 = self.output_md5(path)
        if md5 is not None and not md5.endswith(".dir"):
            return TrackedFile(path, md5)
        parent = posixpath.dirname(path)
        while parent:
            parent_md5 = self.output_md5(parent)
            if parent_md5 is not None:
                for item in self.tracked_dir(parent):
                    if item.path == path:
                        return item
                return None
            parent = posixpath.dirname(parent)
        return None

    def raw_batches(self) -> list[TrackedFile]:
        """The raw batches ingest reads (CSV, TSV, Parquet, JSON lines), sorted; no data read."""
        raw = self.params().paths.raw.rstrip("/")
        from datawheel.data.batches import BATCH_SUFFIXES

        return [f for f in self.tracked_dir(raw) if f.path.lower().endswith(BATCH_SUFFIXES)]

    def read_tracked(self, item: TrackedFile) -> bytes:
        """A DVC-tracked file's bytes, from the local cache or the remote, checked by md5."""
        from datawheel.io.dvc import fetch_by_md5

        try:
            return fetch_by_md5(item.md5, f"{item.path}@{self.short}", repo=self.project.dvc)
        except MissingObjectError as exc:
            raise RevisionError(str(exc)) from None

    def read_parquet(self, path: str) -> pd.DataFrame | None:
        """A DVC-tracked Parquet file at this commit (e.g. data/curated/train.parquet)."""
        import io

        import pandas as pd

        item = self.tracked_file(path)
        if item is None:
            return None
        return pd.read_parquet(io.BytesIO(self.read_tracked(item)))


def _dvc_errors() -> tuple[type[Exception], ...]:
    """What DVC raises when an object is on neither the cache nor the remote."""
    from dvc.exceptions import DvcException
    from dvc_data.index.index import DataIndexError

    return DvcException, DataIndexError


# --- typing a batch, leniently -----------------------------------------------------------


@dataclass
class LoadedBatch:
    """A raw batch read and typed for comparison, even when it breaks the contract.

    `frame` has the provenance columns and the batch's columns: contract columns typed when
    their values parse, anything else kept as text. `error` is the contract error that
    ingest would quarantine the batch for; `kinds` what each column looks like (its contract
    type's kind when its values parse as that type, else inferred from the values).
    """

    path: str
    md5: str
    frame: pd.DataFrame
    kinds: dict[str, str]
    error: str | None = None
    rule: str | None = None
    readable: bool = True

    @property
    def rows(self) -> int:
        return len(self.frame)


def _rule(message: str) -> str:
    return message.rsplit("(rule: ", 1)[-1].split(")", 1)[0] if "(rule: " in message else "contract"


def infer_kind(values: pd.Series) -> str:
    """What a column's values look like: int, float, bool, datetime, string, or empty."""
    import pandas as pd

    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(values):
        return "datetime"
    if pd.api.types.is_bool_dtype(values):
        return "bool"
    if pd.api.types.is_integer_dtype(values):
        return "int"
    if pd.api.types.is_float_dtype(values):
        return "float" if values.notna().any() else "empty"
    text = values.dropna().astype("str").str.strip()
    if text.empty:
        return "empty"
    if text.str.fullmatch(r"[+-]?\d+").all():
        return "int"
    if pd.to_numeric(text, errors="coerce").notna().all():
        return "float"
    if text.str.lower().isin(["true", "false"]).all():
        return "bool"
    if text.str.match(r"\d{4}-\d{2}-\d{2}").all():
        parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
        if parsed.notna().all():
            return "datetime"
    return "string"


_CONTRACT_KINDS = {
    "int": "int",
    "float": "float",
    "datetime": "datetime",
    "bool": "bool",
    "category": "string",
    "string": "string",
}


def contract_kind(column_type: str) -> str:
    """The look of values of a contract type (category and string both look like text)."""
    return _CONTRACT_KINDS.get(column_type, "string")


def _lenient(raw: pd.DataFrame, contract: Contract) -> tuple[pd.DataFrame, dict[str, str]]:
    """Contract columns typed where every value parses, the rest kept as text (nothing
    dropped); and each column's kind: its contract type's if it parsed, else inferred."""
    import pandas as pd

    from datawheel.data.contract import parse_column

    typed, kinds = {}, {}
    for column in raw.columns:
        values = raw[column]
        spec = contract.columns.get(column)
        if spec is not None:
            parsed = parse_column(values, spec.type)
            if not (parsed.isna() & values.notna()).any():
                typed[column] = parsed
                kinds[str(column)] = contract_kind(spec.type) if values.notna().any() else "empty"
                continue
        typed[column] = values.astype("str").where(values.notna(), None)
        kinds[str(column)] = infer_kind(values)
    return pd.DataFrame(typed, index=raw.index), kinds


def load_batch(data: bytes, path: str, md5: str, contract: Contract) -> LoadedBatch:
    """Read and type a raw batch's bytes as ingest would, keeping a contract breaker readable.

    Row ids are ingest's content hashes when the batch meets the contract, so they match the
    ids of the pipeline's rows; for a batch that breaks it they hash whatever columns it has.
    """
    import pandas as pd

    from datawheel.data.batches import read_raw_bytes
    from datawheel.data.contract import type_batch, with_provenance

    try:
        raw, lines = read_raw_bytes(data, path)
    except DataContractError as exc:
        empty = pd.DataFrame({"row_id": pd.Series([], dtype="str")})
        return LoadedBatch(path, md5, empty, {}, str(exc), _rule(str(exc)), readable=False)
    error = None
    try:
        typed = type_batch(raw, contract, path, lines)
        kinds = {
            c: contract_kind(spec.type) if typed[c].notna().any() else "empty"
            for c, spec in contract.columns.items()
        }
    except DataContractError as exc:
        error = str(exc)
        typed, kinds = _lenient(raw, contract)
    frame = with_provenance(typed, path, md5, lines)
    return LoadedBatch(path, md5, frame, kinds, error, _rule(error) if error else None)
