"""The audit report: a trace (and its rebuild, rows, reverse lookups) as Markdown or HTML.

One renderer serves the terminal (rich renders the Markdown) and the file a reviewer reads
without datawheel (`--report audit.md`, or `audit.html` through markdown-it, which rich
already depends on).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from datawheel.render import format

SURVIVAL = (
    ("outside_window", "outside window"),
    ("quarantined", "quarantined"),
    ("duplicate_row_id", "duplicates"),
    ("label_issue", "label issues dropped"),
    ("train_label_issue", "train (flagged)"),
    ("train", "train"),
    ("holdout", "hold-out"),
)


def table(header: list[str], rows: Iterable[Iterable[Any]]) -> str:
    """A GitHub-flavoured Markdown table, its cells escaped (datawheel.render.format.cell)."""
    return "\n".join(format.table(header, rows))


def _short(md5: str | None) -> str:
    return f"`{md5}`" if md5 else "—"


def _code(code: dict[str, Any]) -> str:
    if not code.get("digest"):
        return "Not recorded: the card predates datawheel recording its code."
    return f"datawheel {code.get('version')}, digest (sha256 of its .py files) `{code['digest']}`."


def render_trace(trace: dict[str, Any]) -> str:
    """A forward trace as Markdown, section by section."""
    model = trace["model"]
    title = f"{model['name']} {model['version']}" if model["version"] else "unregistered model"
    source, record = trace["commits"]["source"], trace["commits"]["record"]
    out = [
        f"# Audit trace: {title}",
        "",
        f"Resolved as: {trace['ref_resolved_as']}. Model `{model['path']}`, md5 "
        f"{_short(model['md5'])} ({model['estimator']}). In `prod` now: "
        f"**{'yes' if model['in_prod_now'] else 'no'}**; ever in `prod`: "
        f"**{'yes' if model['ever_in_prod'] else 'no'}**.",
        "",
        "## Commits",
        "",
        table(
            ["role", "commit", "author", "date", "subject"],
            [
                [
                    "built from (data, params, code)",
                    format.Markdown(format.code(source["sha"])),
                    source["author"],
                    source["date"],
                    source["subject"],
                ],
                [
                    "records (dvc.lock, card, reports)",
                    format.Markdown(format.code(record["sha"])),
                    record["author"],
                    record["date"],
                    record["subject"],
                ],
            ],
        ),
        "",
        "## Parameters",
        "",
        table(["parameter", "value"], format.flatten(trace["params"]).items()),
        "",
        "## Stages (dvc.lock)",
        "",
        table(
            ["stage", "command", "inputs (md5)", "outputs (md5)"],
            [
                [
                    s["stage"],
                    format.Markdown(format.code(s["cmd"])),
                    "; ".join(f"{d['path']} {_short(d['md5'])}" for d in s["deps"]),
                    "; ".join(f"{o['path']} {_short(o['md5'])}" for o in s["outs"]),
                ]
                for s in trace["stages"]
            ],
        ),
        "",
        "## Raw batches and what became of their rows",
        "",
        _data_line(trace["data"]),
        "",
        table(
            ["batch", "md5", "rows", *[label for _, label in SURVIVAL]],
            [
                [b["batch"], _short(b.get("md5")), b["rows"], *[b.get(k, 0) for k, _ in SURVIVAL]]
                for b in trace["batches"]
            ],
        ),
        "",
        "## Validation",
        "",
        _validation(trace["validation"]),
        "",
        "## Metrics and gate",
        "",
        _gate(trace),
        "",
        "## Promotion",
        "",
        _promotion(trace["promotion"]),
        "",
        "## Code",
        "",
        _code(trace.get("code") or {}),
        "",
        "## Libraries",
        "",
        table(["library", "version"], sorted(trace["libraries"].items())),
        "",
        "## Consistency of the records",
        "",
        table(
            ["check", "result", "values"],
            [
                [c["check"], "ok" if c["ok"] else "**FAILED**", c["detail"]]
                for c in trace["consistency"]
            ],
        ),
    ]
    return "\n".join(out) + "\n"


def _data_line(data: dict[str, Any]) -> str:
    window = data.get("window") or {}
    return (
        f"Raw data md5 {_short(data.get('raw_dir_md5'))}; window {window.get('start')} .. "
        f"{window.get('end')}; {data.get('train_rows')} train rows (fingerprint "
        f"{_short(data.get('train_fingerprint'))}), {data.get('holdout_rows')} hold-out rows "
        f"(fingerprint {_short(data.get('holdout_fingerprint'))})."
    )


def _validation(validation: dict[str, Any]) -> str:
    lines = [
        f"Validation passed: **{validation.get('passed')}**. Totals: "
        + ", ".join(f"{k} {v}" for k, v in sorted((validation.get("totals") or {}).items()))
    ]
    findings = validation.get("batches_with_findings") or []
    if findings:
        lines += [
            "",
            table(
                ["batch", "status", "quarantined rows", "failed expectations"],
                [
                    [
                        f["batch"],
                        f["status"],
                        f["quarantined_rows"],
                        "; ".join(
                            f"{r['rule']} ({r['severity']}, {r['unexpected_count']})"
                            for r in f["failed"]
                        ),
                    ]
                    for f in findings
                ],
            ),
        ]
    return "\n".join(lines)


def _gate(trace: dict[str, Any]) -> str:
    from datawheel.render.gate import render_gate_json

    flat = format.flatten(trace["metrics"] or {})
    gate = trace["gate"]
    return "\n".join(
        [
            table(["metric", "value"], [[k, format.number(v, 4)] for k, v in flat.items()]),
            "",
            render_gate_json(gate) if gate else "No gate decision recorded at this commit.",
        ]
    )


def _promotion(promotion: dict[str, Any] | None) -> str:
    if not promotion:
        return "Not a registered version: no promotion record."
    lines = [
        f"Tag `{promotion['tag']}` by {promotion['tagger']} on {promotion['date']}; promoted by "
        f"{promotion.get('promoted_by')}; previous champion: {promotion.get('previous_champion')}.",
        "",
        "Stage history:",
        "",
        table(
            ["date", "stage", "action", "tag", "by"],
            [
                [e["date"], e["stage"], e["action"], e["tag"], e["tagger"]]
                for e in promotion["stage_history"]
            ],
        ),
        "",
        "Tag message:",
        "",
        "```",
        promotion["message"],
        "```",
    ]
    return "\n".join(lines)


def render_verification(verification: dict[str, Any]) -> str:
    lines = [
        f"## Rebuild: {verification['verdict']}",
        "",
        verification["message"] + ".",
        "",
        f"{verification['raw_files_checked']} raw file(s) pulled from the DVC remote matched "
        "their recorded md5.",
    ]
    if verification["stages"]:
        lines += [
            "",
            table(
                ["stage", "outputs", "differences"],
                [
                    [
                        s["stage"],
                        "same" if s["same"] else "**differ**",
                        "; ".join(
                            f"{d['path']}: {d['recorded']} → {d['rebuilt']}"
                            for d in [*s["inputs"], *s["outputs"]]
                        ),
                    ]
                    for s in verification["stages"]
                ],
            ),
        ]
    if verification["environment"]:
        lines += [
            "",
            "Libraries that differ from the ones recorded in the model card:",
            "",
            table(
                ["library", "recorded", "now"],
                [[e["library"], e["recorded"], e["now"]] for e in verification["environment"]],
            ),
        ]
    return "\n".join(lines) + "\n"


def render_rows_summary(rows) -> str:
    """Counts of the exact rows by set and batch (the full list goes to Parquet)."""
    grouped = rows.groupby(["batch", "batch_md5", "set"]).size().unstack(fill_value=0)
    body = [
        [batch, _short(md5), int(r.get("train", 0)), int(r.get("holdout", 0))]
        for (batch, md5), r in grouped.iterrows()
    ]
    return (
        "\n".join(
            [
                "## Rows",
                "",
                f"{int((rows['set'] == 'train').sum())} train and "
                f"{int((rows['set'] == 'holdout').sum())} hold-out rows, each with its raw batch, "
                "md5 and line.",
                "",
                table(["batch", "md5", "train rows", "hold-out rows"], body),
            ]
        )
        + "\n"
    )


def render_uses(what: str, uses: list[dict[str, Any]]) -> str:
    """A reverse trace: which versions used a batch, row or entity."""
    if not uses:
        return f"# Versions that used {what}\n\nNo registered version used {what}.\n"
    return (
        "\n".join(
            [
                f"# Versions that used {what}",
                "",
                table(
                    [
                        "version",
                        "commit",
                        "train rows",
                        "hold-out rows",
                        "ever in prod",
                        "in prod now",
                    ],
                    [
                        [
                            u["version"],
                            format.Markdown(format.code(u["commit"][:12])),
                            u["train_rows"],
                            u["holdout_rows"],
                            "yes" if u["ever_in_prod"] else "no",
                            "yes" if u["in_prod_now"] else "no",
                        ]
                        for u in uses
                    ],
                ),
            ]
        )
        + "\n"
    )


def to_html(markdown: str, title: str) -> str:
    """A standalone HTML page of the Markdown report (tables included)."""
    from html import escape

    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    style = (
        "body{font-family:sans-serif;max-width:80em;margin:2em auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
        "code{font-size:90%}"
    )
    return (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{style}</style></head><body>\n{body}</body></html>\n"
    )
