"""What the input files (targets, parts, workloads, library descriptors, network files) share: reading
TOML, a strict pydantic base schema, and turning pydantic's ValidationError into one line per problem
that names the key, its value and what is allowed. Each module prefixes the file and raises its own error.

The files qbench writes itself (a results folder's JSON and CSV files) are checked with pydantic too; being
machine-made, they are refused on their first problem, in one line and in JSON's spelling (first_row_problem,
block_problem): the one place pydantic's errors become words, for every file qbench reads.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from qbench.common.paths import shown

Loc = tuple[str | int, ...]
_MAX_LINES = 10  # a file with a thousand bad values needs the first few, not a thousand lines


class Schema(BaseModel):
    """A table of an input file: every key known and typed as written (no "3" for 3, no true for 1),
    numbers finite."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)


# How many of something (epochs, layers, neurons): at least one.
Count = Annotated[int, Field(ge=1)]


# tomllib's wording for a repeated key or table, in a file author's words.
_TOML_REWORDINGS = (
    (re.compile(r"^Cannot overwrite a value"), "a key is given twice"),
    (re.compile(r"^Cannot declare .* twice"), "a table is declared twice"),
)


def read_toml(path: Path, error: type[Exception]) -> dict[str, Any]:
    """The file's TOML document; a missing, unreadable or malformed file is `error`, naming the file."""
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except FileNotFoundError:
        raise error(f"{shown(path)}: no such file") from None
    except OSError as problem:
        raise error(f"{shown(path)}: cannot be read ({problem.strerror})") from None
    except UnicodeDecodeError:
        raise error(f"{shown(path)}: not valid TOML: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as problem:
        text = str(problem)
        for pattern, plain in _TOML_REWORDINGS:
            text = pattern.sub(plain, text)
        raise error(f"{shown(path)}: not valid TOML: {text}") from None


def validate(
    schema: Any, document: Any, error: type[Exception], where: Callable[[Loc], str], context: dict | None = None
) -> Any:
    """document checked against schema; any problem is `error`, one line per problem, each starting with
    where(its location): the file that holds the key."""
    try:
        return TypeAdapter(schema).validate_python(document, context=context)
    except ValidationError as problems:
        details = problems.errors()
        lines = [f"{where(detail['loc'])}: {_describe(schema, detail)}" for detail in details[:_MAX_LINES]]
        if len(details) > _MAX_LINES:
            lines.append(f"... and {len(details) - _MAX_LINES} more problems")
        raise error("\n".join(lines)) from None


# What each pydantic error type says is allowed; a custom error (PydanticCustomError) says it in its message.
_ALLOWED = {
    "string_type": "a string",
    "int_type": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
    "literal_error": "{expected}",
    "finite_number": "a finite number",
    "string_too_short": "a non-empty string",
    "too_short": "a list of {min_length} or more",
}
_RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}
_BOUNDS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}


def _describe(schema: Any, detail: ErrorDetails) -> str:
    """One problem: "'key' is value; allowed: ...", "'key' is required" or "'key' is not a known key"."""
    loc = detail["loc"]
    key = _dotted(loc)
    if detail["type"] == "missing":
        return f"'{key}' is required"
    if detail["type"] == "extra_forbidden":
        return f"'{key}' is not a known key (known: {', '.join(_expected_at(schema, loc[:-1])[0].model_fields)})"
    known = _ALLOWED.get(detail["type"])
    allowed = known.format(**detail.get("ctx", {})) if known is not None else detail["msg"]
    if detail["type"] in _RANGE_ERRORS:  # the whole range, not only the bound the value broke
        allowed = _range(_expected_at(schema, loc)[1]) or allowed
    return f"'{key}' is {_shown_value(detail['input'])}; allowed: {allowed}"


def _range(constraints: list[Any]) -> str:
    """'>= 2 and <= 64' from Ge(2), Le(64)."""
    bounds = [
        (sign, getattr(bound, name)) for bound in constraints for name, sign in _BOUNDS.items() if hasattr(bound, name)
    ]
    return " and ".join(f"{sign} {value}" for sign, value in bounds)


def _dotted(loc: Loc) -> str:
    """A location as a file's author writes it: memory.stack_size, cflags[2]."""
    return "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in loc).lstrip(".")


def _shown_value(value: Any) -> str:
    """A value as TOML or JSON spells it, cut short when long."""
    text = ("true" if value else "false") if isinstance(value, bool) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _expected_at(schema: Any, loc: Loc) -> tuple[Any, list[Any]]:
    """The type the schema expects at loc, and its constraints (bounds such as Gt(0))."""
    kind, constraints = _unwrapped(schema)
    for step in loc:
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            field = kind.model_fields[str(step)]
            kind, constraints = _unwrapped(field.annotation)
            constraints = [*field.metadata, *constraints]
        else:  # a table of tables or a list: every key or index holds the same type
            kind, constraints = _unwrapped(get_args(kind)[-1])
    return kind, constraints


def _unwrapped(kind: Any) -> tuple[Any, list[Any]]:
    """kind without `| None` and Annotated, with the Annotated constraints."""
    constraints: list[Any] = []
    while True:
        if get_origin(kind) is Annotated:
            constraints += kind.__metadata__
            kind = get_args(kind)[0]
        elif get_origin(kind) in (Union, UnionType):
            kind = next(arm for arm in get_args(kind) if arm is not type(None))
        else:
            return kind, constraints


# Files qbench writes: the first problem, in one line ------------------------------------------------------------


def json_shown(value: Any) -> str:
    """A value as a message about a JSON or CSV file quotes it: as JSON, cut short."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def first_row_problem(errors: list[ErrorDetails], expected: dict[str, str], row_name: Callable[[int], str]) -> str:
    """What is wrong with a table's first bad row (errors located from the row's index on): the columns it lacks,
    its unknown columns, or its first value of the wrong type (expected: column -> what its values must be)."""
    index = errors[0]["loc"][0]
    own = [error for error in errors if error["loc"][0] == index]
    if len(own[0]["loc"]) == 1:
        return f"{row_name(index)} is not an object"
    missing = [str(error["loc"][1]) for error in own if error["type"] == "missing"]
    if missing:
        return f"{row_name(index)} lacks {', '.join(missing)}"
    unknown = [str(error["loc"][1]) for error in own if error["type"] == "extra_forbidden"]
    if unknown:
        return f"{row_name(index)} has unknown columns {', '.join(unknown)}"
    column = own[0]["loc"][1]
    return f"{row_name(index)}, column {column}: {json_shown(own[0]['input'])} is not {expected[str(column)]}"


def block_problem(errors: list[ErrorDetails], model: type[BaseModel], name: str) -> str:
    """What is wrong with a document's block `name`, of schema `model` (errors located from its keys on): the keys
    one table lacks or has unknown, or the first bad value with pydantic's reason."""
    where = errors[0]["loc"]
    if not where:
        required = [key for key, declared in model.model_fields.items() if declared.is_required()]
        return f"'{name}' must be an object holding {', '.join(required)}"

    def place(location: Loc) -> str:
        return name + (f" key {'.'.join(map(str, location))}" if location else "")

    siblings = [error for error in errors if error["loc"][:-1] == where[:-1]]
    for kind, verb in (("missing", "lacks"), ("extra_forbidden", "has unknown keys")):
        keys = [str(error["loc"][-1]) for error in siblings if error["type"] == kind]
        if keys:
            return f"{place(where[:-1])} {verb} {', '.join(keys)}"
    reason = errors[0]["msg"].removeprefix("Input ").removeprefix("Value error, ")
    return f"{place(where)}: {json_shown(errors[0]['input'])} {reason}"
