"""The Markdown job summary of a retrain run: decision, metrics with the bootstrap CI, checks.

It is written after every run, including one where `dvc repro` or `datawheel promote`
failed, so every input is optional: a missing or unreadable file is named in the summary
with where to look next, never an exception.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datawheel.config.catalog import GATE, METRICS, VALIDATION_MARKDOWN, VALIDATION_SUMMARY
from datawheel.render.format import Markdown, cell, fixed, signed, table
from datawheel.render.terminal import METRIC_ORDER

HEADLINES = {
    "promoted": "Promoted {name} {version}",
    "rolled_back": "Rolled {name} back to {version}",
    "held": "Held: the champion {previous} stays in prod",
    "refused": "Refused: nothing was promoted",
    "error": "Promotion failed with an error: nothing was promoted",
}
# An outcome without `previous`: promote found no champion in models/champion.json.
FIRST_HEADLINES = {
    "promoted": "Promoted {name} {version}, the first version in prod",
    "held": "Held: no model was promoted, there is no champion yet",
}


@dataclass(frozen=True)
class SummaryInputs:
    """What a run left behind; None where a file is missing, its problem in `problems`."""

    reports: str
    gate: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    validation: dict[str, Any] | None = None
    promotion: dict[str, Any] | None = None
    problems: dict[str, str] = field(default_factory=dict)
    champion_version: str | None = None  # the champion evaluate scored, if any


def read_optional_json(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The JSON object in path, or None with the reason it could not be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, "not found"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"unreadable ({exc})"
    if not isinstance(data, dict):
        return None, "unreadable (not a JSON object)"
    return data, None


def load_inputs(
    reports: Path, promotion: Path | None, champion: Path | None = None
) -> SummaryInputs:
    """Read gate.json, metrics.json and validation_summary.json in reports, and the outcome.

    `champion` is the pointer (models/champion.json) that names the version evaluate scored.
    """
    found: dict[str, Any] = {}
    problems: dict[str, str] = {}
    files = {
        "gate": reports / GATE,
        "metrics": reports / METRICS,
        "validation": reports / VALIDATION_SUMMARY,
    }
    if promotion is not None:
        files["promotion"] = promotion
    for key, path in files.items():
        found[key], problem = read_optional_json(path)
        if problem:
            problems[str(path)] = problem
    decided = (found.get("promotion") or {}).get("gate")
    if decided and (found["gate"] is None or found["promotion"].get("result") == "promoted"):
        # The gate that decided, as promote read it: after a promotion the evaluate stage
        # is re-run against the new champion (the candidate itself), so reports/ hold that.
        found["gate"] = decided
        if found.get("metrics") is not None:
            groups = ("candidate", "champion", "baseline")
            found["metrics"] = {**found["metrics"], **{k: decided.get(k) for k in groups}}
    version = _scored_champion(found.get("promotion"), champion)
    return SummaryInputs(reports=str(reports), problems=problems, champion_version=version, **found)


def _scored_champion(promotion: dict[str, Any] | None, champion: Path | None) -> str | None:
    """The version the candidate was scored against: promote's `previous` when it ran (after
    a promotion the pointer names the new version), else the pointer as evaluate read it."""
    if promotion is not None and "previous" in promotion:
        return promotion["previous"] or None
    pointer = read_optional_json(champion)[0] if champion is not None else None
    version = (pointer or {}).get("version")
    return str(version) if version else None


def render_summary(inputs: SummaryInputs, model_name: str = "the model") -> str:
    """Markdown for $GITHUB_STEP_SUMMARY: headline, metrics, gate checks, validation totals."""
    sections = [_headline(inputs, model_name)]
    if inputs.metrics:
        sections.append(_metrics_section(inputs.metrics, inputs.gate, inputs.champion_version))
    if inputs.gate:
        from datawheel.render.gate import render_gate_json  # numpy and sklearn only when needed

        sections.append("### Gate\n\n" + render_gate_json(inputs.gate))
    if inputs.validation:
        sections.append(_validation_section(inputs.validation, inputs.reports))
    if inputs.problems:
        sections.append(_problems_section(inputs))
    return "\n\n".join(section.rstrip("\n") for section in sections) + "\n"


def _headline(inputs: SummaryInputs, model_name: str) -> str:
    promotion, gate = inputs.promotion, inputs.gate
    if promotion and promotion.get("result") in HEADLINES:
        result, previous = promotion["result"], promotion.get("previous")
        template = HEADLINES[result] if previous else FIRST_HEADLINES.get(result, HEADLINES[result])
        title = template.format(
            name=model_name, version=promotion.get("version") or "", previous=previous
        )
        message = str(promotion.get("message") or "").strip()
        return f"## {title}\n\n{message}" if message else f"## {title}"
    if gate:
        decision = str(gate.get("decision", "unknown"))
        return (
            f"## Gate decision: {decision}; promotion did not run\n\n"
            "`datawheel promote` left no outcome: see the log of its step."
        )
    if _validation_failed(inputs.validation):
        return (
            "## Data validation failed: the pipeline stopped before training\n\n"
            f"Nothing was promoted. See `{inputs.reports}/{VALIDATION_MARKDOWN}` for the batches, "
            "columns and rules that failed, and the log of the `dvc repro` step."
        )
    return (
        "## The pipeline did not finish: no gate decision\n\n"
        f"Nothing was promoted. See the log of the `dvc repro` step and "
        f"`{inputs.reports}/{VALIDATION_MARKDOWN}`."
    )


def _metrics_section(
    metrics: dict[str, Any], gate: dict[str, Any] | None, version: str | None = None
) -> str:
    primary = (gate or {}).get("primary_metric")
    columns = [("candidate", "candidate")]
    if metrics.get("champion"):
        columns.append(("champion", f"champion {version}" if version else "champion"))
    columns.append(("baseline", "naive baseline"))
    names = [m for m in METRIC_ORDER if any(m in (metrics.get(c) or {}) for c, _ in columns)]
    rows = [
        [
            Markdown(f"**{name}** (primary)") if name == primary else name,
            *(fixed((metrics.get(column) or {}).get(name), 4) for column, _ in columns),
        ]
        for name in names
    ]
    headers = ["metric", *(cell(label) for _, label in columns)]
    lines = ["### Hold-out metrics", "", *table(headers, rows, "l" + "r" * len(columns))]
    bootstrap = (gate or {}).get("bootstrap")
    if bootstrap:
        lines += ["", _bootstrap_line(bootstrap)]
    return "\n".join(lines)


def _bootstrap_line(bootstrap: dict[str, Any]) -> str:
    confidence = bootstrap.get("confidence")
    level = f"{confidence:.0%}" if isinstance(confidence, int | float) else "?"
    samples = bootstrap.get("samples")
    resamples = f"{samples:,}" if isinstance(samples, int) else "?"
    return (
        f"{bootstrap.get('metric')} improvement over the champion: "
        f"**{signed(bootstrap.get('delta'), 4)}**, {level} CI "
        f"[{signed(bootstrap.get('ci_low'), 4)}, {signed(bootstrap.get('ci_high'), 4)}] "
        f"over {resamples} paired bootstrap resamples of the hold-out."
    )


def _validation_failed(validation: dict[str, Any] | None) -> bool:
    """Failed when a batch failed that no one acknowledged (the stage's own rule)."""
    if not validation:
        return False
    return int(validation.get("failed", 0)) > int(validation.get("acknowledged", 0))


def _validation_section(validation: dict[str, Any], reports: str) -> str:
    verdict = "**failed**" if _validation_failed(validation) else "passed"

    def count(key: str) -> str:
        value = validation.get(key)
        return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else "?"

    return (
        "### Data validation\n\n"
        f"Validation {verdict}: {count('batches')} batches, {count('failed')} failed "
        f"({count('acknowledged')} acknowledged), {count('warning')} with warnings; "
        f"{count('quarantined_rows')} of {count('rows')} rows quarantined. "
        f"Details: `{reports}/{VALIDATION_MARKDOWN}`."
    )


def _problems_section(inputs: SummaryInputs) -> str:
    lines = ["### Files this run did not produce", ""]
    lines += [f"- `{path}`: {problem}" for path, problem in sorted(inputs.problems.items())]
    return "\n".join(lines)
