"""Keyset paging for the API's lists: `cursor` and `limit` read with a sentence for bad values, and the
`next` link; every list of the API pages the same way."""

from __future__ import annotations

from urllib.parse import urlencode

from chlops.exceptions import ChlopsError

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def positive(query, name: str) -> int | None:
    """A positive whole number from the query string; anything else is refused with a sentence."""
    raw = query.get(name)
    if raw in (None, ""):
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ChlopsError(f"'{name}' must be a positive whole number; follow the 'next' link to page on.")
    return int(raw)


def cursor(query) -> int | None:
    return positive(query, "cursor")


def size(query) -> int:
    return min(positive(query, "limit") or PAGE_SIZE, MAX_PAGE_SIZE)


def next_url(request, older: int | None) -> str | None:
    """The link to the page after this one (the same query, the cursor moved on), or None on the last."""
    if not older:
        return None
    return request.build_absolute_uri(f"{request.path}?{urlencode({**request.query_params.dict(), 'cursor': older})}")
