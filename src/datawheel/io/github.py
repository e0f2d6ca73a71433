"""GitHub's REST API as the pull-request workflow needs it: one sticky comment.

`post_sticky_comment` shows a report as ONE comment on a pull request: it finds the comment
it posted before by a hidden HTML marker on its first line (only a bot's, never a person's)
and edits it, or creates it; with `head_sha` it posts nothing unless the pull request's head
is still that commit. `GitHubAPI` makes the calls with urllib: a bearer token, GitHub's
JSON media type and API version, pages followed through the Link header's rel="next", and
the token sent only to the API's own address. Every failure (an error status, no answer)
is a `GitHubAPIError` naming the method, the URL and GitHub's reply.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from datawheel.errors import DatawheelError

MARKER = "<!-- datawheel-report -->"
MAX_COMMENT_CHARS = 65_536  # GitHub refuses a longer comment body
TRUNCATED_NOTE = (
    "\n\n---\n*The report was cut to fit GitHub's comment limit; the full report is in "
    "the `pr-report` artifact of the workflow run.*\n"
)


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
