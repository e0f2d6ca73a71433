"""`datawheel comment`: one sticky pull-request comment, against a fake GitHub API.

GitHub's REST API is the one thing mocked here: a small HTTP server on 127.0.0.1 that
keeps issue comments in memory, pages them like GitHub (Link: rel="next") and records
every request.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from datawheel.cli.ci import parse_pr_number
from datawheel.errors import ParamsError
from datawheel.io.github import (
    MARKER,
    MAX_COMMENT_CHARS,
    GitHubAPI,
    GitHubAPIError,
    find_sticky,
    post_sticky_comment,
    sticky_body,
)
from datawheel.io.process import command_env

REPO = "acme/churn"
HEAD = "b" * 40
TOKEN = "ghs_test_token"


class FakeGitHub:
    """In-memory issue comments of one pull request, served over HTTP."""

    def __init__(self, comments: list[dict], page_size: int = 2):
        self.comments = comments
        self.page_size = page_size
        self.requests: list[tuple[str, str, str | None, dict | None]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _reply(self, status: int, body, headers: dict | None = None):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(length)) if length else None
                auth = self.headers.get("Authorization")
                fake.requests.append((self.command, self.path, auth, payload))
                if auth != f"Bearer {TOKEN}":
                    return self._reply(401, {"message": "Bad credentials"})
                url = urlparse(self.path)
                if self.command == "GET" and url.path == f"/repos/{REPO}/pulls/7":
                    return self._reply(200, {"number": 7, "head": {"sha": HEAD}})
                if url.path == f"/repos/{REPO}/issues/7/comments":
                    if self.command == "POST":
                        new = {"id": 900, "body": payload["body"], "user": {"type": "Bot"}}
                        fake.comments.append(new)
                        return self._reply(201, {**new, "html_url": "https://x/c/900"})
                    page = int(parse_qs(url.query).get("page", ["1"])[0])
                    start = (page - 1) * fake.page_size
                    items = fake.comments[start : start + fake.page_size]
                    headers = {}
                    if start + fake.page_size < len(fake.comments):
                        nxt = f"{fake.url}{url.path}?per_page=100&page={page + 1}"
                        headers["Link"] = f'<{nxt}>; rel="next", <{nxt}>; rel="last"'
                    return self._reply(200, items, headers)
                if self.command == "PATCH" and url.path.startswith(
                    f"/repos/{REPO}/issues/comments/"
                ):
                    comment_id = int(url.path.rsplit("/", 1)[1])
                    for item in fake.comments:
                        if item["id"] == comment_id:
                            item["body"] = payload["body"]
                            return self._reply(
                                200, {**item, "html_url": f"https://x/c/{comment_id}"}
                            )
                return self._reply(404, {"message": "Not Found"})

            do_GET = do_POST = do_PATCH = _handle

        return Handler

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def writes(self) -> list[tuple[str, str]]:
        return [(method, path) for method, path, _, _ in self.requests if method != "GET"]


def _person(comment_id: int, body: str) -> dict:
    return {"id": comment_id, "body": body, "user": {"login": "someone", "type": "User"}}


def _bot(comment_id: int, body: str) -> dict:
    return {"id": comment_id, "body": body, "user": {"login": "github-actions[bot]", "type": "Bot"}}


def test_creates_the_comment_when_there_is_none():
    with FakeGitHub([_person(1, "nice PR"), _bot(2, "another bot")]) as github:
        result = post_sticky_comment(GitHubAPI(github.url, TOKEN), REPO, 7, "# Report\n")
    assert (result.action, result.comment_id, result.url) == ("created", 900, "https://x/c/900")
    assert github.writes() == [("POST", f"/repos/{REPO}/issues/7/comments")]
    assert github.comments[-1]["body"] == f"{MARKER}\n# Report\n"
    assert all(auth == f"Bearer {TOKEN}" for _, _, auth, _ in github.requests)


def test_updates_its_own_comment_found_on_a_later_page():
    comments = [
        _person(1, "hi"),
        _person(2, f"{MARKER}\nquoted by a person: never edited"),
        _bot(3, "unrelated bot"),
        _bot(4, f"{MARKER}\nold report"),
        _person(5, "later"),
    ]
    with FakeGitHub(comments) as github:
        api = GitHubAPI(github.url, TOKEN)
        result = post_sticky_comment(api, REPO, 7, "new report", head_sha=HEAD)
        again = post_sticky_comment(api, REPO, 7, "newer report", head_sha=HEAD)
    assert (result.action, result.comment_id) == ("updated", 4)
    assert (again.action, again.comment_id) == ("updated", 4)
    assert github.writes() == [("PATCH", f"/repos/{REPO}/issues/comments/4")] * 2
    assert github.comments[3]["body"] == f"{MARKER}\nnewer report"
    assert github.comments[1]["body"] == f"{MARKER}\nquoted by a person: never edited"
    pages = [path for method, path, _, _ in github.requests if "issues/7/comments" in path]
    assert len(pages) == 6  # three pages of two, twice


def test_refuses_when_the_pull_request_moved_on():
    moved = pytest.raises(GitHubAPIError, match=f"#7 is at {HEAD}, but the report was built")
    with FakeGitHub([]) as github, moved:
        post_sticky_comment(GitHubAPI(github.url, TOKEN), REPO, 7, "r", head_sha="c" * 40)
    assert github.writes() == []


def test_api_errors_name_the_status():
    unauthorized = pytest.raises(GitHubAPIError, match="HTTP 401: .*Bad credentials")
    with FakeGitHub([]) as github, unauthorized:
        post_sticky_comment(GitHubAPI(github.url, "wrong"), REPO, 7, "r")


def test_the_token_never_follows_a_link_to_another_host():
    api = GitHubAPI("http://127.0.0.1:1", TOKEN)
    with pytest.raises(GitHubAPIError, match="refusing to send the token"):
        api.request("GET", "http://127.0.0.2:1/repos/acme/churn/issues/7/comments?page=2")


def test_body_carries_the_marker_and_fits_githubs_limit():
    assert sticky_body("r").startswith(f"{MARKER}\nr")
    long = sticky_body("x" * 70_000)
    assert len(long) == MAX_COMMENT_CHARS
    assert long.startswith(MARKER) and "cut to fit GitHub's comment limit" in long
    assert find_sticky([_bot(1, "text " + MARKER)]) is None


@pytest.mark.parametrize("text", ["0", "-3", "7; rm -rf /", "", "1e3", "12345678901", " 7 x"])
def test_pr_numbers_from_an_artifact_must_be_plain_digits(text):
    with pytest.raises(ParamsError, match="is not a pull request number"):
        parse_pr_number(text)


def test_pr_number_accepts_a_trailing_newline():
    assert parse_pr_number("42\n") == 42


def _cli(*args: str, cwd, api_url: str, token: str | None = TOKEN):
    env = command_env()
    env.pop("GH_TOKEN", None)
    env.update({"GITHUB_API_URL": api_url, "GITHUB_REPOSITORY": REPO})
    env.pop("GITHUB_TOKEN", None)
    if token:
        env["GITHUB_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "datawheel", "comment", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_cli_posts_then_updates_one_comment(tmp_path):
    report = tmp_path / "report.md"
    report.write_text("## Data changes\n")
    with FakeGitHub([_person(1, "hi")]) as github:
        first = _cli(
            "--file",
            str(report),
            "--pr",
            "7\n",
            "--head-sha",
            HEAD,
            cwd=tmp_path,
            api_url=github.url,
        )
        report.write_text("## Data changes, again\n")
        second = _cli("--file", str(report), "--pr", "7", cwd=tmp_path, api_url=github.url)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert "created comment https://x/c/900 on #7" in first.stdout
    assert "updated comment https://x/c/900 on #7" in second.stdout
    assert [c["body"] for c in github.comments] == ["hi", f"{MARKER}\n## Data changes, again\n"]


def test_cli_refuses_bad_input_with_exit_code_2(tmp_path):
    report = tmp_path / "report.md"
    report.write_text("r")
    bad_pr = _cli("--file", str(report), "--pr", "7;x", cwd=tmp_path, api_url="http://127.0.0.1:1")
    assert bad_pr.returncode == 2 and "is not a pull request number" in bad_pr.stderr
    no_token = _cli(
        "--file", str(report), "--pr", "7", cwd=tmp_path, api_url="http://127.0.0.1:1", token=None
    )
    assert no_token.returncode == 2 and "GITHUB_TOKEN" in no_token.stderr
    missing = _cli("--file", "nope.md", "--pr", "7", cwd=tmp_path, api_url="http://127.0.0.1:1")
    assert missing.returncode == 2 and "cannot read nope.md" in missing.stderr
    assert "Traceback" not in bad_pr.stderr + no_token.stderr + missing.stderr
