"""Reading what DVC tracks: pointer hashes and cached objects, through DVC's own API.

`fetch_by_md5` is the one verified fetch of a tracked file (a batch at a commit, a
registered model): its bytes come from the local cache, else the default remote, and are
returned only when their md5 is the one asked for. Its errors follow one rule: each names
the file (`label`), the md5 and what to run; a hash mismatch is an `IntegrityError`
(rule `cache_integrity` or `remote_integrity`), an object on neither side a
`MissingObjectError`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml

from datawheel.errors import IntegrityError, MissingObjectError


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


def fetch_by_md5(md5: str, label: str, root: Path = Path("."), repo: Any = None) -> bytes:
    """A DVC-tracked file's bytes by its md5 alone: the local cache, else the default remote.

    No git revision is needed, so this works where revisions and tags are missing (a
    `dvc exp run --temp` or `--queue` workspace has neither). The bytes are checked against
    the md5 before they are returned; `label` names the file in errors. `repo`: an open DVC
    Repo to reuse, else one is opened at `root`.
    """
    if repo is None:
        from dvc.repo import Repo

        with Repo(str(root)) as opened:
            return fetch_by_md5(md5, label, repo=opened)
    local = Path(repo.cache.local.oid_to_path(md5))
    if local.is_file():
        return _verified(
            local.read_bytes(),
            md5,
            label,
            f"the DVC cache object {local}",
            "cache_integrity",
            f"delete {local} and run `dvc pull`",
        )
    remote, data = _remote_bytes(repo, md5, label)
    return _verified(
        data,
        md5,
        label,
        f"the DVC remote {remote!r}",
        "remote_integrity",
        "the object was altered after it was pushed: remove it from the remote and "
        "`dvc push` again from the clone that made the file",
    )


def _verified(data: bytes, md5: str, label: str, source: str, rule: str, fix: str) -> bytes:
    """data if its md5 is md5, else IntegrityError naming label, both md5s and the fix."""
    actual = hashlib.md5(data).hexdigest()
    if actual != md5:
        raise IntegrityError(
            f"{label}: {source} for md5 {md5} is corrupted: its bytes have md5 {actual} "
            f"(rule: {rule}); {fix}"
        )
    return data


def _remote_bytes(repo: Any, md5: str, label: str) -> tuple[str, bytes]:
    """The object's bytes from the default remote's object store, read by hash into memory:
    nothing unverified reaches the local cache (a `dvc pull` would store it there first)."""
    from dvc.config import NoRemoteError
    from dvc.exceptions import DvcException

    name = repo.config["core"].get("remote")
    try:
        odb = repo.cloud.get_remote_odb(command="fetch")
        obj = odb.get(md5)
        return name, obj.fs.cat_file(obj.path)
    except NoRemoteError:
        raise MissingObjectError(
            f"{label} (md5 {md5}) is not in the local DVC cache and no default DVC remote is "
            "set; add one (`dvc remote add -d NAME URL`) and run `dvc pull`"
        ) from None
    except (OSError, DvcException) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MissingObjectError(
            f"{label} (md5 {md5}) is neither in the local DVC cache nor on the DVC remote "
            f"{name!r} ({reason}); run `dvc pull` where the remote is reachable (check it "
            "with `dvc remote list`), or `dvc push` from the clone that made it"
        ) from None
