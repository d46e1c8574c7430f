"""The nearest valid spelling of a mistyped value, so that a refusal names what was probably meant."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

SIMILARITY = 0.5  # difflib's ratio below which a known value is too unlike the typed one to suggest


def nearest(given: str, known: Iterable[str]) -> str | None:
    """The known value most like `given` (case aside), or None when none is alike."""
    by_folded = {name.lower(): name for name in known}
    matches = difflib.get_close_matches(given.strip().lower(), list(by_folded), n=1, cutoff=SIMILARITY)
    return by_folded[matches[0]] if matches else None


def nearest_hint(given: str, known: Iterable[str]) -> str:
    """'; did you mean NAME?' for a refusal's message, or nothing when no known value is alike."""
    match = nearest(given, known)
    return f"; did you mean {match}?" if match is not None else ""
