"""Cut a file into chunks: Markdown at its headings, everything else at line boundaries near a size."""

from __future__ import annotations

import re
from dataclasses import dataclass

CHUNK_CHARS = 2000
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t#]*$")
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


@dataclass(frozen=True)
class Chunk:
    title: str
    body: str


def chunks_of(*, path: str, text: str, markdown: bool, size: int = CHUNK_CHARS) -> list[Chunk]:
    """Return the file's non-blank chunks, in order; the same input always gives the same chunks."""
    if markdown:
        sections = _sections(text)
    else:
        sections = [("", text)]
    chunks: list[Chunk] = []
    for heading, body in sections:
        pieces = [piece for piece in _pieces(body, size) if piece.strip()]
        for number, piece in enumerate(pieces, start=1):
            title = f"{path} — {heading}" if heading else path
            if len(pieces) > 1:
                title = f"{title} ({number}/{len(pieces)})"
            chunks.append(Chunk(title=title, body=piece.strip("\n")))
    return chunks


def _sections(text: str) -> list[tuple[str, str]]:
    """Split Markdown at ATX headings outside fenced code; each section keeps its heading line."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    fence: str | None = None
    for line in text.splitlines(keepends=True):
        stripped = line.rstrip("\r\n")
        opened = FENCE.match(stripped)
        if fence is None and opened:
            fence = opened.group(1)[0] * 3
        elif fence is not None and stripped.lstrip().startswith(fence):
            fence = None
        elif fence is None and (heading := HEADING.match(stripped)):
            sections.append((heading.group(2).strip(), []))
        sections[-1][1].append(line)
    return [(heading, "".join(lines)) for heading, lines in sections]


def _pieces(text: str, size: int) -> list[str]:
    """Group whole lines into pieces of at most `size` characters; a longer line is cut on its own."""
    pieces: list[str] = []
    current: list[str] = []
    length = 0
    for line in text.splitlines(keepends=True):
        while len(line) > size:
            if current:
                pieces.append("".join(current))
                current, length = [], 0
            pieces.append(line[:size])
            line = line[size:]
        if length + len(line) > size and current:
            pieces.append("".join(current))
            current, length = [], 0
        current.append(line)
        length += len(line)
    if current:
        pieces.append("".join(current))
    return pieces
