"""The champion pointer: models/champion.json, the git-tracked twin of GTO's `prod` stage."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from datawheel.io.files import read_json


@dataclass(frozen=True)
class Champion:
    version: str
    model_md5: str
    commit: str
    model_path: str
    tags: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    # {version, by, at, reason} while an operator holds prod on this version (rollback or
    # `datawheel pin`); every gate holds until `datawheel release` lifts it.
    pin: dict[str, Any] | None = None
    # {version, model_md5, commit, selected_through, confirmations} while a candidate waits in
    # GTO stage `staging` for data after it to confirm it (datawheel.registry.staging).
    staging: dict[str, Any] | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def read_champion(path: Path) -> Champion | None:
    """The champion named by the pointer, or None when there is none yet (or no file)."""
    data = read_json(path, default=None)
    if not data or not data.get("version"):
        return None
    known = Champion.__dataclass_fields__
    return Champion(**{k: v for k, v in data.items() if k in known})


def pin_reason(pin: dict[str, Any]) -> str:
    """The gate's reason while prod is pinned, in one sentence that names who, when and why."""
    why = str(pin.get("reason") or "no reason given").strip().rstrip(".")
    return (
        f"prod pinned by {pin.get('by')} at {pin.get('at')}: {why}. Every candidate is held "
        "until `datawheel release` lifts the pin."
    )


def load_champion_model(champion: Champion, root: Path = Path(".")):
    """The champion's model, fetched by its recorded md5 and checked before it is loaded."""
    label = f"{champion.model_path} (champion {champion.version})"
    return load_recorded_model(champion.model_md5, label, root)


def load_recorded_model(md5: str, label: str, root: Path = Path(".")):
    """A registered model (champion or staged) by its md5, checked before it is loaded."""
    from datawheel.io.dvc import fetch_by_md5
    from datawheel.io.models import model_from_bytes

    # By md5 alone, never through a git revision: `dvc exp run --temp` and `--queue` run in
    # a workspace whose git repository has no tags and only the experiment's own commits.
    # fetch_by_md5 returns only bytes whose md5 is the recorded one.
    return model_from_bytes(fetch_by_md5(md5, label, root), label)
