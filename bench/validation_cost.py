"""What validating one request costs when the onboarded document is hostile (or just large).

.venv/bin/python -m bench.validation_cost [--limit 20] [--case NAME ...] [--formats]

Method (numbers in bench/README.md): each case is a small OpenAPI 3.1 document with one
``POST /x`` operation whose JSON body schema is the case's schema, and one body. The validator is
analysed as onboarding does (a refusal is printed first), then compiled with
:func:`app.services.openapi.compile_validator` (the gateway's own path) whether or not it was
refused, as for a document stored before the checks existed, and ``RequestValidator.validate`` is
timed on the body (JSON parsing included): CPU time of the process, best of 3 (once when it takes
over a second). Every case runs in a subprocess of its own that is killed after ``--limit``
seconds, so a case that would never finish prints "> limit". ``--formats`` times each active
format checker on long adversarial strings (100 KB, 1 MB, 10 MB) instead.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from app.services.openapi import OpenAPIVersion, analyse, compile_validator

Case = tuple[dict[str, Any], bytes, dict[str, Any]]  # body schema, body, extra components


def _str_object(pattern: str, text: str) -> Case:
    schema = {"type": "object", "properties": {"v": {"type": "string", "pattern": pattern}}}
    return schema, json.dumps({"v": text}).encode(), {}


def _redos(n: int) -> Callable[[], Case]:
    return lambda: _str_object("^(a+)+$", "a" * n + "!")


def _redos_pattern_properties(n: int) -> Callable[[], Case]:
    def build() -> Case:
        schema = {"type": "object", "patternProperties": {"^(a+)+$": {"type": "string"}}}
        return schema, json.dumps({"a" * n + "!": "x"}).encode(), {}

    return build


def _redos_additional(n: int) -> Callable[[], Case]:
    def build() -> Case:
        schema = {
            "type": "object",
            "patternProperties": {"^(a+)+$": {"type": "string"}},
            "additionalProperties": False,
        }
        return schema, json.dumps({"a" * n + "!": "x"}).encode(), {}

    return build


def _normal() -> Case:
    """A typical form: ten fields, six of them with a pattern, one format, one enum."""
    schema = {
        "type": "object",
        "required": ["name", "id_number", "phone"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 2, "maxLength": 20},
            "id_number": {"type": "string", "pattern": r"^[0-9]{17}[0-9X]$"},
            "phone": {"type": "string", "pattern": r"^1[3-9][0-9]{9}$"},
            "postcode": {"type": "string", "pattern": r"^[0-9]{6}$"},
            "email": {"type": "string", "format": "email"},
            "division": {"type": "string", "pattern": r"^43[0-9]{4}$"},
            "kind": {"type": "string", "enum": ["a", "b", "c", "d"]},
            "amount": {"type": "number", "minimum": 0, "multipleOf": 0.01},
            "code": {"type": "string", "pattern": r"^[A-Z]{2}-[0-9]{4}$"},
            "note": {"type": "string", "pattern": r"^[\u4e00-\u9fa5，。 ]{0,200}$"},
        },
    }
    body = {
        "name": "张三",
        "id_number": "430121199912124865",
        "phone": "13812345678",
        "postcode": "410000",
        "email": "a@b.cn",
        "division": "430100",
        "kind": "b",
        "amount": 12.34,
        "code": "AB-1234",
        "note": "这是一个备注。",
    }
    return schema, json.dumps(body, ensure_ascii=False).encode(), {}


def _many_properties(n: int) -> Callable[[], Case]:
    def build() -> Case:
        schema = {"type": "object", "additionalProperties": {"type": "string", "maxLength": 50}}
        return schema, json.dumps({f"key{i}": f"value {i}" for i in range(n)}).encode(), {}

    return build


def _simple_objects(n: int) -> Callable[[], Case]:
    def build() -> Case:
        schema = {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "name"],
                "properties": {
                    "id": {"type": "integer", "minimum": 0},
                    "name": {"type": "string", "maxLength": 40},
                },
            },
        }
        body = [{"id": i, "name": f"item {i}"} for i in range(n)]
        return schema, json.dumps(body).encode(), {}

    return build


def _enum(size: int, values: int) -> Callable[[], Case]:
    def build() -> Case:
        schema = {"type": "array", "items": {"enum": [f"v{i}" for i in range(size)]}}
        return schema, json.dumps(["missing"] * values).encode(), {}

    return build


def _unique_objects(n: int) -> Callable[[], Case]:
    def build() -> Case:
        schema = {"type": "array", "uniqueItems": True}
        return schema, json.dumps([{"i": i} for i in range(n)]).encode(), {}

    return build


def _multiple_of(value: str, divisor: float) -> Callable[[], Case]:
    def build() -> Case:
        schema = {"type": "object", "properties": {"v": {"multipleOf": divisor}}}
        return schema, b'{"v": ' + value.encode() + b"}", {}

    return build


def _exponential_any_of(levels: int) -> Callable[[], Case]:
    def build() -> Case:
        components: dict[str, Any] = {
            f"S{i}": {"anyOf": [{"$ref": f"#/components/schemas/S{i + 1}"}] * 2}
            for i in range(levels)
        }
        components[f"S{levels}"] = {"type": "string"}
        return {"$ref": "#/components/schemas/S0"}, b"1", components

    return build


def _recursive_all_of(depth: int) -> Callable[[], Case]:
    def build() -> Case:
        branch = {"properties": {"a": {"$ref": "#/components/schemas/T"}}}
        components = {"T": {"allOf": [branch, branch]}}
        body: Any = 1
        for _ in range(depth):
            body = {"a": body}
        return {"$ref": "#/components/schemas/T"}, json.dumps(body).encode(), components

    return build


def _ref_chain(length: int) -> Callable[[], Case]:
    def build() -> Case:
        components: dict[str, Any] = {
            f"C{i}": {"$ref": f"#/components/schemas/C{i + 1}"} for i in range(length)
        }
        components[f"C{length}"] = {"type": "integer"}
        schema = {"type": "array", "items": {"$ref": "#/components/schemas/C0"}}
        return schema, json.dumps(list(range(100))).encode(), components

    return build


def _ref_cycle() -> Case:
    components = {
        "A": {"allOf": [{"$ref": "#/components/schemas/B"}]},
        "B": {"$ref": "#/components/schemas/A"},
    }
    return {"$ref": "#/components/schemas/A"}, b"1", components


def _anchors(count: int) -> Callable[[], Case]:
    def build() -> Case:
        components: dict[str, Any] = {
            f"A{i}": {"$anchor": f"a{i}", "type": "integer"} for i in range(count)
        }
        schema = {"type": "array", "items": {"$ref": "#a0"}}
        return schema, json.dumps(list(range(100))).encode(), components

    return build


def _deep_body(depth: int) -> Callable[[], Case]:
    def build() -> Case:
        components = {"N": {"type": "array", "items": {"$ref": "#/components/schemas/N"}}}
        return {"$ref": "#/components/schemas/N"}, b"[" * depth + b"]" * depth, components

    return build


CASES: dict[str, Callable[[], Case]] = {
    "redos pattern, 22 chars": _redos(22),
    "redos pattern, 24 chars": _redos(24),
    "redos pattern, 26 chars": _redos(26),
    "redos pattern, 30 chars": _redos(30),
    "redos pattern, 5,000 chars": _redos(5000),
    "redos pattern, 1,000,000 chars": _redos(1_000_000),
    "redos patternProperties key, 26 chars": _redos_pattern_properties(26),
    "redos patternProperties key, 5,000 chars": _redos_pattern_properties(5000),
    "redos additionalProperties look-up, 26 chars": _redos_additional(26),
    "redos additionalProperties look-up, 5,000 chars": _redos_additional(5000),
    "normal form (10 fields, 6 patterns)": _normal,
    "object with 5,000 properties": _many_properties(5000),
    "array of 100,000 simple objects (2.6 MB)": _simple_objects(100_000),
    "array of 400,000 simple objects (10 MB)": _simple_objects(400_000),
    "enum of 500,000 x 10,000 values": _enum(500_000, 10_000),
    "enum of 1,000 x 1,000 values": _enum(1_000, 1_000),
    "uniqueItems, 10,000 objects": _unique_objects(10_000),
    "multipleOf 1e-308, value 1e308": _multiple_of("1e308", 1e-308),
    "multipleOf 0.1, value 4000-digit integer": _multiple_of("1" + "0" * 4000, 0.1),
    "multipleOf 0.01, value 12.34": _multiple_of("12.34", 0.01),
    "anyOf doubling, 16 levels": _exponential_any_of(16),
    "anyOf doubling, 20 levels": _exponential_any_of(20),
    "anyOf doubling, 30 levels": _exponential_any_of(30),
    "recursive allOf, body depth 16": _recursive_all_of(16),
    "recursive allOf, body depth 20": _recursive_all_of(20),
    "recursive allOf, body depth 30": _recursive_all_of(30),
    "$ref chain of 1,000, 100 items": _ref_chain(1000),
    "$ref chain of 20,000, 100 items": _ref_chain(20_000),
    "in-place $ref/allOf cycle": _ref_cycle,
    "$anchor among 10,000 schemas, 100 items": _anchors(10_000),
    "body nested 500 deep, recursive schema": _deep_body(500),
}


def run_case(name: str) -> str:
    schema, body, components = CASES[name]()
    document = {
        "openapi": "3.1.0",
        "info": {"title": "bench", "version": "1"},
        "paths": {
            "/x": {
                "post": {
                    "operationId": "x",
                    "requestBody": {"content": {"application/json": {"schema": schema}}},
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
        "components": {"schemas": components},
    }
    started = time.process_time()
    analysis = analyse(document)
    analysed = time.process_time() - started
    refused = ""
    if analysis.problems:
        first = analysis.problems[0]
        refused = f"[refused at onboarding ({analysed * 1000:.0f} ms): {first.pointer}: {first.message[:90]}] "
    operations = analyse(document, check_spec=False).operations
    validator = compile_validator(document, operations[0], "3.1")
    best = float("inf")
    errors: list[Any] = []
    for _ in range(3):
        started = time.process_time()
        errors = validator.validate(
            path_params={}, query=[], headers={}, content_type="application/json", body=body
        )
        best = min(best, time.process_time() - started)
        if best > 1:
            break
    outcome = (
        "valid"
        if not errors
        else f"{len(errors)} error(s), first {errors[0].pointer[:30]}: {errors[0].detail}"
    )
    return f"{refused}{best * 1000:,.2f} ms  ({outcome[:150]})"


def _formats() -> None:
    from app.services.openapi.validation import validator_class

    formats = [
        "date",
        "date-time",
        "time",
        "email",
        "idn-email",
        "idn-hostname",
        "ipv4",
        "ipv6",
        "uuid",
        "regex",
        "byte",
        "int32",
        "binary",
    ]
    payloads: dict[str, Callable[[int], str]] = {
        "digits": lambda n: "1" * n,
        "dotted": lambda n: ("a." * (n // 2))[:n],
        "brackets": lambda n: "(" * n,
        "mixed": lambda n: ("2024-01-01T00:00:00Z:" * (n // 21 + 1))[:n],
    }
    versions: tuple[OpenAPIVersion, ...] = ("3.0", "3.1")
    for version in versions:
        from app.services.openapi.validation import _format_checker

        checker = _format_checker(version)
        for fmt in formats:
            if fmt not in checker.checkers:
                continue
            cls = validator_class(version)
            validator = cls({"type": "string", "format": fmt}, format_checker=checker)
            row = []
            for size in (100_000, 1_000_000, 10_000_000):
                worst = 0.0
                for make in payloads.values():
                    text = make(size)
                    started = time.process_time()
                    with contextlib.suppress(Exception):  # a checker's failure is still its cost
                        list(validator.iter_errors(text))
                    worst = max(worst, time.process_time() - started)
                row.append(f"{worst * 1000:,.1f} ms")
            print(
                f"OAS {version} format {fmt:13} 100 KB / 1 MB / 10 MB: {' / '.join(row)}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=float, default=20.0)
    parser.add_argument("--case", action="append")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--formats", action="store_true")
    args = parser.parse_args()
    if args.formats:
        _formats()
        return
    names = args.case or list(CASES)
    if args.inner:
        for name in names:
            print(run_case(name), flush=True)
        return
    for name in names:
        command = [sys.executable, "-m", "bench.validation_cost", "--inner", "--case", name]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=args.limit, check=False
            )
            result = done.stdout.strip() or done.stderr.strip().splitlines()[-1]
        except subprocess.TimeoutExpired:
            result = f"> {args.limit:.0f} s (killed)"
        print(f"{name:48} {result}", flush=True)


if __name__ == "__main__":
    main()
