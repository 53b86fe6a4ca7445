"""Regular expressions written by someone the gateway does not trust, run in linear time.

Patterns come from onboarded documents (JSON Schema ``pattern``, ``patternProperties``), from
contracts (``$regex``) and from callers (the ``regex`` format). Python's ``re`` backtracks: one
``^(a+)+$`` and a 30-character string hold the event loop for a minute. Here every such pattern is
compiled by RE2 (``google-re2``), whose matching time is linear in the text: look-around and
back-references, which need backtracking, are refused with a reason (:class:`PatternRefused`).

Syntax is RE2's (close to ECMA-262, which JSON Schema specifies), with ECMA's ``\\uXXXX`` escapes
(and surrogate pairs, and ``\\u{...}``) translated to RE2's ``\\x{...}``. As in ECMA-262 and unlike
Python, ``\\d`` and ``\\w`` are ASCII only and ``$`` matches only at the very end; unlike ECMA-262,
``\\s`` is ASCII whitespace only.

Linear is not free: when RE2's DFA runs out of memory it falls back to an NFA whose time per byte
grows with the size of the compiled program (a counted repetition such as ``[a-z]{1,1000}`` is a
thousand copies). :meth:`SafePattern.search` therefore tells a caller-supplied ``charge`` function
the work it is about to do (text bytes x program size) before doing it, so a validation budget can
refuse it instead. Compiled patterns are cached (bounded); each is bounded to
:data:`MAX_PROGRAM_MEMORY` bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import re2

__all__ = [
    "MAX_PATTERN_LENGTH",
    "MAX_PROGRAM_MEMORY",
    "GroupPattern",
    "PatternRefused",
    "SafePattern",
    "compile_groups",
    "compile_pattern",
    "escape",
    "fullmatch_groups",
    "is_valid_pattern",
    "refusal",
    "search",
]

# RE2's memory bound per compiled pattern (program and DFA cache). A pattern whose program does not
# fit is refused as too large; a DFA that outgrows it falls back to the (slower) NFA.
MAX_PROGRAM_MEMORY = 4 << 20
# Longest pattern text compiled at all (a pattern from a caller, e.g. a `regex`-format value, is
# checked only up to this length).
MAX_PATTERN_LENGTH = 10_000
# Distinct compiled patterns kept (document patterns are few; a miss only costs a compile).
CACHE_SIZE = 512


class PatternRefused(ValueError):
    """A pattern RE2 cannot run; ``reason`` is a sentence fragment saying why."""

    def __init__(self, pattern: str, reason: str) -> None:
        super().__init__(reason)
        self.pattern = pattern
        self.reason = reason


def _options(*, capture: bool) -> re2.Options:
    options = re2.Options()
    options.max_mem = MAX_PROGRAM_MEMORY
    options.log_errors = False  # RE2 would write each refusal to stderr, the JSON log stream
    options.never_capture = not capture  # a yes/no answer needs no submatches (faster)
    return options


_SEARCH_OPTIONS = _options(capture=False)
_GROUP_OPTIONS = _options(capture=True)


def _hex4(text: str, start: int) -> int | None:
    digits = text[start : start + 4]
    if len(digits) == 4 and all(c in "0123456789abcdefABCDEF" for c in digits):
        return int(digits, 16)
    return None


def translate(pattern: str) -> str:
    """ECMA-262 ``\\uXXXX`` (surrogate pairs combined) and ``\\u{X...}`` as RE2's ``\\x{...}``;
    everything else unchanged (RE2 reads the rest). Raises PatternRefused for a lone surrogate."""
    if "\\u" not in pattern:
        return pattern
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char != "\\" or i + 1 >= n:
            out.append(char)
            i += 1
            continue
        follower = pattern[i + 1]
        if follower != "u":
            out.append(pattern[i : i + 2])  # an escape pair, kept as it is (also "\\\\")
            i += 2
            continue
        if i + 2 < n and pattern[i + 2] == "{":
            end = pattern.find("}", i + 3)
            digits = pattern[i + 3 : end] if end != -1 else ""
            if digits and all(c in "0123456789abcdefABCDEF" for c in digits):
                out.append(f"\\x{{{digits}}}")
                i = end + 1
                continue
            raise PatternRefused(pattern, "it has a \\u{...} escape that is not hexadecimal")
        code = _hex4(pattern, i + 2)
        if code is None:
            raise PatternRefused(pattern, "it has a \\u escape without four hexadecimal digits")
        i += 6
        if 0xD800 <= code <= 0xDBFF and pattern[i : i + 2] == "\\u":
            low = _hex4(pattern, i + 2)
            if low is not None and 0xDC00 <= low <= 0xDFFF:
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                i += 6
        if 0xD800 <= code <= 0xDFFF:
            raise PatternRefused(
                pattern, f"it has a lone surrogate \\u{code:04X}, which matches no character"
            )
        out.append(f"\\x{{{code:X}}}")
    return "".join(out)


def _reason(pattern: str, message: str) -> str:
    """A plain reason for RE2's refusal ("invalid perl operator: (?=" and the like)."""
    if message.startswith("invalid perl operator: (?<") and message[-1] in "=!":
        return "it uses a look-behind assertion ((?<= or (?<!), which cannot run in linear time"
    if message.startswith("invalid perl operator: (?") and message[-1] in "=!":
        return "it uses a look-ahead assertion ((?= or (?!), which cannot run in linear time"
    if message.startswith("invalid escape sequence: \\") and message[-1:] in "123456789k":
        return "it uses a back-reference (\\1 or \\k<name>), which cannot run in linear time"
    if message.startswith("invalid perl operator: (?>") or message.startswith(
        "bad repetition operator: ++"
    ):
        return "it uses an atomic group or possessive repetition, which RE2 does not support"
    if message == "invalid escape sequence: \\Z":
        return "it uses \\Z, which is not ECMA-262 syntax; use $ for the end of the text"
    if message.startswith("invalid repetition size"):
        return (
            "its counted repetitions ({n,m}) go beyond RE2's limit of 1,000 (nested ones"
            " multiply); use maxLength for lengths"
        )
    if "pattern too large" in message:
        return (
            "it is too large to run within the gateway's memory bound; counted repetitions such"
            " as {1,1000} copy what they repeat, so use maxLength for lengths"
        )
    return f"it is not a valid regular expression ({message})"


_UNANCHORED = re2._Anchor.UNANCHORED


@dataclass(frozen=True, slots=True, eq=False)
class SafePattern:
    """A compiled pattern: :meth:`search` answers whether it matches anywhere in a text."""

    pattern: str
    regex: re2._Regexp
    program_size: int

    def search(self, text: str, charge: Callable[[int], object] | None = None) -> bool:
        """Whether the pattern matches somewhere in ``text`` (JSON Schema's unanchored test).

        ``charge`` is told the work first (UTF-8 bytes x program size) and may raise to stop.
        """
        data = text.encode("utf-8", "surrogatepass")  # a lone surrogate from JSON stays a byte run
        if charge is not None:
            charge(len(data) * self.program_size)
        # The binding's own Match: the module's search() wraps it in a generator and a match
        # object, twice the cost of a pattern check on a short value.
        spans = self.regex._regexp.Match(_UNANCHORED, data, 0, len(data))
        return bool(spans[0][0] != -1)


def _compile(pattern: str, options: re2.Options) -> re2._Regexp:
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise PatternRefused(
            pattern, f"it is longer than {MAX_PATTERN_LENGTH:,} characters, the gateway's limit"
        )
    translated = translate(pattern)
    try:
        # The class itself, not re2.compile: that one keeps its own cache of every pattern it saw
        # (caller-supplied ones included); ours below is the only one.
        return re2._Regexp(translated, options)
    except UnicodeEncodeError:
        raise PatternRefused(
            pattern, "it contains a lone surrogate, which matches no character"
        ) from None
    except re2.error as exc:
        raw = exc.args[0] if exc.args else ""
        message = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        raise PatternRefused(pattern, _reason(pattern, message)) from None


@lru_cache(maxsize=CACHE_SIZE)
def _cached(pattern: str) -> SafePattern | PatternRefused:
    try:
        regex = _compile(pattern, _SEARCH_OPTIONS)
    except PatternRefused as refused:
        return refused  # refusals are cached too: a stored document may hit one on every call
    return SafePattern(pattern, regex, max(1, regex.programsize))


def compile_pattern(pattern: str) -> SafePattern:
    """The compiled pattern (cached); raises PatternRefused when RE2 cannot run it."""
    found = _cached(pattern)
    if isinstance(found, PatternRefused):
        raise found
    return found


def refusal(pattern: str) -> str | None:
    """Why RE2 cannot run ``pattern``, or None when it can."""
    found = _cached(pattern)
    return found.reason if isinstance(found, PatternRefused) else None


def search(pattern: str, text: str) -> bool:
    """Whether ``pattern`` matches somewhere in ``text``; False for a pattern RE2 cannot run."""
    found = _cached(pattern)
    return not isinstance(found, PatternRefused) and found.search(text)


def is_valid_pattern(text: str) -> bool:
    """Whether a caller's text is a pattern the gateway could run (RE2 syntax with ECMA-262
    escapes, at most MAX_PATTERN_LENGTH characters). Not cached: callers choose the text."""
    try:
        _compile(text, _SEARCH_OPTIONS)
    except PatternRefused:
        return False
    return True


@dataclass(frozen=True, slots=True, eq=False)
class GroupPattern:
    """A pattern built by the gateway from untrusted pieces (escaped with :func:`escape`) whose
    capture groups are wanted: :meth:`fullmatch` gives them, in linear time."""

    pattern: str
    regex: re2._Regexp

    def fullmatch(self, text: str) -> tuple[str, ...] | None:
        """The groups when the pattern matches all of ``text`` (unmatched ones as ""), or None."""
        found = self.regex.fullmatch(text)
        if found is None:
            return None
        return tuple(group or "" for group in found.groups())


def compile_groups(pattern: str) -> GroupPattern:
    """``pattern`` compiled with its capture groups (not cached: keep the result). Raises
    PatternRefused for a pattern RE2 cannot run."""
    return GroupPattern(pattern, _compile(pattern, _GROUP_OPTIONS))


@lru_cache(maxsize=256)
def _cached_groups(pattern: str) -> GroupPattern:
    return compile_groups(pattern)


def fullmatch_groups(pattern: str, text: str) -> tuple[str, ...] | None:
    """:meth:`GroupPattern.fullmatch` with the compiled pattern cached (for occasional use)."""
    return _cached_groups(pattern).fullmatch(text)


def escape(text: str) -> str:
    """``text`` as a pattern matching exactly itself (RE2 syntax)."""
    return str(re2.escape(text))
