"""Split text into the terms that build and query share: lower-cased runs of letters and digits."""

from __future__ import annotations

import re

# Letters and digits of any script; underscores split snake_case identifiers into words.
WORD = re.compile(r"[^\W_]+")


def tokenize(text: str) -> list[str]:
    """Return the terms of text, in order, repeats kept."""
    return WORD.findall(text.lower())
