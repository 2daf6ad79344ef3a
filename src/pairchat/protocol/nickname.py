"""Which characters a nickname may hold: visible text, emoji sequences, no hidden controls.

Refused anywhere: control characters (Cc), line and paragraph separators (Zl, Zp), and
format characters (Cf) such as bidi overrides and isolates (U+202A-U+202E, U+2066-U+2069),
marks (U+200E, U+200F), zero-width space (U+200B) and BOM (U+FEFF). Three format
characters are accepted only where they do a visible job:
- ZWJ (U+200D) between two emoji (family, profession, rainbow flag) or after a virama
  (Indic conjuncts);
- ZWNJ (U+200C) after a virama, or between two letters of a joining script (Persian,
  Arabic, Syriac, Mongolian, ...), as in RFC 5892's CONTEXTJ rules;
- tag characters (U+E0020-U+E007F) inside an emoji tag sequence: a black flag U+1F3F4,
  tags U+E0020-U+E007E, then CANCEL TAG U+E007F (subdivision flags).
Flags (regional indicator pairs), skin-tone modifiers and keycaps hold no format
characters and are ordinary text. Length is counted in code points elsewhere.
"""

from __future__ import annotations

import unicodedata
from typing import Final

_REFUSED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Zl", "Zp"})
_ZWNJ: Final = "\u200c"
_ZWJ: Final = "\u200d"
_VS16: Final = "\ufe0f"
_BLACK_FLAG: Final = "\U0001f3f4"
_CANCEL_TAG: Final = "\U000e007f"
_VIRAMA: Final = 9  # canonical combining class of viramas
# Emoji blocks, wholesale: newer emoji are unassigned in this Python's Unicode tables.
_EMOJI_BLOCKS: Final = range(0x1F000, 0x1FB00)
_JOINING_SCRIPTS: Final = (
    "ARABIC",
    "SYRIAC",
    "NKO",
    "MANDAIC",
    "MONGOLIAN",
    "PHAGS-PA",
    "MANICHAEAN",
    "PSALTER PAHLAVI",
    "HANIFI ROHINGYA",
    "SOGDIAN",
    "ADLAM",
    "CHORASMIAN",
    "OLD UYGHUR",
)


def has_hidden_characters(nick: str) -> bool:
    """True if `nick` holds a character that is invisible or reorders text out of place."""
    tag_run = False  # inside a tag sequence that began with a black flag
    for i, ch in enumerate(nick):
        if "\U000e0020" <= ch <= _CANCEL_TAG:
            tag_run = tag_run or (i > 0 and nick[i - 1] == _BLACK_FLAG)
            if not tag_run:
                return True
            if ch == _CANCEL_TAG:
                tag_run = False
            continue
        if tag_run:  # a tag sequence must end with CANCEL TAG
            return True
        if unicodedata.category(ch) not in _REFUSED_CATEGORIES:
            continue
        if ch == _ZWJ and (_after_virama(nick, i) or _between_emoji(nick, i)):
            continue
        if ch == _ZWNJ and (_after_virama(nick, i) or _between_joining_letters(nick, i)):
            continue
        return True
    return tag_run


def _base_before(nick: str, i: int) -> int:
    """Index of the character before `i` that is not a mark or VS16 (or -1)."""
    j = i - 1
    while j >= 0 and unicodedata.category(nick[j]) in ("Mn", "Me"):
        j -= 1
    return j


def _after_virama(nick: str, i: int) -> bool:
    return i > 0 and unicodedata.combining(nick[i - 1]) == _VIRAMA


def _is_emoji(nick: str, j: int) -> bool:
    ch = nick[j]
    if ord(ch) in _EMOJI_BLOCKS or unicodedata.category(ch) == "So":
        return True
    return j + 1 < len(nick) and nick[j + 1] == _VS16  # text symbol shown as emoji (↔️)


def _between_emoji(nick: str, i: int) -> bool:
    before = _base_before(nick, i)
    return before >= 0 and i + 1 < len(nick) and _is_emoji(nick, before) and _is_emoji(nick, i + 1)


def _is_joining_letter(ch: str) -> bool:
    return unicodedata.category(ch).startswith("L") and unicodedata.name(ch, "").startswith(
        _JOINING_SCRIPTS
    )


def _between_joining_letters(nick: str, i: int) -> bool:
    before = _base_before(nick, i)
    after = i + 1
    while after < len(nick) and unicodedata.category(nick[after]) == "Mn":
        after += 1
    return (
        before >= 0
        and after < len(nick)
        and _is_joining_letter(nick[before])
        and _is_joining_letter(nick[after])
    )
