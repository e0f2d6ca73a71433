"""render.format: the one Markdown escaping and number formatting, checked against GFM."""

import math

import cmarkgfm
import numpy as np

from datawheel.render.format import (
    Markdown,
    cell,
    code,
    fixed,
    flatten,
    github_length,
    more,
    names,
    number,
    p_value,
    short,
    signed,
    table,
    truncate,
)


def html(lines: list[str]) -> str:
    return cmarkgfm.github_flavored_markdown_to_html("\n".join(lines))


def test_a_cell_shows_its_text_as_written_in_one_table_cell():
    text = "a|b <details> x & y &copy; back\\slash\nnext"
    rendered = html(table(["value", "n"], [[text, 1]]))
    assert rendered.count("<td>") == 2  # the pipe and the newline did not split the row
    assert "a|b &lt;details&gt; x &amp; y &amp;copy; back\\slash next" in rendered
    assert "<details>" not in rendered


def test_cell_escapes_only_what_gfm_would_read():
    assert cell("AT&T") == "AT&T"
    assert cell("&amp; &#169; &#x1F600;") == "&amp;amp; &amp;#169; &amp;#x1F600;"
    assert cell("1 < 2 > 0") == "1 &lt; 2 &gt; 0"
    assert cell("**bold** `code`") == "**bold** `code`"  # prose keeps its Markdown
    assert cell(None) == "" and cell("a\r\nb\rc") == "a b c"


def test_a_code_span_shows_its_text_literally_even_in_a_table():
    value = "data/raw/<x>&amp;|`y`"
    rendered = html(table(["batch"], [[Markdown(code(value))]]))
    assert "<code>data/raw/&lt;x&gt;&amp;amp;|'y'</code>" in rendered
    assert code("") == "" and code("two\nlines") == "`two lines`"


def test_table_alignment_and_markdown_cells():
    lines = table(["a", "b"], [[Markdown("**x**"), "**x**"]], "lr")
    assert lines[1] == "| --- | ---: |"
    assert "<strong>x</strong>" in html(lines)


def test_numbers_and_missing_values():
    assert number(1234567) == "1,234,567" and number(np.int64(5)) == "5"
    assert number(0.123456) == "0.123" and number(0.123456, 4) == "0.1235"
    assert number(None) == number(math.nan) == number(math.inf) == "—"
    assert number("text") == "text"
    assert fixed(1) == "1.0000" and fixed(0.5, 3) == "0.500"
    assert fixed(None) == fixed(math.nan) == fixed("0.5") == "—"
    assert signed(0.01) == "+0.010" and signed(-0.01, 4) == "-0.0100" and signed(None) == "—"


def test_a_p_value_of_zero_is_below_the_float_floor_everywhere():
    assert p_value(0.0) == "<1e-300"
    assert p_value(0.000123) == "0.00012" and p_value(0.5) == "0.5"
    assert p_value(None) == p_value(math.nan) == "—"


def test_short_names_and_more():
    assert short(None) == "—" and short("x" * 10, 5) == "xxxx…"
    assert short({"b": 1, "a": [1]}) == '{"a": [1], "b": 1}'
    assert names(["a", "b", "c"], 2) == "`a`, `b` and 1 more"
    assert more(10, 10, "rows", "report.json") == []
    assert more(12, 10, "rows", "drift.json") == ["", "_… and 2 more rows: see `drift.json`._"]


def test_flatten_dotted_sorted_keys_and_empty_sections():
    assert flatten({"b": {"y": 1, "x": [1, 2]}, "a": 0}) == {"a": 0, "b.x": [1, 2], "b.y": 1}
    assert list(flatten({"b": 1, "a": {"z": 1, "c": 2}})) == ["a.c", "a.z", "b"]
    assert flatten({"gate": {}}) == {"gate": {}}  # an emptied section is a change
    assert flatten({}) == {} and flatten(5) == {}


def test_truncate_fits_the_limit_closes_details_and_names_the_full_file():
    text = "# title\n\n<details><summary>s</summary>\n\n" + "\n".join(["row 😀"] * 500) + "\n"
    cut = truncate(text, 1000, "drift.json")
    assert github_length(cut) <= 1000
    assert cut.count("<details>") == cut.count("</details>")
    assert cut.rstrip().endswith("the full report is in `drift.json`.")
    assert truncate("short\n", 1000, "report.json") == "short\n"
    assert github_length("😀") == 2
