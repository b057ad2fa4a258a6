"""The query parameters an endpoint takes: anything else is a 400 with a sentence, never ignored."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from chlops.exceptions import ChlopsError


class ParamUnknown(ChlopsError):
    status = 400


def params_check(query: Mapping[str, object], allowed: Collection[str]) -> None:
    """Raise ParamUnknown naming the first parameter not in `allowed`."""
    for name in query:
        if name not in allowed:
            takes = f"it takes: {', '.join(sorted(allowed))}" if allowed else "it takes none"
            raise ParamUnknown(f"Unknown parameter {name!r}; {takes}.")
