"""summary and comment: what the GitHub Actions workflows call besides dvc and promote.

`datawheel comment` posts the pull-request report as ONE sticky comment: it finds the
comment it posted before by a hidden HTML marker and edits it, or creates it. It talks to
GitHub's REST API with urllib and the token in $GITHUB_TOKEN (or $GH_TOKEN); the API's
address comes from $GITHUB_API_URL, as on GitHub's runners (and in the tests).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from datawheel.errors import DatawheelError, ParamsError

MARKER = "<!-- datawheel-report -->"
MAX_COMMENT_CHARS = 65_536  # GitHub refuses a longer comment body
TRUNCATED_NOTE = (
    "\n\n---\n*The report was cut to fit GitHub's comment limit; the full report is in "
    "the `pr-report` artifact of the workflow run.*\n"
)
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
    champion = Path("models/champion.json")
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


def sticky_body(report: str, marker: str = MARKER) -> str:
    """The comment body: the marker on the first line, the report cut to GitHub's limit."""
    body = f"{marker}\n{report}"
    if len(body) <= MAX_COMMENT_CHARS:
        return body
    return body[: MAX_COMMENT_CHARS - len(TRUNCATED_NOTE)] + TRUNCATED_NOTE


def find_sticky(comments: list[dict[str, Any]], marker: str = MARKER) -> dict[str, Any] | None:
    """The first comment a bot posted that starts with the marker (a person's is never edited)."""
    for item in comments:
        body = str(item.get("body") or "")
        if body.startswith(marker) and (item.get("user") or {}).get("type") == "Bot":
            return item
    return None


class GitHubAPIError(DatawheelError):
    """GitHub's API answered with an error status, or could not be reached."""


class GitHubAPI:
    """The few REST calls the sticky comment needs, over urllib."""

    def __init__(self, base_url: str, token: str, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(self, method: str, path_or_url: str, payload: Any = None) -> tuple[Any, str]:
        """(decoded JSON, Link header) of one call; a path is relative to the API's root."""
        from urllib.error import HTTPError, URLError
        from urllib.request import Request, urlopen

        url = path_or_url if "://" in path_or_url else self.base_url + path_or_url
        if not url.startswith(self.base_url + "/"):
            raise GitHubAPIError(f"refusing to send the token to {url} (not {self.base_url})")
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        request = Request(url, data=data, method=method)
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("X-GitHub-Api-Version", "2022-11-28")
        request.add_header("User-Agent", "datawheel")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urlopen(request, timeout=self.timeout) as response:
                body = response.read()
                link = response.headers.get("Link", "")
        except HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:300]
            raise GitHubAPIError(f"GitHub API {method} {url}: HTTP {exc.code}: {detail}") from None
        except (URLError, TimeoutError) as exc:
            raise GitHubAPIError(f"GitHub API {method} {url}: {exc}") from None
        return (json.loads(body) if body else None), link

    def get_all(self, path: str) -> list[Any]:
        """Every item of a paginated list, following the Link header's rel="next"."""
        items: list[Any] = []
        url: str | None = f"{path}{'&' if '?' in path else '?'}per_page=100"
        while url:
            page, link = self.request("GET", url)
            items.extend(page or [])
            url = _next_link(link)
        return items


def _next_link(link: str) -> str | None:
    for part in link.split(","):
        match = re.search(r'<([^>]+)>\s*;\s*rel="next"', part)
        if match:
            return match.group(1)
    return None


@dataclass(frozen=True)
class CommentResult:
    """What `post_sticky_comment` did."""

    action: str  # "created" or "updated"
    comment_id: int
    url: str | None


def post_sticky_comment(
    api: GitHubAPI,
    repo: str,
    pr: int,
    report: str,
    marker: str = MARKER,
    head_sha: str | None = None,
) -> CommentResult:
    """Edit the pull request's sticky comment to show report, or create it."""
    if head_sha is not None:
        pull, _ = api.request("GET", f"/repos/{repo}/pulls/{pr}")
        actual = ((pull or {}).get("head") or {}).get("sha")
        if actual != head_sha:
            raise GitHubAPIError(
                f"pull request #{pr} is at {actual}, but the report was built for {head_sha}: "
                "not posting (a newer run reports on the newer commit)"
            )
    body = sticky_body(report, marker)
    existing = find_sticky(api.get_all(f"/repos/{repo}/issues/{pr}/comments"), marker)
    if existing is not None:
        data, _ = api.request(
            "PATCH", f"/repos/{repo}/issues/comments/{existing['id']}", {"body": body}
        )
        return CommentResult("updated", int(existing["id"]), (data or {}).get("html_url"))
    data, _ = api.request("POST", f"/repos/{repo}/issues/{pr}/comments", {"body": body})
    return CommentResult("created", int(data["id"]), data.get("html_url"))
