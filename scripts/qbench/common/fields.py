"""A record's fields, read once per record class. dataclasses.fields() builds its tuple anew at every call and
asdict/astuple deep-copy every value: on a long sweep, the client's largest cost per cell."""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Any


@cache
def field_names(kind: type) -> tuple[str, ...]:
    """The names of a record class's fields, in order."""
    return tuple(field.name for field in dataclasses.fields(kind))


@cache
def init_field_names(kind: type) -> tuple[str, ...]:
    """The names of the fields its constructor takes, in order."""
    return tuple(field.name for field in dataclasses.fields(kind) if field.init)


def flat_tuple(record: Any) -> tuple:
    """A flat record's values (each a plain value, an enum or a string), shallow: nothing is copied."""
    return tuple(getattr(record, name) for name in field_names(type(record)))


def flat_dict(record: Any) -> dict[str, Any]:
    """A flat record's fields by name, shallow: nothing is copied."""
    return {name: getattr(record, name) for name in field_names(type(record))}
