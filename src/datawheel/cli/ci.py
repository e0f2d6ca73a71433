"""summary and comment: what the GitHub Actions workflows call besides dvc and promote.

`datawheel comment` posts the pull-request report as ONE sticky comment, found by a hidden
HTML marker and edited, or created (datawheel.io.github holds the REST client). This module
only checks the arguments and prints: the token comes from $GITHUB_TOKEN (or $GH_TOKEN), the
API's address from $GITHUB_API_URL, as on GitHub's runners (and in the tests).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

import typer

from datawheel.config import catalog
from datawheel.errors import DatawheelError, ParamsError
from datawheel.io.github import MARKER, GitHubAPI, post_sticky_comment

_PR_NUMBER = re.compile(r"[1-9][0-9]{0,9}")
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def register(app: typer.Typer) -> None:
    app.command()(summary)
    app.command()(comment)


def summary(
    promotion: Annotated[
        Path | None, typer.Option(help="The outcome file of `datawheel promote --outcome`.")
    ] = None,
    reports: Annotated[
        Path | None, typer.Option(help="Reports folder (default: paths.reports in dvc.yaml vars).")
    ] = None,
) -> None:
    """Markdown summary of a retrain run for $GITHUB_STEP_SUMMARY; tolerates missing files."""
    from datawheel.render.summary import load_inputs, render_summary

    model_name, default_reports = "the model", Path("reports")
    champion = Path(catalog.DEFAULT_CHAMPION)
    try:
        from datawheel.config.params import load_params

        params = load_params(check_estimators=False)
        model_name, default_reports = params.registry.model_name, Path(params.paths.reports)
        champion = Path(params.paths.champion)
    except DatawheelError:
        pass  # the summary must still say what happened when params.yaml is the problem
    inputs = load_inputs(reports or default_reports, promotion, champion)
    typer.echo(render_summary(inputs, model_name), nl=False)


def comment(
    file: Annotated[Path, typer.Option(help="The Markdown report to post.")],
    pr: Annotated[str, typer.Option(help="The pull request number.")],
    repo: Annotated[
        str | None, typer.Option(help="OWNER/NAME (default: $GITHUB_REPOSITORY).")
    ] = None,
    head_sha: Annotated[
        str | None,
        typer.Option(help="Refuse unless the pull request's head is this commit."),
    ] = None,
    marker: Annotated[str, typer.Option(help="Hidden marker of the sticky comment.")] = MARKER,
) -> None:
    """Post a report as one sticky pull-request comment, or update the one posted before."""
    number = parse_pr_number(pr)
    repository = repo or os.environ.get("GITHUB_REPOSITORY", "")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repository):
        raise ParamsError(f"--repo: {repository!r} is not OWNER/NAME (nor is $GITHUB_REPOSITORY)")
    token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
    if not token:
        raise ParamsError("no token: set $GITHUB_TOKEN (or $GH_TOKEN) to post a comment")
    if head_sha is not None and not _SHA.fullmatch(head_sha):
        raise ParamsError(f"--head-sha: {head_sha!r} is not a commit id")
    try:
        report = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ParamsError(f"--file: cannot read {file}: {exc}") from None
    api = GitHubAPI(os.environ.get("GITHUB_API_URL", "https://api.github.com"), token)
    result = post_sticky_comment(api, repository, number, report, marker, head_sha)
    typer.echo(f"{result.action} comment {result.url or result.comment_id} on #{number}")


def parse_pr_number(text: str) -> int:
    """A pull request number from untrusted text (an artifact): digits only, or refuse."""
    cleaned = text.strip()
    if not _PR_NUMBER.fullmatch(cleaned):
        raise ParamsError(f"--pr: {text[:40]!r} is not a pull request number")
    return int(cleaned)
