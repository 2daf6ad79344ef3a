r"""The optional content filter (`--blocklist FILE`): a DIALOGUE whose content
matches an entry of the operator's list is refused with code 6, and nothing is
stored.

The file is UTF-8, one entry a line. Whitespace around a line is ignored, and
so are blank lines and lines whose first character is `#`. A line is one of:

- `re:` and a regular expression (Python's `re` syntax): refuses a message in
  which it is found anywhere, case-insensitively. Add `\b` yourself where a
  word must start or end.
- anything else: a literal word or phrase, matched case-insensitively as a
  whole word: not preceded or followed by a letter, digit or underscore, so
  `ass` does not refuse `class` or `passage`. Any run of whitespace in a
  phrase matches any run of whitespace (`buy  now` matches `Buy now` and
  `buy\nnow`). No character is special: `c++` and `a.b` are matched as
  written. A literal that begins with `re:` or `#` must be written as a
  regular expression (`re:(?<!\w)\#tag(?!\w)`).

A line is refused at start (StartupError, naming it) when it is longer than
MAX_LINE characters, or it is a regular expression that
- is invalid, or matches an empty message (it would refuse every message);
- names a group or refers back to one (`(?P<name>...)`, `\1`, `(?(1)...)`):
  the lines are combined into one pattern, which renumbers the groups;
- repeats a group (`(a+)+`, `(a|b)*`, `(ab){2}`; a group may only be made
  optional with `?`): the shapes whose time grows exponentially;
- has more than one unbounded repetition (`*`, `+`, `{m,}`, or `{m,n}` with n
  over MAX_BOUND): `a.*b.*c` takes time that grows as the cube of the
  message's length (20 s for a made-up message of 4,096 characters).
Python's `re` cannot be given a time limit. With one unbounded repetition a
message made to be slow still costs time that grows as the square of its
length (about 0.1 s for 4,096 characters): keep regular expressions few, and
prefer literals.

Literals made of words and whitespace only (nearly all of them) are not
searched for one by one: the message is split into its words once, and those
are looked up in a set, which costs the same whatever the length of the list;
a phrase is searched for only in a message that has its first word. The other
literals and the regular expressions are compiled into one pattern, searched
once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pairchat.errors import StartupError

REFUSAL = "message refused by the content filter"
REGEX = "re:"  # the prefix of a regular expression line
MAX_LINE = 200  # characters in one line, the prefix included
MAX_BOUND = 100  # {m,n} with n above this counts as unbounded

_WORDS = re.compile(r"\w+")
_COUNT = re.compile(r"\{([0-9]*)(,?)([0-9]*)\}")
_GROUP_NUMBERS = frozenset("123456789")  # after a backslash: a backreference


class _Refused(ValueError):
    """Why one line of the list cannot be used."""


class ContentFilter:
    """Matches messages against a blocklist (see the module docstring)."""

    __slots__ = ("_firsts", "_pattern", "_phrases", "_words")

    def __init__(self, lines: Iterable[str], source: str = "the blocklist") -> None:
        """The filter of a blocklist's lines; `source` names it in errors.

        Raises:
            StartupError: a line cannot be used (its number and why).
        """
        words: set[str] = set()
        phrases: dict[str, set[tuple[str, ...]]] = {}
        patterns: list[str] = []
        for number, raw in enumerate(lines, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            try:
                if len(line) > MAX_LINE:
                    raise _Refused(f"longer than {MAX_LINE} characters")
                if line.startswith(REGEX):
                    patterns.append(_regex(line[len(REGEX) :]))
                    continue
                parts = line.split()
                if not all(_WORDS.fullmatch(part) for part in parts):
                    patterns.append(_literal(parts))
                elif len(parts) == 1:
                    words.add(parts[0].casefold())
                else:
                    first, *rest = (part.casefold() for part in parts)
                    phrases.setdefault(first, set()).add(tuple(rest))
            except _Refused as exc:
                raise StartupError(f"{source}, line {number}: {exc}") from None
        self._words = frozenset(words)
        # phrases by their first word, as the pattern of every phrase it starts
        self._phrases = {first: _phrases(first, rests) for first, rests in phrases.items()}
        self._firsts = frozenset(self._phrases)
        self._pattern = re.compile("|".join(patterns), re.IGNORECASE) if patterns else None

    @classmethod
    def load(cls, path: str) -> ContentFilter | None:
        """The filter of the file at `path`; None when `path` is empty (no filter).

        Raises:
            StartupError: the file cannot be read, is not UTF-8, or a line of
                it cannot be used.
        """
        if not path:
            return None
        try:
            with open(path, encoding="utf-8-sig") as file:
                lines = file.read().splitlines()
        except OSError as exc:
            raise StartupError(
                f"--blocklist {path}: cannot read it: {exc.strerror or exc}"
            ) from None
        except UnicodeDecodeError as exc:
            raise StartupError(
                f"--blocklist {path}: not UTF-8 (byte {exc.start} cannot be decoded)"
            ) from None
        return cls(lines, f"--blocklist {path}")

    def refusal(self, content: str) -> str | None:
        """The reason to refuse `content` (code 6), or None to let it pass."""
        if self._words or self._firsts:
            folded = content.casefold()
            words = _WORDS.findall(folded)
            if not self._words.isdisjoint(words):
                return REFUSAL
            for first in self._firsts.intersection(words):
                if self._phrases[first].search(folded):
                    return REFUSAL
        if self._pattern is not None and self._pattern.search(content):
            return REFUSAL
        return None


def _phrases(first: str, rests: Iterable[tuple[str, ...]]) -> re.Pattern[str]:
    """The phrases that start with the word `first` (all case-folded, words
    only), as one whole-word pattern on case-folded text."""
    tails = "|".join(r"\s+".join(re.escape(word) for word in rest) for rest in sorted(rests))
    return re.compile(rf"\b{re.escape(first)}\s+(?:{tails})\b")


def _literal(words: list[str]) -> str:
    """A literal entry with other characters than letters, digits and
    underscores, as a whole-word pattern."""
    return r"(?<!\w)" + r"\s+".join(re.escape(word) for word in words) + r"(?!\w)"


def _regex(source: str) -> str:
    """A regular expression line's pattern, checked to be safe to combine
    and to search (see the module docstring).

    Raises:
        _Refused: why not.
    """
    try:
        compiled = re.compile(source, re.IGNORECASE)
    except re.error as exc:
        where = "" if exc.pos is None else f" at character {exc.pos + 1}"
        raise _Refused(f"not a valid regular expression: {exc.msg}{where}") from None
    pattern = f"(?:{source})"
    try:
        re.compile(pattern)
    except re.error:  # valid alone, not as a part: flags for the whole, as (?s)
        raise _Refused(
            "flags must apply to a group, as in (?s:...); case is ignored already"
        ) from None
    if compiled.search(""):
        raise _Refused("it matches an empty message, so it would refuse every message")
    problem = _backtracking(source)
    if problem is not None:
        raise _Refused(problem)
    return pattern


def _backtracking(source: str) -> str | None:
    """What in a valid regular expression could make it slow or change its
    meaning once combined with the others, or None. A small scan, not a parser:
    it follows escapes, character classes and group openings, which is enough
    to find every quantifier and what it applies to."""
    unbounded = 0
    after_group = False  # the last atom was a group: only `?` may follow
    i, end = 0, len(source)
    while i < end:
        char = source[i]
        if char == "\\":
            if source[i + 1 : i + 2] in _GROUP_NUMBERS:
                return "a regular expression may not refer back to a group (\\1)"
            i += 2
            after_group = False
            continue
        if char == "[":
            i = _class_end(source, i)
            after_group = False
            continue
        if source.startswith("(?#", i):  # a comment: what follows applies to what preceded
            i = source.index(")", i) + 1
            continue
        if char == "(":
            opened = _group_start(source, i)
            if isinstance(opened, str):
                return opened
            i = opened
            after_group = False
            continue
        count = _COUNT.match(source, i) if char == "{" else None
        if char in "*+?" or (count is not None and (count.group(1) or count.group(2))):
            if char != "?" and after_group:
                return (
                    "a group may not be repeated, only made optional with ?: (a+)+ and "
                    "(a|b)* can take exponential time; use a character class ([ab]+)"
                )
            if char in "*+" or (count is not None and _unbounded(count)):
                unbounded += 1
                if unbounded > 1:
                    return (
                        "more than one unbounded repetition (*, +, {m,} or {m,n} with n "
                        f"over {MAX_BOUND}) can take time growing as a power of the "
                        "message's length; bound them ({0,20}) or use a literal phrase"
                    )
            i = count.end() if count is not None else i + 1
            if source[i : i + 1] in ("?", "+"):  # lazy or possessive
                i += 1
            after_group = False
            continue
        after_group = char == ")"
        i += 1
    return None


def _unbounded(count: re.Match[str]) -> bool:
    low, comma, high = count.groups()
    if not comma:
        return int(low) > MAX_BOUND
    return not high or int(high) > MAX_BOUND


def _class_end(source: str, start: int) -> int:
    """The index after the character class that opens at `start`."""
    i = start + 1
    if source[i : i + 1] == "^":
        i += 1
    if source[i : i + 1] == "]":  # a ] first is a character of the class
        i += 1
    while source[i] != "]":
        i += 2 if source[i] == "\\" else 1
    return i + 1


def _group_start(source: str, start: int) -> int | str:
    """The index after the opening of the group at `start` (`(`, `(?:`,
    `(?<=`, `(?i:`, ...), or why the group is refused."""
    if source[start + 1 : start + 2] != "?":
        return start + 1
    kind = source[start + 2 : start + 4]
    if kind.startswith("("):
        return "a regular expression may not refer back to a group ((?(1)...))"
    if kind == "P<":
        return "a named group is not needed here: use (?:...)"
    if kind in ("<=", "<!"):
        return start + 4
    end = start + 2
    while source[end] not in ":=!>":  # inline flags such as (?s:
        end += 1
    if "x" in source[start + 2 : end]:
        # whitespace would part a group from its quantifier, out of this scan's sight
        return "the verbose flag (?x:...) is not taken here"
    return end + 1
