"""Reading what DVC tracks: pointer hashes and cached objects, through DVC's own API."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from datawheel.errors import IntegrityError
from datawheel.fileio import file_md5


def pointer_md5(pointer: Path) -> str | None:
    """The md5 a .dvc pointer file records for its output (a directory's ends in .dir)."""
    if not pointer.exists():
        return None
    data = yaml.safe_load(pointer.read_text(encoding="utf-8")) or {}
    outs = data.get("outs") or [{}]
    return outs[0].get("md5")


def cached_object(md5: str, root: Path = Path(".")) -> Path | None:
    """Where the local DVC cache keeps the object with this md5, if it is there."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        path = Path(repo.cache.local.oid_to_path(md5))
    return path if path.is_file() else None


def fetch_file_bytes(path: str, rev: str, md5: str, root: Path = Path(".")) -> bytes:
    """A DVC-tracked file's bytes at a revision, from the local cache or the remote, verified."""
    local = cached_object(md5, root)
    if local is not None:
        if file_md5(local) != md5:
            raise IntegrityError(
                f"{path}: the DVC cache object for md5 {md5} is corrupted "
                f"(rule: cache_integrity); delete {local} and run `dvc pull`"
            )
        return local.read_bytes()
    import dvc.api

    data = dvc.api.read(path, repo=str(root), rev=rev, mode="rb")
    actual = hashlib.md5(data).hexdigest()
    if actual != md5:
        raise IntegrityError(
            f"{path}@{rev}: expected md5 {md5}, the DVC remote gave {actual} "
            "(rule: remote_integrity)"
        )
    return data
