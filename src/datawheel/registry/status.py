"""`datawheel status`: the champion, the last gate decision and the data since the champion.

`project_status` reads and returns a `Status`; datawheel.render.terminal.status_table shows it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from datawheel.config.catalog import PARAMS
from datawheel.config.params import load_params
from datawheel.data.batches import read_manifest
from datawheel.io.files import read_json
from datawheel.registry.tags import PROD, read_registry


@dataclass
class Status:
    model_name: str
    champion: dict | None
    last_gate: dict | None
    data_since_champion: dict
    registry: dict
    staging: dict | None = None  # the model in GTO stage `staging`, if fail-safe staging has one

    def to_dict(self) -> dict:
        return asdict(self)


def project_status(root: Path = Path("."), now: float | None = None) -> Status:
    """Read the registry (one for-each-ref), champion.json, gate.json and the ingest manifest."""
    params = load_params(root / PARAMS, check_estimators=False)
    name = params.registry.model_name
    registry = read_registry(root)
    prod = registry.current(name)
    pointer = read_json(root / params.paths.champion) or {}
    champion = None
    if pointer.get("version"):
        assigned = [a for a in registry.assignments(name) if a.version == pointer["version"]]
        promoted_at = assigned[-1].created if assigned else None
        now = time.time() if now is None else now
        champion = {
            "version": pointer["version"],
            "in_registry_prod": prod == pointer["version"],
            "model_md5": pointer.get("model_md5"),
            "commit": pointer.get("commit"),
            "primary": pointer.get("primary"),
            "metrics": pointer.get("metrics"),
            "pin": pointer.get("pin"),
            "promoted_at": promoted_at,
            "age_days": round((now - promoted_at) / 86400, 2) if promoted_at else None,
            "trained_on": {
                k: pointer.get("data", {}).get(k)
                for k in ("train_rows", "holdout_rows", "window", "raw_dir_md5")
            },
        }
    gate = read_json(root / params.artifacts.gate)
    last_gate = None
    if gate:
        last_gate = {
            "decision": gate["decision"],
            "reasons": gate.get("reasons", []),
            "primary_metric": gate.get("primary_metric"),
            "candidate": (gate.get("candidate") or {}).get(gate.get("primary_metric")),
        }
    return Status(
        model_name=name,
        champion=champion,
        last_gate=last_gate,
        data_since_champion=_data_since(root, params, pointer),
        registry={
            "versions": len(registry.versions(name)),
            "latest": registry.latest(name),
            PROD: prod,
        },
        staging=_staged(pointer, gate, params.gate.staging.confirmations),
    )


def _staged(pointer: dict, gate: dict | None, needed: int) -> dict | None:
    """champion.json's staged model with its confirmations so far, and the last verdict on
    it from gate.json when that verdict is about the same version."""
    staged = pointer.get("staging")
    if not staged:
        return None
    verdict = ((gate or {}).get("staging") or {}).get("verdict") or {}
    same = verdict.get("version") == staged.get("version")
    return {
        "version": staged.get("version"),
        "model_md5": staged.get("model_md5"),
        "selected_through": staged.get("selected_through"),
        "confirmations": len(staged.get("confirmations") or []),
        "confirmations_needed": needed,
        "last_verdict": verdict.get("status") if same else None,
        "last_reason": verdict.get("reason") if same else None,
    }


def _data_since(root: Path, params, pointer: dict) -> dict:
    """Batches ingested now that the champion's training data did not include."""
    known = {b["batch"] for b in pointer.get("data", {}).get("batches", [])}
    newest_known = max(known) if known else None
    records = [r for r in read_manifest(root / params.paths.ingested)]
    new = [
        r
        for r in records
        if r.path not in known and (newest_known is None or r.path > newest_known)
    ]
    return {
        "batches": len(new),
        "rows": sum(r.rows for r in new),
        "quarantined_batches": sum(r.status == "quarantined" for r in new),
        "first": new[0].path if new else None,
        "last": new[-1].path if new else None,
    }
