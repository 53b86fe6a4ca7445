"""What free text residents, units and operators write may hold: printable characters, line
breaks and tabs, and the zero-width joiner that composes emoji (👨‍👩‍👧). Windows and browser forms
send line breaks as CRLF: they are kept as LF. Every other control or format character (bidi
overrides that rearrange what a reader sees, zero-width spaces, NUL) is refused, or, in what the
12345 system sends, shown as "?"."""

from __future__ import annotations

ZWJ = "\u200d"
_ALLOWED = frozenset("\n\t" + ZWJ)


def _lines(value: str) -> str:
    return value.replace("\r\n", "\n").replace("\r", "\n")


def _allowed(char: str) -> bool:
    return char.isprintable() or char in _ALLOWED


def plain(value: str) -> str | None:
    """``value`` with its line breaks as LF, or None when it holds a character refused."""
    text = _lines(value)
    return text if all(_allowed(c) for c in text) else None


def shown(value: str) -> str:
    """``value`` with its line breaks as LF and each refused character as "?"."""
    return "".join(c if _allowed(c) else "?" for c in _lines(value))
