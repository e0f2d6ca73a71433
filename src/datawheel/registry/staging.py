"""Fail-safe staging: a candidate that passes the gate waits in GTO stage `staging` until
data that arrived after it was trained confirms it against the champion.

Pure rules, no I/O (the evaluate stage scores, promote acts on the verdict):

- `prospective_rows`: the hold-out rows the staged model could not have seen, those after
  the last event time of the hold-out it was selected on (its training data is older still).
- `verdict`: the same paired bootstrap as the gate, staged model against champion on those
  rows. `confirmed` when the lower bound of the improvement clears `gate.min_improvement`;
  `failed` when the upper bound is below zero (the champion is better on new data) or the
  sanity guards fail there; `pending` while too few new rows have arrived or the interval
  straddles the margin.
- `action`: what promote does with a verdict, the pin and this run's candidate. A staged
  model reaches prod after `staging.confirmations` confirmed runs, each on a later data
  commit; a newer candidate replaces it only when it beats the staged model itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from datawheel.model.metrics import BootstrapResult

# Final, so each is its Literal type: StagingVerdict.status accepts exactly these.
CONFIRMED: Final = "confirmed"
PENDING: Final = "pending"
FAILED: Final = "failed"


@dataclass(frozen=True)
class StagingVerdict:
    """The staged model's prospective check in one run."""

    version: str
    status: Literal["confirmed", "pending", "failed"]
    reason: str
    rows: int
    values: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def prospective_rows(times: pd.Series, selected_through: str) -> np.ndarray:
    """Mask of rows whose event time is after `selected_through` (ISO, the end of the
    hold-out the staged model was selected on): data it never saw, trained or judged on."""
    cutoff = pd.Timestamp(selected_through)
    if cutoff.tzinfo is None:
        cutoff = cutoff.tz_localize("UTC")
    stamps = pd.to_datetime(times, utc=True)
    return (stamps > cutoff).to_numpy()


def verdict(
    version: str,
    rows: int,
    bootstrap: BootstrapResult | None,
    min_rows: int,
    min_improvement: float,
    guards_passed: bool = True,
) -> StagingVerdict:
    """Confirmed, pending or failed, with the sentence an operator reads (module docstring)."""
    if rows < min_rows:
        return StagingVerdict(
            version,
            PENDING,
            f"{version} waits in staging: {rows} row(s) arrived after it was selected, "
            f"{min_rows} needed to judge it",
            rows,
        )
    if not guards_passed:
        return StagingVerdict(
            version, FAILED, f"{version} fails a sanity guard on the data after it", rows
        )
    if bootstrap is None or not np.isfinite(bootstrap.ci_low):
        return StagingVerdict(
            version,
            PENDING,
            f"{version} waits in staging: the improvement is undefined on the {rows} new rows",
            rows,
        )
    values = {
        "metric": bootstrap.metric,
        "delta": bootstrap.delta,
        "ci_low": bootstrap.ci_low,
        "ci_high": bootstrap.ci_high,
        "confidence": bootstrap.confidence,
    }
    interval = (
        f"{bootstrap.metric} improvement {bootstrap.delta:+.4f}, {bootstrap.confidence:.0%} "
        f"CI [{bootstrap.ci_low:+.4f}, {bootstrap.ci_high:+.4f}] on {rows} new rows"
    )
    if bootstrap.ci_low > min_improvement:
        return StagingVerdict(
            version, CONFIRMED, f"{version} beats the champion again: {interval}", rows, values
        )
    if bootstrap.ci_high < 0:
        return StagingVerdict(
            version,
            FAILED,
            f"the champion beats {version} on the data after it: {interval}",
            rows,
            values,
        )
    return StagingVerdict(
        version,
        PENDING,
        f"{version} waits in staging, not yet established: {interval}",
        rows,
        values,
    )


Action = Literal["none", "stage", "confirm", "promote_staged", "drop", "replace"]


def action(
    staged_version: str | None,
    confirmations_so_far: int,
    confirmations_needed: int,
    check: StagingVerdict | None,
    candidate_passes: bool,
    candidate_beats_staged: bool,
    pinned: bool,
) -> Action:
    """What promote does this run. A pin holds everything; a staged model is judged before
    any new candidate, so a stream of similar candidates cannot keep it from confirming."""
    if pinned:
        return "none"
    if staged_version is None:
        return "stage" if candidate_passes else "none"
    status = check.status if check is not None else PENDING
    if status == CONFIRMED:
        done = confirmations_so_far + 1 >= confirmations_needed
        return "promote_staged" if done else "confirm"
    if status == FAILED:
        return "replace" if candidate_passes else "drop"
    if candidate_passes and candidate_beats_staged:
        return "replace"
    return "none"
