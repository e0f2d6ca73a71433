"""The gate's decision as Markdown: the verdict, its reasons and one row per check, then
the fail-safe staging record; for the job summary, the PR review and the audit report.

The rule and its record (`GateDecision`, gate.json) are datawheel.registry.gate's; this
module only shows them, from the dataclass or from gate.json as read back.
"""

from __future__ import annotations

from typing import Any

from datawheel.config.catalog import GATE
from datawheel.config.params import METRIC_SPECS
from datawheel.registry.gate import GateDecision
from datawheel.render.format import Markdown, cell, table


def render_decision(decision: GateDecision) -> str:
    """Markdown: the verdict and its reasons, then one table row per check."""
    verdict = "PROMOTE" if decision.promoted else "HOLD"
    against = "the champion" if decision.champion is not None else "the naive baseline"
    spec = METRIC_SPECS.get(decision.primary_metric)
    direction = f" ({spec.direction})" if spec and not spec.higher_is_better else ""
    lines = [
        f"**Gate: {verdict}** — {decision.primary_metric}{direction} against {against}.",
        "",
    ]
    lines += [f"- {cell(reason)}" for reason in decision.reasons]
    rows = [
        [check.name, "pass" if check.passed else Markdown("**FAIL**"), check.detail]
        for check in decision.checks
    ]
    lines += ["", *table(["Check", "Result", "Detail"], rows)]
    return "\n".join(lines) + "\n"


def render_staging(staging: dict[str, Any] | None) -> str:
    """Markdown for gate.json's `staging` record (fail-safe staging on, a model staged): the
    staged model's verdict on the data after it, and the candidate against it; "" if none."""
    if not staging:
        return ""
    verdict = staging.get("verdict") or {}
    lines = [
        f"**Staging: {str(verdict.get('status', 'unknown')).upper()}** — "
        f"{cell(str(verdict.get('reason', 'no verdict recorded')))}",
        "",
    ]
    versus = staging.get("candidate_vs_staged")
    if versus:
        beats = "beats" if staging.get("candidate_beats_staged") else "does not beat"
        lines.append(
            f"- This run's candidate {beats} the staged model: {versus['metric']} "
            f"{versus['delta']:+.4f}, {versus['confidence']:.0%} CI "
            f"[{versus['ci_low']:+.4f}, {versus['ci_high']:+.4f}] on the whole hold-out."
        )
    return "\n".join(lines) + "\n"


def render_gate_json(gate: dict[str, Any]) -> str:
    """render_decision of a gate.json as read back, then its staging record if any, or a
    line saying it is not in that form."""
    try:
        decision = GateDecision.from_dict(gate)
    except (KeyError, TypeError) as exc:
        return f"{GATE} is not in the expected form ({exc!r}); see the `dvc repro` log."
    staging = render_staging(gate.get("staging"))
    return render_decision(decision) + ("\n" + staging if staging else "")
