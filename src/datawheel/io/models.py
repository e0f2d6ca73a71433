"""Byte-deterministic, pickle-free model files (skops) and their safe loading.

``skops.io.dump`` is not byte-deterministic: every object's ``id()`` ends up in
the archive and each zip entry carries the write time, so two dumps of the same
fitted model differ and DVC would see every rebuild as a change.
:func:`save_model` therefore rewrites the archive skops produces into a
canonical form:

* ``__id__`` values (written by ``skops.io._utils.get_state`` for every node,
  and used by ``CachedNode`` and load-time memoisation to share objects) are
  renumbered 1, 2, 3, ... in order of first appearance in ``schema.json``.
  Nodes that stand for the same object keep sharing one number, so the loaded
  object graph is unchanged. ``JsonNode`` leaves (str/int/float/bool/None) get
  a number per occurrence: whether two equal immutable values are one object
  depends on interning in the saving process, not on the model.
* zip member names that embed ids (``<id>.npy`` from ``_numpy.py``,
  ``<id>.npz`` from ``_scipy.py``) or a random ``uuid4`` (``<uuid>.bin`` from
  ``_general.bytes_get_state``) are renamed to ``<new id><suffix>``, and the
  ``"file"`` references in the schema are rewritten accordingly.
* ``SetNode`` items are sorted by an id-free key (set iteration order depends on
  ``PYTHONHASHSEED``).
* ``.npz`` members (scipy sparse matrices) are themselves zips with write times;
  they are rewritten with fixed timestamps and no compression.
* ``schema.json`` is written with fixed indentation and separators. Its keys are
  *not* sorted: ``DictNode`` pairs ``key_types`` with ``content`` by position,
  so sorting would change what is loaded.
* members are written in sorted order, uncompressed (``ZIP_STORED``, which does
  not depend on the zlib build), with timestamp 1980-01-01 00:00:00,
  permissions 0644, Unix as the creating system and no extra fields.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import skops.io as sio

from datawheel.errors import IntegrityError
from datawheel.io.files import atomic_write, file_md5

__all__ = [
    "DEFAULT_TRUSTED",
    "ModelIntegrityError",
    "UntrustedModelError",
    "canonical_skops_bytes",
    "file_md5",
    "load_model",
    "model_from_bytes",
    "save_model",
]

# Types that skops does not trust by default but that the supported pipelines
# (ColumnTransformer + imputers/scaler/one-hot + LogisticRegression, Ridge or
# HistGradientBoostingClassifier/Regressor) contain, as listed by
# ``skops.io.get_untrusted_types`` with skops 0.16 / scikit-learn 1.9.
# TreePredictor holds raw node indices that scikit-learn does not bounds-check,
# so only load files whose md5 you pinned (``expected_md5``) with it trusted.
DEFAULT_TRUSTED: tuple[str, ...] = (
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
)

_SCHEMA = "schema.json"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_ZIP_MODE = 0o100644 << 16  # regular file, rw-r--r--
_ZIP_UNIX = 3


class ModelIntegrityError(IntegrityError, ValueError):
    """The model file's md5 is not the expected one."""


class UntrustedModelError(IntegrityError, ValueError):
    """The model file contains types that are not trusted."""


def save_model(model: Any, path: Path) -> str:
    """Save ``model`` with skops as a canonical archive; return the file's md5.

    The same fitted model gives the same bytes in any process. The file is
    written atomically (temporary file in the same folder, then ``os.replace``).
    """
    data = canonical_skops_bytes(sio.dumps(model))
    atomic_write(path, lambda tmp: tmp.write_bytes(data))
    return hashlib.md5(data).hexdigest()


def load_model(
    path: Path,
    expected_md5: str | None,
    trusted: Sequence[str] = DEFAULT_TRUSTED,
) -> Any:
    """Load a skops model file after checking its md5 and the types it contains.

    The file is read once, so the bytes whose md5 is checked are the bytes that
    are audited and loaded. Raises :class:`ModelIntegrityError` if
    ``expected_md5`` is given and does not match, and :class:`UntrustedModelError`
    if the file holds a type that is neither trusted by skops nor listed in
    ``trusted``.
    """
    path = Path(path)
    data = path.read_bytes()
    if expected_md5 is not None:
        actual = hashlib.md5(data).hexdigest()
        expected = expected_md5.strip().lower()
        if actual != expected:
            raise ModelIntegrityError(
                f"model file {path} failed its integrity check: expected md5 "
                f"{expected}, actual md5 {actual}. The file is corrupted or not the "
                f"tracked version; restore it with `dvc checkout {path}` (or "
                f"`dvc pull {path}` if the cache lacks it), or rebuild it with "
                "`dvc repro`."
            )
    return model_from_bytes(data, str(path), trusted)


def model_from_bytes(data: bytes, source: str, trusted: Sequence[str] = DEFAULT_TRUSTED) -> Any:
    """A model from skops bytes already checked by md5 (`datawheel.io.dvc.fetch_by_md5`),
    its types audited as in load_model; `source` names the file in errors."""
    if not zipfile.is_zipfile(io.BytesIO(data)):
        # refused on its first bytes: a pickle (or anything else) is never deserialised
        raise UntrustedModelError(
            f"model file {source} is not a skops archive (not a zip file): refused unread"
        )
    untrusted = sio.get_untrusted_types(data=data)
    allowed = set(trusted)
    refused = [name for name in untrusted if name not in allowed]
    if refused:
        raise UntrustedModelError(
            f"model file {source} contains untrusted types: {', '.join(refused)}. "
            "Review them and pass them in `trusted` only if you trust the file's source."
        )
    return sio.loads(data, trusted=list(untrusted))


def canonical_skops_bytes(data: bytes) -> bytes:
    """Rewrite a skops archive (as from ``skops.io.dumps``) into canonical form."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = {info.filename: zf.read(info) for info in zf.infolist()}
    if _SCHEMA not in members:
        raise ValueError(f"not a skops archive: no {_SCHEMA}")
    schema = json.loads(members.pop(_SCHEMA))

    _sort_sets(schema, members)
    files = _Renumberer(_cached_ids(schema)).run(schema)

    unreferenced = set(members) - set(files)
    if unreferenced:
        raise ValueError(f"skops archive has members the schema does not use: {unreferenced}")
    out: dict[str, bytes] = {}
    for old, new in files.items():
        content = members[old]
        if new.endswith(".npz"):
            content = _canonical_zip(content)
        if out.get(new, content) != content:
            raise ValueError(f"two different skops members would both be named {new}")
        out[new] = content
    out[_SCHEMA] = json.dumps(schema, indent=2, separators=(",", ": ")).encode("utf-8")
    return _canonical_zip_from(out)


def _is_node(obj: Any) -> bool:
    # Node states carry string "__loader__"/"__class__"/"__module__" values; a
    # DictNode's "content" may use such keys, but its values are node dicts.
    return isinstance(obj, dict) and all(
        isinstance(obj.get(key), str) for key in ("__loader__", "__class__", "__module__")
    )


def _children(obj: Any) -> list[Any]:
    if isinstance(obj, dict):
        return list(obj.values())
    if isinstance(obj, list):
        return obj
    return []


def _cached_ids(schema: Any) -> set[Any]:
    """Ids that ``CachedNode`` states refer to (skops 0.16 does not write any)."""
    found: set[Any] = set()
    stack = [schema]
    while stack:
        obj = stack.pop()
        if _is_node(obj) and obj["__loader__"] == "CachedNode" and "__id__" in obj:
            found.add(obj["__id__"])
        stack.extend(_children(obj))
    return found


def _id_free(obj: Any, members: dict[str, bytes]) -> Any:
    """A copy of a state without ids; member names replaced by their content hash."""
    if isinstance(obj, list):
        return [_id_free(item, members) for item in obj]
    if not isinstance(obj, dict):
        return obj
    node = _is_node(obj)
    res = {}
    for key, value in obj.items():
        if node and key == "__id__":
            continue
        if node and key == "file" and isinstance(value, str) and value in members:
            value = hashlib.sha256(members[value]).hexdigest()
        res[key] = _id_free(value, members)
    return res


def _sort_sets(obj: Any, members: dict[str, bytes]) -> None:
    for child in _children(obj):
        _sort_sets(child, members)
    if _is_node(obj) and obj["__loader__"] == "SetNode" and isinstance(obj.get("content"), list):
        obj["content"].sort(
            key=lambda item: json.dumps(_id_free(item, members), sort_keys=True, default=str)
        )


class _Renumberer:
    """Renumber ``__id__`` values in order of first appearance; rename members."""

    def __init__(self, shared_leaf_ids: set[Any]) -> None:
        self.ids: dict[Any, int] = {}
        self.files: dict[str, str] = {}  # old member name -> new member name
        self.counter = 0
        self.shared_leaf_ids = shared_leaf_ids

    def _fresh(self) -> int:
        # start at 1: skops ignores a falsy __id__ when memoising on load
        self.counter += 1
        return self.counter

    def run(self, schema: Any) -> dict[str, str]:
        self._visit(schema)
        return self.files

    def _visit(self, obj: Any) -> None:
        if _is_node(obj):
            self._visit_node(obj)
        for child in _children(obj):
            self._visit(child)

    def _visit_node(self, node: dict[str, Any]) -> None:
        new_id = None
        if "__id__" in node:
            old_id = node["__id__"]
            if node["__loader__"] == "JsonNode" and old_id not in self.shared_leaf_ids:
                new_id = self._fresh()
            else:
                if old_id not in self.ids:
                    self.ids[old_id] = self._fresh()
                new_id = self.ids[old_id]
            node["__id__"] = new_id
        name = node.get("file")
        if isinstance(name, str):
            if name not in self.files:
                stem = new_id if new_id is not None else self._fresh()
                self.files[name] = f"{stem}{PurePosixPath(name).suffix}"
            node["file"] = self.files[name]


def _zip_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = _ZIP_UNIX
    info.external_attr = _ZIP_MODE
    return info


def _canonical_zip_from(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(entries):
            zf.writestr(_zip_info(name), entries[name])
    return buffer.getvalue()


def _canonical_zip(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        entries = {info.filename: zf.read(info) for info in zf.infolist()}
    return _canonical_zip_from(entries)
