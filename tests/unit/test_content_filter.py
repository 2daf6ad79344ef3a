"""The content filter (pairchat.logic.content_filter): the blocklist file's
rules, what its entries refuse and let pass, and the lines refused at start."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pairchat.errors import StartupError
from pairchat.logic.content_filter import MAX_LINE, REFUSAL, ContentFilter

LIST = """\
# words and phrases
ass
  Buy   Now
c++
Straße

re:\\bfree\\s+money\\b
re:f+u{1,3}ck
"""


@pytest.fixture
def blocklist(tmp_path: Path) -> ContentFilter:
    path = tmp_path / "blocklist.txt"
    path.write_text(LIST, encoding="utf-8")
    found = ContentFilter.load(str(path))
    assert found is not None
    return found


@pytest.mark.parametrize(
    "content",
    [
        "ass",
        "you ASS!",
        "(ass)",
        "buy now",
        "BUY NOW please",
        "buy \n\t now",
        "I love c++",
        "c++",
        "STRASSE",
        "straße",
        "get FREE  money",
        "fffuuuck",
    ],
)
def test_a_listed_entry_is_refused(blocklist: ContentFilter, content: str) -> None:
    assert blocklist.refusal(content) == REFUSAL


@pytest.mark.parametrize(
    "content",
    [
        "",
        "hello",
        "class",
        "passage",
        "asses",
        "ass_",
        "ass1",
        "buy, now",
        "buynow",
        "buy",
        "now buy",
        "cc++",
        "c++x",
        "c+",
        "freemoney",
        "free moneys",
        "fuuuuck",
        "# words and phrases",
    ],
)
def test_anything_else_passes(blocklist: ContentFilter, content: str) -> None:
    assert blocklist.refusal(content) is None


def test_no_path_is_no_filter() -> None:
    assert ContentFilter.load("") is None


def test_a_list_of_comments_refuses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("# nothing yet\n\n   \n", encoding="utf-8")
    found = ContentFilter.load(str(path))
    assert found is not None
    assert found.refusal("anything at all") is None


def test_a_byte_order_mark_and_windows_line_ends_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "windows.txt"
    path.write_bytes("\ufeffspam\r\neggs\r\n".encode())
    found = ContentFilter.load(str(path))
    assert found is not None
    assert found.refusal("SPAM") == REFUSAL
    assert found.refusal("eggs and ham") == REFUSAL


def test_no_character_of_a_literal_is_special() -> None:
    found = ContentFilter(["a.b", "(x)", "$$$"])
    assert found.refusal("see a.b here") == REFUSAL
    assert found.refusal("see axb here") is None
    assert found.refusal("f (x)") == REFUSAL
    assert found.refusal("f(x)") is None  # preceded by a letter
    assert found.refusal("win $$$") == REFUSAL
    assert found.refusal("100$$$") is None


def test_a_regex_is_searched_anywhere() -> None:
    found = ContentFilter([r"re:bit\.ly/\S+"])
    assert found.refusal("see xbit.ly/abc") == REFUSAL
    assert found.refusal("see bit.ly/") is None


def test_an_unreadable_file_is_refused_at_start(tmp_path: Path) -> None:
    missing = tmp_path / "missing.txt"
    with pytest.raises(StartupError, match=f"--blocklist {missing}: cannot read it"):
        ContentFilter.load(str(missing))
    with pytest.raises(StartupError, match="cannot read it"):
        ContentFilter.load(str(tmp_path))
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("straße\n".encode("latin-1"))
    with pytest.raises(StartupError, match="not UTF-8"):
        ContentFilter.load(str(latin1))


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("x" * (MAX_LINE + 1), f"longer than {MAX_LINE}"),
        ("re:[a-", "not a valid regular expression: .* at character 1"),
        ("re:(?i)x", r"flags must apply to a group"),
        ("re:", "matches an empty message"),
        ("re:x*", "matches an empty message"),
        ("re:(?P<word>x)", "named group"),
        (r"re:(x)\1", "refer back"),
        ("re:(?P<x>a)(?P=x)", "named group"),
        ("re:(x)?(?(1)y|z)", "refer back"),
        ("re:(a+)+b", "may not be repeated"),
        ("re:(ab)(?#comment)+", "may not be repeated"),
        ("re:(?x:(ab) +)", "verbose flag"),
        ("re:(a|aa)*b", "may not be repeated"),
        ("re:(?:ab){2}", "may not be repeated"),
        ("re:(?=a)*b", "may not be repeated"),
        ("re:a.*b.*c", "more than one unbounded"),
        (r"re:\w+\s+\w+", "more than one unbounded"),
        ("re:a+b{2,}", "more than one unbounded"),
        ("re:a+b{,}", "more than one unbounded"),
        ("re:a+b{0,101}", "more than one unbounded"),
        ("re:a+b{500}", "more than one unbounded"),
    ],
)
def test_a_line_that_cannot_be_used_is_refused_naming_it(
    tmp_path: Path, line: str, why: str
) -> None:
    path = tmp_path / "list.txt"
    path.write_text(f"# fine\nfine\n{line}\n", encoding="utf-8")
    with pytest.raises(StartupError, match=f"--blocklist {path}, line 3: .*{why}"):
        ContentFilter.load(str(path))


@pytest.mark.parametrize(
    "line",
    [
        r"re:(?:https?://)?(?:www\.)?bit\.ly/\S+",
        r"re:\bbuy\s+cheap\b",
        "re:f{1,5}u{1,5}c{1,5}k{1,5}",
        "re:[(]+x",
        r"re:\(+x",
        "re:[]a]+x",
        "re:(?#one+two*)y+",
        "re:(?<!\\w)(?s:a.{0,100}b)",
        "re:a{}",
        "re:a+?b",
        "re:(?>ab)c?",
    ],
)
def test_safe_regular_expressions_are_taken(line: str) -> None:
    ContentFilter([line])


def test_the_lines_are_one_pattern_whatever_their_groups() -> None:
    found = ContentFilter(["re:(a)(b)c", "re:(x)?y", "re:(q|r)s"])
    assert found.refusal("abc") == REFUSAL
    assert found.refusal("y") == REFUSAL
    assert found.refusal("rs") == REFUSAL
    assert found.refusal("ab") is None


def test_a_long_list_costs_little_on_a_long_message() -> None:
    words = [f"w{i:05d}x" for i in range(10_000)]
    phrases = [f"p{i} q{i} r{i}" for i in range(1000)]
    found = ContentFilter([*words, *phrases, "c++"])
    message = ("the quick brown fox jumps over the lazy dog p1 q1 " * 90)[:4096]
    assert found.refusal(message) is None
    assert found.refusal(message + " W09999X") == REFUSAL
    runs = 50
    started = time.perf_counter()
    for _ in range(runs):
        found.refusal(message)
    # Generous: it takes a fraction of a millisecond on a laptop.
    assert (time.perf_counter() - started) / runs < 0.01
