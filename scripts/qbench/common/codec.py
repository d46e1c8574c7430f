"""Records as JSON-compatible data and back, what the cache stores. A dataclass record becomes an object of its
fields and is read back from its type hints, so a record that gains a field needs no change here. Tuples and lists
become arrays, enums their values, dicts keep their string keys, and a Path is written as its place in the
checkout (shown): a worker's checkout may lie elsewhere than the client's. Data of another shape than the hints
describe is a ShapeError that says where, never a wrong record.

A decoder is made once per type hint, so reading a stored record walks no type hints; arrays of JSON's own
values (a run's paths and visits: hundreds of thousands of numbers) are checked whole, at C speed. Decoders are
pure: what fails as a whole is read again part by part, only to say where."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import operator
import types
import typing
from collections.abc import Callable, Iterable, KeysView
from enum import Enum
from pathlib import Path
from typing import Any

from qbench.common.fields import init_field_names
from qbench.common.paths import in_checkout, shown

Decoder = Callable[[Any], Any]

_PLAIN = (type(None), bool, int, float, str)


class ShapeError(ValueError):
    """Data that is not what the type hints describe: the message gives where (fields and indexes) and what."""

    def __init__(self, problem: str, where: str = "") -> None:
        super().__init__(f"{where.removeprefix('.')}: {problem}" if where else problem)
        self.problem = problem
        self.where = where

    def inside(self, step: str) -> ShapeError:
        """The same problem, seen from the record or array that holds it (step: '.field', '[index]', "['key']")."""
        return ShapeError(self.problem, step + self.where)


def encode(value: Any) -> Any:
    """JSON-compatible data for a record, or for any value made of what `decode` reads back."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if dataclasses.is_dataclass(kind):
        return {name: getattr(value, name) if plain else encode(getattr(value, name)) for name, plain in _fields(kind)}
    if isinstance(value, Enum):  # before str: a StrEnum is a str
        return value.value
    if isinstance(value, Path):
        return shown(value)
    if isinstance(value, tuple | list):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        return {_key(key): encode(item) for key, item in value.items()}
    raise TypeError(f"cannot encode a {type(value).__name__}: {value!r:.60}")


@functools.cache
def _fields(kind: type) -> tuple[tuple[str, bool], ...]:
    """A record class's constructor fields, each with whether its hint is one of JSON's own values (taken as it
    is: a build's symbols are thousands of such fields)."""
    hints = typing.get_type_hints(kind)
    return tuple((name, isinstance(decoder(hints[name]), _Plain)) for name in init_field_names(kind))


def _key(key: Any) -> str:
    text = encode(key)
    if not isinstance(text, str):
        raise TypeError(f"a dict key must be written as a string, not {key!r:.60}")
    return text


def decode(hint: Any, data: Any) -> Any:
    """The value of type `hint` (a record class, or a hint such as tuple[Record, ...]) that `data` encodes."""
    return decoder(hint)(data)


@functools.cache
def shape(hint: Any) -> str:
    """What decides whether stored data still decodes as `hint`: every record's fields with their types, spelled
    out. A cache key holds it, so a record that changes makes what was stored of it a miss."""
    if dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        fields = (f"{field.name}: {shape(hints[field.name])}" for field in dataclasses.fields(hint) if field.init)
        return f"{hint.__name__}({', '.join(fields)})"
    arguments = typing.get_args(hint)
    if arguments:
        return f"{_name(typing.get_origin(hint))}[{', '.join(map(shape, arguments))}]"
    return _name(hint)


@functools.cache
def decoder(hint: Any) -> Decoder:
    """The function that reads data of type `hint` back; TypeError for a hint it cannot read."""
    origin = typing.get_origin(hint)
    if origin in _CONTAINERS:
        return _CONTAINERS[origin](*typing.get_args(hint))
    if dataclasses.is_dataclass(hint):
        return _record(hint)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return _enum(hint)
    if hint in _SCALARS:
        return _SCALARS[hint]
    raise TypeError(f"no decoder for {hint!r}")


@dataclasses.dataclass(frozen=True)
class _Plain:
    """JSON's own values of the accepted types, taken as they are: a float field written from an int reads back
    as that int, as it was."""

    expected: str
    accepted: frozenset[type]

    def __call__(self, data: Any) -> Any:
        if type(data) not in self.accepted:
            raise ShapeError(f"expected {self.expected}, {_found(data)}")
        return data

    def __or__(self, other: _Plain) -> _Plain:
        return _Plain(f"{self.expected} or {other.expected}", self.accepted | other.accepted)

    def whole(self, data: list) -> list | None:
        """An array of these read at once; None when some item is not one."""
        return data if set(map(type, data)) <= self.accepted else None


@dataclasses.dataclass(frozen=True)
class _Fixed:
    """tuple[A, B]: an array of exactly these."""

    reads: tuple[Decoder, ...]

    def __call__(self, data: Any) -> tuple:
        if type(data) is not list or len(data) != len(self.reads):
            raise ShapeError(f"expected an array of {len(self.reads)}, {_found(data)}")
        return tuple(_each((f"[{index}]", *pair) for index, pair in enumerate(zip(self.reads, data, strict=True))))

    @functools.cached_property
    def alike(self) -> frozenset[type] | None:
        """The types every item accepts, when all take JSON's own values alike (a run's (visit, times) pairs)."""
        accepted = {read.accepted if isinstance(read, _Plain) else None for read in self.reads}
        return accepted.pop() if len(accepted) == 1 else None

    def whole(self, data: list) -> list | None:
        """An array of these read at once (a run's paths: pairs by the million); None when the items are not
        alike or some item is not one of these."""
        if self.alike is None or not set(map(type, data)) <= {list} or not set(map(len, data)) <= {len(self.reads)}:
            return None
        return list(map(tuple, data)) if set(map(type, itertools.chain.from_iterable(data))) <= self.alike else None


def _name(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint)


def _found(data: Any) -> str:
    return f"found {data!r:.60}"


def _each(steps: Iterable[tuple[str, Decoder, Any]]) -> list:
    """Every item read by its decoder, a problem located by the step to its item."""
    items = []
    for step, read, item in steps:
        try:
            items.append(read(item))
        except ShapeError as error:
            raise error.inside(step) from None
    return items


def _path(data: Any) -> Path:
    return in_checkout(_SCALARS[str](data))


def _enum(kind: type[Enum]) -> Decoder:
    def decoded(data: Any) -> Enum:
        try:
            return kind(data)
        except ValueError:
            raise ShapeError(f"expected one of {[member.value for member in kind]}, {_found(data)}") from None

    return decoded


def _record(kind: type) -> Decoder:
    hints = typing.get_type_hints(kind)  # the annotations are strings: resolved in the record's module
    fields = {field.name: decoder(hints[field.name]) for field in dataclasses.fields(kind) if field.init}
    if any(field.kw_only for field in dataclasses.fields(kind)):
        raise TypeError(f"no decoder for {kind.__name__}: its fields are passed by position")
    names, reads = list(fields), list(fields.values())

    def decoded(data: Any) -> Any:
        if type(data) is not dict or data.keys() != fields.keys():
            raise ShapeError(_fields_problem(kind, fields.keys(), data))
        try:
            return kind(*map(operator.call, reads, map(data.__getitem__, names)))
        except ShapeError:
            return kind(*_each((f".{name}", read, data[name]) for name, read in fields.items()))

    return decoded


def _fields_problem(kind: type, names: KeysView[str], data: Any) -> str:
    if type(data) is not dict:
        return f"expected the fields of {kind.__name__}, {_found(data)}"
    differences = (("missing", names - data.keys()), ("unknown", data.keys() - names))
    listed = [f"{what} fields {', '.join(sorted(fields))}" for what, fields in differences if fields]
    return f"a {kind.__name__} with {' and '.join(listed)}"


def _array(read: Decoder, data: Any) -> list:
    if type(data) is not list:
        raise ShapeError(f"expected an array, {_found(data)}")
    whole = read.whole(data) if isinstance(read, _Plain | _Fixed) else None
    if whole is not None:
        return whole
    try:
        return [read(item) for item in data]
    except ShapeError:
        return _each((f"[{index}]", read, item) for index, item in enumerate(data))


def _tuple(*items: Any) -> Decoder:
    """tuple[X, ...] of any length, or tuple[A, B] of exactly these."""
    if len(items) == 2 and items[1] is Ellipsis:
        read = decoder(items[0])
        return lambda data: tuple(_array(read, data))
    return _Fixed(tuple(decoder(item) for item in items))


def _list(item: Any) -> Decoder:
    read = decoder(item)
    return lambda data: _array(read, data)


def _dict(key: Any, value: Any) -> Decoder:
    read_key, read_value = decoder(key), decoder(value)

    def read_item(item: tuple[Any, Any]) -> tuple[Any, Any]:
        return read_key(item[0]), read_value(item[1])

    def decoded(data: Any) -> dict:
        if type(data) is not dict:
            raise ShapeError(f"expected an object, {_found(data)}")
        try:
            return dict(map(read_item, data.items()))
        except ShapeError:
            return dict(_each((f"[{item[0]!r}]", read_item, item) for item in data.items()))

    return decoded


def _union(*options: Any) -> Decoder:
    """Options all of JSON's own values: one check. X | None: null, or an X (an X's own problem reported).
    Otherwise the first option that reads the data."""
    reads = [decoder(option) for option in options]
    if all(isinstance(read, _Plain) for read in reads):
        return functools.reduce(_Plain.__or__, reads)
    if len(options) == 2 and type(None) in options:
        read = reads[1 - options.index(type(None))]
        return lambda data: None if data is None else read(data)

    def decoded(data: Any) -> Any:
        for read in reads:
            try:
                return read(data)
            except ShapeError:
                continue
        raise ShapeError(f"expected {' or '.join(map(_name, options))}, {_found(data)}")

    return decoded


_SCALARS: dict[Any, Decoder] = {
    type(None): _Plain("null", frozenset({type(None)})),
    bool: _Plain("true or false", frozenset({bool})),
    int: _Plain("an integer", frozenset({int})),
    float: _Plain("a number", frozenset({int, float})),
    str: _Plain("a string", frozenset({str})),
    Path: _path,
}
_CONTAINERS: dict[Any, Callable[..., Decoder]] = {
    tuple: _tuple,
    list: _list,
    dict: _dict,
    typing.Union: _union,
    types.UnionType: _union,
}
