"""`datawheel trace`: what a model was made from, which models used some data, and proof.

Argument parsing and printing only; the work is in datawheel.audit.trace (records), .rebuild
(`--verify`) and .audit (the report), imported when the command runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from datawheel.cli.ui import console, err_console
from datawheel.errors import ParamsError


def register(app: typer.Typer) -> None:
    app.command("trace")(trace)


def trace(
    ref: Annotated[
        str | None,
        typer.Argument(
            help="churn-model@v3.0.0, v3.0.0, a stage (prod), champion, a commit or a model md5."
        ),
    ] = None,
    batch: Annotated[
        str | None, typer.Option(help="Reverse: the versions that used this raw batch file.")
    ] = None,
    row_id: Annotated[
        str | None, typer.Option(help="Reverse: the versions whose data held this row id.")
    ] = None,
    entity: Annotated[
        str | None,
        typer.Option(help="Reverse: the versions whose data held rows of this entity (id column)."),
    ] = None,
    rows: Annotated[
        Path | None,
        typer.Option(help="Write the exact train and hold-out rows (with provenance) to Parquet."),
    ] = None,
    verify: Annotated[
        bool,
        typer.Option(help="Rebuild the model from scratch in a clean clone and compare its md5."),
    ] = False,
    keep: Annotated[
        Path | None, typer.Option(help="With --verify: rebuild in this (new) folder and keep it.")
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="Write the audit report: .md (Markdown) or .html.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    repo: Annotated[Path, typer.Option("--repo", "-C", help="The project.")] = Path("."),
) -> None:
    """Trace a model to its commit, params, stage hashes, batches and rows, or data back to
    the models that used it. Exit codes: 0 traced (and REPRODUCED), 2 unknown REF, 6 data
    altered in the DVC cache or remote, 8 the rebuild differs (MISMATCH) or failed."""
    from datawheel.audit.trace import Tracer
    from datawheel.data.revisions import Project

    reverse = [o for o in (batch, row_id, entity) if o is not None]
    if len(reverse) > 1:
        raise ParamsError("give one of --batch, --row-id and --entity")
    if reverse and (ref or rows or verify):
        raise ParamsError("--batch, --row-id and --entity look data up across versions: no REF")
    if not reverse and ref is None:
        raise ParamsError("give a REF (e.g. prod, v1.0.0, a commit) or --batch/--row-id/--entity")
    if report is not None and report.suffix.lower() not in (".md", ".html", ".htm"):
        raise ParamsError(f"--report {report}: name a .md or .html file")

    with Project(repo, worktree_results=False) as project:
        tracer = Tracer(project)
        if reverse:
            _reverse(tracer, batch, row_id, entity, as_json, report)
            return
        _forward(tracer, ref or "", rows, verify, keep, as_json, report)


def _forward(tracer, ref: str, rows, verify: bool, keep, as_json: bool, report) -> None:
    from datawheel.render import audit

    target = tracer.resolve(ref)
    record = tracer.trace(target)
    markdown = audit.render_trace(record)
    if rows is not None:
        from datawheel.io.files import write_parquet

        frame = tracer.rows(target)
        write_parquet(rows, frame)
        record["rows"] = {
            "file": str(rows),
            "train": int((frame["set"] == "train").sum()),
            "holdout": int((frame["set"] == "holdout").sum()),
        }
        markdown += "\n" + audit.render_rows_summary(frame)
        err_console.print(f"wrote {len(frame)} rows to {rows}")
    verification = None
    if verify:
        from datawheel.audit.rebuild import verify as run_verify

        if keep is not None and keep.exists():
            raise ParamsError(f"--keep {keep}: the folder exists already")
        with err_console.status(f"rebuilding {target.label()} from scratch") as status:
            verification = run_verify(
                tracer, target, on_line=lambda line: status.update(line[:120]), keep=keep
            )
        record["verification"] = verification.to_dict()
        markdown += "\n" + audit.render_verification(record["verification"])
    _emit(record, markdown, as_json, report, target.label())
    if verification is not None:
        colour = "green" if verification.exit_code == 0 else "red"
        err_console.print(f"[bold {colour}]{verification.verdict}[/]: {verification.message}")
        raise typer.Exit(verification.exit_code)


def _reverse(tracer, batch, row_id, entity, as_json: bool, report) -> None:
    from datawheel.pipeline.stage import progress
    from datawheel.render import audit

    if batch is not None:
        what, uses = f"batch {batch}", tracer.versions_using_batch(batch)
    elif row_id is not None:
        what = f"row id {row_id}"
        uses = tracer.versions_using_rows(
            row_id=row_id, progress=lambda items: progress(items, "versions")
        )
    else:
        what = f"entity {entity}"
        uses = tracer.versions_using_rows(
            entity=entity, progress=lambda items: progress(items, "versions")
        )
    versions = [u.to_dict() for u in uses]
    data = {"query": what, "versions": versions}
    _emit(data, audit.render_uses(what, versions), as_json, report, what)


def _emit(data: dict, markdown: str, as_json: bool, report: Path | None, title: str) -> None:
    from datawheel.io.files import write_text

    if report is not None:
        from datawheel.render.audit import to_html

        html = report.suffix.lower() in (".html", ".htm")
        write_text(report, to_html(markdown, f"Audit: {title}") if html else markdown)
        err_console.print(f"wrote {report}")
    if as_json:
        print(json.dumps(data, indent=2, sort_keys=True, default=str))
        return
    from rich.markdown import Markdown

    if not console.is_terminal:
        console.width = 160  # a log or a pipe: room for the hashes in the tables
    console.print(Markdown(markdown))
