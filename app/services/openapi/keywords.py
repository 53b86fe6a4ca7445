"""JSON Schema keywords whose cost the document or the request would otherwise leave unbounded.

The validator classes of :mod:`validation` extend jsonschema's (OAS 3.0 and 3.1 dialects) with:

- **Patterns run by RE2** (:mod:`app.core.safe_regex`): ``pattern``, ``patternProperties`` and the
  pattern look-ups behind ``additionalProperties`` and ``unevaluatedProperties``. jsonschema calls
  Python's backtracking ``re`` there, where ``^(a+)+$`` and 30 characters take a minute. A pattern
  RE2 refuses is refused at onboarding (:mod:`patterns`); should a stored document still hold one,
  applying it raises :class:`PatternNotRun`, which ends the whole validation (never a fallback
  to ``re``; never a plain "invalid" that ``not`` could turn into "valid").
- **A work budget** (:func:`validation_budget`): every keyword evaluation costs one check (a
  ``$ref`` three: it also resolves a pointer), plus one per 32 entries it walks (``required``,
  ``properties``, object keys, hashed values), one per KiB of text a ``format`` reads, and one
  per 1,024 (text bytes x program size) of regex work, charged before the regex runs. Beyond
  the limit :class:`BudgetExceeded` ends the validation. A budget may also stop early: at the
  event loop's share (:class:`MoveOffLoop`: the proxy finishes the validation in a worker
  thread), at a deadline, or before one regex search bigger than :data:`MAX_REGEX_WORK`
  (:class:`TooCostly`).
  This bounds what a document that multiplies work (``anyOf`` of ``anyOf``s, a recursive ``allOf``
  applying one schema twice per level) can make one request cost.
- **Hashed ``enum``, ``const`` and ``uniqueItems``** with JSON equality (1 == 1.0, true != 1):
  jsonschema compares an instance with every enum member in Python and falls back to comparing
  every pair of items when they do not sort (objects).
- **Exact ``multipleOf``**: numbers as the decimals JSON wrote (0.3 is a multiple of 0.1), with
  no float overflow on large values.
- **Messages that never print the schema** (``not``, ``oneOf``, ``enum``, ``const`` would repr
  document parts of any size on every failure); the instance's own repr is kept short by
  :func:`cheap_repr_instance` (jsonschema puts it in the message of every keyword that fails).
- **``format`` charged by length**, and ``regex`` checked by RE2 (:func:`bounded_format_checker`):
  jsonschema compiles the caller's text with Python's ``re`` and keeps it in ``re``'s cache.
- **Sets for the bookkeeping** of ``unevaluatedItems``/``unevaluatedProperties`` (jsonschema tests
  membership in lists: quadratic in the array or object).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from typing import Any

from jsonschema import FormatChecker
from jsonschema._utils import find_evaluated_item_indexes_by_schema
from jsonschema.exceptions import ValidationError
from jsonschema.validators import extend

from app.core.safe_regex import PatternRefused, SafePattern, compile_pattern, is_valid_pattern

__all__ = [
    "DEFAULT_BUDGET",
    "BudgetExceeded",
    "MoveOffLoop",
    "PatternNotRun",
    "TooCostly",
    "UnexpectedProperties",
    "ValidationBudget",
    "bounded_format_checker",
    "bounded_validator_class",
    "cheap_repr_instance",
    "is_regex_format",
    "object_from_pairs",
    "validation_budget",
]

# Checks one validation of a document's own value may take (a default, a contract's example).
DEFAULT_BUDGET = 50_000
REGEX_WORK_PER_CHECK = 1024  # (text bytes x program size) per check: ~1-2 µs of RE2 at worst
# One RE2 search runs to its end (it cannot be stopped half-way): at most this much work, about
# half a second where RE2 falls back from its DFA to its NFA (~9 ns per byte and instruction,
# e.g. a[ab]{999}c over 64 KB of text). A longer value is refused for that pattern.
MAX_REGEX_WORK = 1 << 26
# With a deadline, the clock is read every this many checks (a few milliseconds of work).
CLOCK_EVERY = 1000
ENTRIES_PER_CHECK = 32
REF_CHECKS = 3  # a $ref also resolves a pointer and builds a resource: about three keywords' work
FORMAT_BYTES_PER_CHECK = 1024
# Strings longer than this are given a short repr (jsonschema puts values in its messages).
_SHORT_REPR = 64

Keyword = Callable[[Any, Any, Any, Any], Any]


class BudgetExceeded(Exception):
    """The validation took more checks than its budget; ``instance`` is where it stopped."""

    def __init__(self, limit: int, instance: Any) -> None:
        super().__init__(f"more than {limit:,} checks")
        self.limit = limit
        self.instance = instance


class PatternNotRun(Exception):
    """A pattern RE2 cannot run was about to be applied (a document stored before the check) to
    ``instance`` (the string, or the object whose keys it would test)."""

    def __init__(self, pattern: str, reason: str, instance: Any) -> None:
        super().__init__(reason)
        self.pattern = pattern
        self.reason = reason
        self.instance = instance


class UnexpectedProperties(ValidationError):
    """An additionalProperties/unevaluatedProperties failure that names its keys (``names``), so
    messages need not recompute them (with patterns) or parse them back out of the message."""

    def __init__(self, message: str, names: list[str]) -> None:
        super().__init__(message)
        self.names = names


class TooCostly(Exception):
    """Checking ``instance`` would take longer than the gateway allows (``reason`` says why)."""

    def __init__(self, reason: str, instance: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.instance = instance


class MoveOffLoop(Exception):
    """The validation reached its share of the event loop (``pause_at`` checks): the caller runs
    it again in a worker thread, where it has the whole budget."""


class ValidationBudget:
    """Checks left for one validation (see the module docstring for what costs what).

    The hot path compares ``spent`` with one number, ``stop``: the nearest of the limit, the
    event loop's share (``pause_at``) and the next look at the clock (``deadline``, a
    ``time.monotonic()`` value, looked at every :data:`CLOCK_EVERY` checks).
    """

    __slots__ = ("deadline", "limit", "pause_at", "spent", "stop")

    def __init__(
        self, limit: int, *, pause_at: int | None = None, deadline: float | None = None
    ) -> None:
        self.limit = limit
        self.spent = 0
        self.pause_at = pause_at
        self.deadline = deadline
        self.stop = self._next_stop()

    def _next_stop(self) -> int:
        stop = self.limit
        if self.pause_at is not None:
            stop = min(stop, self.pause_at)
        if self.deadline is not None:
            stop = min(stop, self.spent + CLOCK_EVERY)
        return stop

    def spend(self, checks: int, instance: Any) -> None:
        self.spent += checks
        if self.spent > self.stop:
            self.checkpoint(instance)

    def checkpoint(self, instance: Any) -> None:
        """``spent`` passed ``stop``: over the limit, the loop's share, or time to look."""
        if self.spent > self.limit:
            raise BudgetExceeded(self.limit, instance)
        if self.pause_at is not None and self.spent > self.pause_at:
            raise MoveOffLoop
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise TooCostly(
                "took longer than the gateway's time for validating a request", instance
            )
        self.stop = self._next_stop()


_BUDGET: ContextVar[ValidationBudget | None] = ContextVar("xyb_validation_budget", default=None)


@contextmanager
def validation_budget(
    limit: int, *, pause_at: int | None = None, deadline: float | None = None
) -> Iterator[ValidationBudget]:
    """Validations run inside share one budget of ``limit`` checks (innermost wins); with
    ``pause_at`` they stop there (:class:`MoveOffLoop`), with ``deadline`` at that time."""
    budget = ValidationBudget(limit, pause_at=pause_at, deadline=deadline)
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


def _spend(checks: int, instance: Any) -> None:
    budget = _BUDGET.get()
    if budget is not None:
        budget.spend(checks, instance)


def _regex_charge(instance: Any) -> Callable[[int], None]:
    def charge(work: int) -> None:
        if work > MAX_REGEX_WORK:
            # One search cannot be interrupted once it runs: refuse it before it starts.
            raise TooCostly("is too long to be checked against its pattern", instance)
        _spend(work // REGEX_WORK_PER_CHECK, instance)

    return charge


# -- cheap reprs -----------------------------------------------------------------------------------


class _Object(dict[str, Any]):
    __slots__ = ()

    def __repr__(self) -> str:
        return "{…}" if self else "{}"

    __str__ = __repr__


class _Array(list[Any]):
    __slots__ = ()

    def __repr__(self) -> str:
        return "[…]" if self else "[]"

    __str__ = __repr__


class _Text(str):
    __slots__ = ()

    def __repr__(self) -> str:
        return str.__repr__(str(self[:_SHORT_REPR]))[:-1] + "…'"


def object_from_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose repr is short (long keys too): for ``object_pairs_hook``."""
    return _Object((_Text(k) if len(k) > _SHORT_REPR else k, v) for k, v in pairs)


def cheap_repr_instance(value: Any) -> Any:
    """``value`` with every object, array and long string (keys included) replaced by an equal
    one whose repr is a few characters: jsonschema formats the instance into each error message,
    which would cost the whole value's size again for every keyword that fails on it."""
    root = _cheap(value)
    stack: list[Any] = [root] if isinstance(root, (dict, list)) else []
    while stack:
        node = stack.pop()
        children = node.items() if isinstance(node, dict) else enumerate(node)
        changed: list[tuple[Any, Any]] = []
        for where, child in children:
            cheap = _cheap(child)
            if cheap is not child:
                changed.append((where, cheap))
            if isinstance(cheap, (dict, list)):
                stack.append(cheap)
        for where, cheap in changed:
            node[where] = cheap
    return root


def _cheap(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return object_from_pairs(list(value.items()))
    if kind is list:
        return _Array(value)
    if kind is str and len(value) > _SHORT_REPR:
        return _Text(value)
    return value


# -- patterns --------------------------------------------------------------------------------------


def _compiled(pattern: str, instance: Any) -> SafePattern:
    try:
        return compile_pattern(pattern)
    except PatternRefused as refused:
        raise PatternNotRun(pattern, refused.reason, instance) from None


def pattern(validator: Any, patrn: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not isinstance(patrn, str) or not validator.is_type(instance, "string"):
        return
    if not _compiled(patrn, instance).search(instance, _regex_charge(instance)):
        yield ValidationError(f"{instance!r} does not match {patrn!r}")


def pattern_properties(
    validator: Any, patterns: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object") or not isinstance(patterns, Mapping):
        return
    charge = _regex_charge(instance)
    for text, subschema in patterns.items():
        compiled = _compiled(text, instance)
        _spend(len(instance) // ENTRIES_PER_CHECK, instance)
        for key, value in instance.items():
            if compiled.search(key, charge):
                yield from validator.descend(value, subschema, path=key, schema_path=text)


def _additional(instance: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """The keys of ``instance`` that neither ``properties`` nor ``patternProperties`` cover."""
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        properties = {}
    declared = schema.get("patternProperties")
    patterns = [_compiled(p, instance) for p in declared] if isinstance(declared, Mapping) else []
    _spend(len(instance) // ENTRIES_PER_CHECK, instance)
    charge = _regex_charge(instance)
    return [
        key
        for key in instance
        if key not in properties and not any(p.search(key, charge) for p in patterns)
    ]


def _names(keys: list[Any], verb: str = "unexpected") -> str:
    """jsonschema's "'a', 'b' were unexpected" (charged by its length)."""
    text = ", ".join(repr(key) for key in keys)
    _spend(len(text) // FORMAT_BYTES_PER_CHECK, keys)
    return f"{text} {'was' if len(keys) == 1 else 'were'} {verb}"


def additional_properties(
    validator: Any, extra: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    extras = _additional(instance, schema)
    if validator.is_type(extra, "object"):
        for key in extras:
            yield from validator.descend(instance[key], extra, path=key)
    elif not extra and extras:
        yield UnexpectedProperties(
            f"Additional properties are not allowed ({_names(extras)})",
            extras,
        )


def _evaluated_keys(validator: Any, instance: Any, schema: Any) -> set[str]:
    """jsonschema's find_evaluated_property_keys_by_schema, with RE2, charged, and as a set."""
    if validator.is_type(schema, "boolean") or not isinstance(schema, Mapping):
        return set()
    _spend(1 + len(instance) // ENTRIES_PER_CHECK, instance)
    keys: set[str] = set()
    for keyword in ("$ref", "$dynamicRef"):
        ref = schema.get(keyword)
        if isinstance(ref, str):
            resolved = validator._resolver.lookup(ref)
            keys |= _evaluated_keys(
                validator.evolve(schema=resolved.contents, _resolver=resolved.resolver),
                instance,
                resolved.contents,
            )
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        keys.update(key for key in instance if key in properties)
    for keyword in ("additionalProperties", "unevaluatedProperties"):
        subschema = schema.get(keyword)
        if subschema is None:
            continue
        keys.update(
            key
            for key, value in instance.items()
            if next(validator.descend(value, subschema), None) is None
        )
    patterns = schema.get("patternProperties")
    if isinstance(patterns, Mapping):
        charge = _regex_charge(instance)
        for text in patterns:
            compiled = _compiled(text, instance)
            keys.update(key for key in instance if compiled.search(key, charge))
    dependent = schema.get("dependentSchemas")
    if isinstance(dependent, Mapping):
        for name, subschema in dependent.items():
            if name in instance:
                keys |= _evaluated_keys(validator, instance, subschema)
    for keyword in ("allOf", "oneOf", "anyOf"):
        members = schema.get(keyword)
        for subschema in members if isinstance(members, list) else ():
            if next(validator.descend(instance, subschema), None) is None:
                keys |= _evaluated_keys(validator, instance, subschema)
    if "if" in schema:
        if validator.evolve(schema=schema["if"]).is_valid(instance):
            keys |= _evaluated_keys(validator, instance, schema["if"])
            if "then" in schema:
                keys |= _evaluated_keys(validator, instance, schema["then"])
        elif "else" in schema:
            keys |= _evaluated_keys(validator, instance, schema["else"])
    return keys


def unevaluated_properties(
    validator: Any, unevaluated: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    evaluated = _evaluated_keys(validator, instance, schema)
    invalid: list[str] = []
    for key in instance:
        if key not in evaluated:
            for _ in validator.descend(instance[key], unevaluated, path=key, schema_path=key):
                invalid.append(key)  # one entry per key, not per error
                break
    if not invalid:
        return
    if unevaluated is False:
        invalid.sort(key=str)
        yield UnexpectedProperties(
            f"Unevaluated properties are not allowed ({_names(invalid)})",
            invalid,
        )
    else:
        yield ValidationError(
            "Unevaluated properties are not valid under the given schema"
            f" ({_names(invalid, 'unevaluated and invalid')})"
        )


def unevaluated_items(
    validator: Any, unevaluated: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "array"):
        return
    _spend(1 + len(instance) // ENTRIES_PER_CHECK, instance)
    evaluated = set(find_evaluated_item_indexes_by_schema(validator, instance, schema))
    extra = [item for index, item in enumerate(instance) if index not in evaluated]
    if extra:
        yield ValidationError(f"Unevaluated items are not allowed ({_names(extra)})")


# -- equality by hashing ---------------------------------------------------------------------------


def json_key(value: Any) -> tuple[Any, int]:
    """A hashable key equal for JSON-equal values (1 and 1.0 alike, true and 1 not, objects
    regardless of key order), and the number of values read to make it."""
    count = 0

    def key(node: Any) -> Any:
        nonlocal count
        count += 1
        if node is None or isinstance(node, bool):
            return node  # True/False/None: distinct from every number
        if isinstance(node, (int, float)):
            return ("n", node)  # int and float compare (and hash) by value: 1 == 1.0
        if isinstance(node, str):
            return ("s", node)
        if isinstance(node, (list, tuple)):
            return ("a", tuple(key(item) for item in node))
        if isinstance(node, Mapping):
            return ("o", frozenset((k, key(v)) for k, v in node.items()))
        return ("?", id(node))

    return key(value), count


def _charged_key(value: Any) -> Any:
    found, count = json_key(value)
    _spend(count // ENTRIES_PER_CHECK, value)
    return found


_ENUM_KEYS: dict[int, tuple[Any, frozenset[Any]]] = {}
_ENUM_CACHE_SIZE = 4096
_ENUM_LOCK = threading.Lock()  # contract checks validate in worker threads


def _enum_keys(members: list[Any]) -> frozenset[Any]:
    """The members' keys, computed once per enum list (the entry keeps the list alive, so its id
    cannot be reused while cached). A miss is charged to the validation that needs it."""
    cached = _ENUM_KEYS.get(id(members))
    if cached is not None and cached[0] is members:
        return cached[1]
    keys = frozenset(_charged_key(member) for member in members)
    with _ENUM_LOCK:
        if len(_ENUM_KEYS) >= _ENUM_CACHE_SIZE:
            _ENUM_KEYS.pop(next(iter(_ENUM_KEYS)), None)
        _ENUM_KEYS[id(members)] = (members, keys)
    return keys


def enum(validator: Any, members: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not isinstance(members, list):
        return
    if _charged_key(instance) not in _enum_keys(members):
        yield ValidationError(f"{instance!r} is not one of the {len(members)} allowed values")


def const(validator: Any, expected: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if _charged_key(instance) != _charged_key(expected):
        yield ValidationError(f"{instance!r} is not the one allowed value")


def unique_items(
    validator: Any, unique: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not unique or not validator.is_type(instance, "array"):
        return
    seen: set[Any] = set()
    read = 0
    try:
        for item in instance:
            item_key, count = json_key(item)
            read += count
            if item_key in seen:
                yield ValidationError(f"{instance!r} has non-unique elements")
                return
            seen.add(item_key)
    finally:
        _spend(read // ENTRIES_PER_CHECK, instance)


# -- numbers ---------------------------------------------------------------------------------------


def _ratio(number: int | float) -> tuple[int, int] | None:
    """The number as the decimal JSON wrote (the shortest repr of a float), as an exact integer
    ratio; None when it is not finite (1e400 reads as infinity)."""
    if isinstance(number, int):
        return number, 1
    if not math.isfinite(number):
        return None
    return Decimal(repr(number)).as_integer_ratio()


def multiple_of(
    validator: Any, divisor: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "number") or isinstance(divisor, bool):
        return
    if not isinstance(divisor, (int, float)):
        return
    step = _ratio(divisor)
    if step is None or step[0] <= 0:
        return  # not a valid schema (the onboarding check refuses it)
    value = _ratio(instance)
    # value / step is an integer: (n1/d1) / (n2/d2) = (n1*d2) / (n2*d1). Python's json reads at
    # most 4,300 digits, so these stay small.
    if value is None or (value[0] * step[1]) % (step[0] * value[1]) != 0:
        yield ValidationError(f"{instance!r} is not a multiple of {divisor}")


# -- messages that would print the schema --------------------------------------------------------


def not_(validator: Any, excluded: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.evolve(schema=excluded).is_valid(instance):
        yield ValidationError(f"{instance!r} must not be valid under the excluded schema")


def one_of(validator: Any, members: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    subschemas = enumerate(members)
    all_errors: list[ValidationError] = []
    for index, subschema in subschemas:
        errors = list(validator.descend(instance, subschema, schema_path=index))
        if not errors:
            break
        all_errors.extend(errors)
    else:
        yield ValidationError(
            f"{instance!r} is not valid under any of the given schemas", context=all_errors
        )
        return
    more = [i for i, each in subschemas if validator.evolve(schema=each).is_valid(instance)]
    if more:
        yield ValidationError(f"{instance!r} is valid under more than one of the given schemas")


# -- formats ---------------------------------------------------------------------------------------


def is_regex_format(instance: object) -> bool:
    """The ``regex`` format: a pattern the gateway could run (RE2, at most 10,000 characters).
    jsonschema's checker compiles the caller's text with Python's ``re`` and caches it."""
    if not isinstance(instance, str):
        return True
    return is_valid_pattern(instance)


def bounded_format_checker(base: FormatChecker) -> FormatChecker:
    """``base``'s checkers with ``regex`` checked by RE2."""
    checker = FormatChecker(formats=())
    checker.checkers.update(base.checkers)
    checker.checks("regex")(is_regex_format)
    return checker


def _format(original: Keyword) -> Keyword:
    def format_(validator: Any, name: Any, instance: Any, schema: Any) -> Any:
        if isinstance(instance, str):
            _spend(len(instance) // FORMAT_BYTES_PER_CHECK, instance)
        return original(validator, name, instance, schema)

    return format_


# -- OpenAPI 3.0's nullable ------------------------------------------------------------------------


def _nullable_type(original: Keyword) -> Keyword:
    """OpenAPI 3.0's ``type`` (which admits null beside ``nullable: true``), its errors naming
    ``"null"`` among the wanted types then, so messages need not know the dialect: in 3.1
    ``nullable`` means nothing, and a message saying "or null" would be false."""

    def type_(validator: Any, types: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
        nullable = isinstance(schema, Mapping) and schema.get("nullable") is True
        for error in original(validator, types, instance, schema):
            if nullable:
                wanted = [types] if isinstance(types, str) else list(types)
                error.validator = "type"
                error.validator_value = [*wanted, "null"]
            yield error

    return type_


# -- the validator classes -------------------------------------------------------------------------

_REPLACEMENTS: dict[str, Keyword] = {
    "pattern": pattern,
    "patternProperties": pattern_properties,
    "additionalProperties": additional_properties,
    "unevaluatedProperties": unevaluated_properties,
    "unevaluatedItems": unevaluated_items,
    "enum": enum,
    "const": const,
    "uniqueItems": unique_items,
    "multipleOf": multiple_of,
    "not": not_,
    "oneOf": one_of,
}
# Keywords that walk their own value on every evaluation: charged by its size.
_SIZED = frozenset({"required", "properties", "dependentRequired", "dependentSchemas"})


def _counted(name: str, function: Keyword) -> Keyword:
    if name in _SIZED:

        def sized(validator: Any, value: Any, instance: Any, schema: Any) -> Any:
            budget = _BUDGET.get()
            if budget is not None:
                size = len(value) if isinstance(value, (list, dict)) else 0
                budget.spend(1 + size // ENTRIES_PER_CHECK, instance)
            return function(validator, value, instance, schema)

        return sized

    weight = REF_CHECKS if name in ("$ref", "$dynamicRef") else 1

    def counted(validator: Any, value: Any, instance: Any, schema: Any) -> Any:
        budget = _BUDGET.get()
        if budget is not None:
            budget.spent += weight
            if budget.spent > budget.stop:
                budget.checkpoint(instance)
        return function(validator, value, instance, schema)

    return counted


def bounded_validator_class(base: Any, *, nullable: bool = False) -> Any:
    """``base`` (a jsonschema validator class) with the keywords above, every keyword counted.

    ``nullable``: ``base`` is OpenAPI 3.0's, whose ``type`` admits null beside ``nullable: true``
    (its errors then name null among the types wanted).
    """
    keywords: dict[str, Keyword] = {}
    for name, function in base.VALIDATORS.items():
        if name in _REPLACEMENTS:
            function = _REPLACEMENTS[name]
        elif name == "format":
            function = _format(function)
        elif name == "type" and nullable:
            function = _nullable_type(function)
        keywords[name] = _counted(name, function)
    return extend(base, keywords)  # type: ignore[no-untyped-call]  # jsonschema leaves it untyped
