"""Markdown escaping and number formatting: the one copy every renderer uses.

Escaping follows GitHub-flavoured Markdown (the GFM spec that github.com and cmark-gfm
implement):

- `cell(value)`: text in a table cell or a line of prose. `|` would end a table cell and
  a newline a row, so they become `\\|` and a space; `<` and `>` become `&lt;` and `&gt;`
  (else `<b>` or `<details>` in a value is taken as HTML); `&` becomes `&amp;` only where
  it would start a character reference (`&copy;`, `&#169;`), so `AT&T` stays as written;
  `\\` is doubled so that it stays a backslash. Markdown emphasis and backticks are kept:
  the text datawheel writes into prose uses them on purpose.
- `code(value)`: an inline code span. GFM shows a code span's text literally (no entity,
  no backslash escape), so only what would break the span or the table is replaced: a
  backtick by `'`, a newline by a space, `|` by `\\|` (GFM removes that backslash inside
  a table cell, code spans included).

Numbers: a missing value (None, NaN, an infinity) is `—` everywhere; counts get thousands
separators; a p-value of 0, which is a p-value below the smallest float (scipy's result
underflowed), is `<1e-300`, never `0`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from numbers import Integral, Real
from typing import Any

MISSING = "—"
"""How every renderer shows a value that is missing or not a finite number."""

P_FLOOR = "<1e-300"
"""A p-value of 0: below what a float holds, not zero."""

LIMIT = 65_536
"""GitHub's limit on the body of an issue or pull-request comment, in characters."""

CAPS = (1000, 200, 50, 15, 5, 0)
"""How many rows a long list shows, tried in turn until a document fits its limit."""

LEVEL_ICONS = {"blocking": "❌", "attention": "⚠️", "ok": "✅"}
"""The icon of a review's verdict (datawheel.review.report.assess) and of a drift check."""

_CHARACTER_REFERENCE = re.compile(r"&(?=#[0-9]{1,7};|#[xX][0-9a-fA-F]{1,6};|[A-Za-z][A-Za-z0-9]*;)")


class Markdown(str):
    """Text that is Markdown already: `table` puts it into a cell as it is, not escaped."""


def cell(value: Any) -> str:
    """Plain text made safe for a GFM table cell or a line of prose (see the module)."""
    text = "" if value is None else str(value)
    text = _one_line(text).replace("\\", "\\\\").replace("|", "\\|")
    text = _CHARACTER_REFERENCE.sub("&amp;", text)
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _one_line(text: str) -> str:
    return text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


def code(value: Any) -> str:
    """Text as an inline code span that is safe in a table cell; "" for empty text."""
    text = "" if value is None else str(value)
    text = _one_line(text).replace("`", "'").replace("|", "\\|")
    return f"`{text}`" if text else ""


def table(headers: Iterable[Any], rows: Iterable[Iterable[Any]], align: str = "") -> list[str]:
    """A GFM table as lines: `align` has one letter per column, `r` right, else left.

    Cells are escaped with `cell` unless they are `Markdown`; headers are Markdown."""
    headers = [str(h) for h in headers]
    marks = [("---:" if a == "r" else "---") for a in (align or "l" * len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(marks) + " |"]
    for row in rows:
        cells = [v if isinstance(v, Markdown) else cell(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def details(summary: str, body: list[str]) -> list[str]:
    """A collapsed `<details>` section around Markdown lines (blank lines keep it Markdown)."""
    return ["", f"<details><summary>{summary}</summary>", "", *body, "", "</details>"]


def more(total: int, shown: int, what: str, full: str) -> list[str]:
    """The line under a cut list: how many `what` it leaves out, and that `full` has them."""
    if total <= shown:
        return []
    return ["", f"_… and {total - shown:,} more {what}: see `{full}`._"]


def names(items: list[str], limit: int = 5) -> str:
    """The first `limit` items as code spans, then how many more."""
    shown = ", ".join(code(i) for i in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def short(value: Any, limit: int = 120) -> str:
    """A value as at most `limit` characters: text as it is, anything else as JSON."""
    if value is None:
        return MISSING
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _finite(value: Any) -> bool:
    return (
        value is not None
        and not isinstance(value, bool)
        and isinstance(value, Real)
        and math.isfinite(value)
    )


def number(value: Any, digits: int = 3) -> str:
    """A count with thousands separators, a fraction with `digits` decimals, text as it is."""
    if value is None or isinstance(value, bool):
        return MISSING if value is None else str(value)
    if isinstance(value, Integral):
        return f"{int(value):,}"
    if isinstance(value, Real):
        return f"{float(value):.{digits}f}" if math.isfinite(value) else MISSING
    return str(value)


def fixed(value: Any, digits: int = 4) -> str:
    """A metric: any finite number with `digits` decimals (an int too), else `—`."""
    return f"{float(value):.{digits}f}" if _finite(value) else MISSING


def signed(value: Any, digits: int = 3) -> str:
    """A difference: a finite number with its sign and `digits` decimals, else `—`."""
    return f"{float(value):+.{digits}f}" if _finite(value) else MISSING


def p_value(value: Any) -> str:
    """A p-value (or a corrected one, q) in two significant digits; 0 is `<1e-300`."""
    if not _finite(value):
        return MISSING
    return P_FLOOR if value == 0 else f"{float(value):.2g}"


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as {dotted.key: value}, keys sorted; lists are values, and so is an
    empty mapping below the top (a section emptied is not a section gone)."""
    if isinstance(data, Mapping) and (data or not prefix):
        out: dict[str, Any] = {}
        for key in sorted(data, key=str):
            out.update(flatten(data[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: data} if prefix else {}


def github_length(text: str) -> int:
    """Characters as GitHub counts them for its comment limit (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def truncate(text: str, limit: int, full: str) -> str:
    """Markdown cut at a line boundary to fit `limit`, open `<details>` closed, and a note
    naming `full`, the file with everything."""
    if github_length(text) <= limit:
        return text
    note = f"\n\n> ✂️ **Truncated** to fit a GitHub comment: the full report is in `{full}`.\n"
    budget = limit - github_length(note) - len("\n</details>") * 50
    kept = text[: max(budget, 0)]
    while github_length(kept) > budget and kept:
        kept = kept[: max(0, len(kept) - (github_length(kept) - budget))]
    kept = kept[: kept.rfind("\n") + 1] if "\n" in kept else ""
    opened = kept.count("<details>") - kept.count("</details>")
    closing = "\n</details>" * max(opened, 0)
    return (kept.rstrip("\n") + "\n" + closing + note)[:limit]
