"""Check one row of an import and turn it into what is stored, or say why it is rejected."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from indexes.models import Entry, Kind
from indexes.services.importing.errors import RowRejected

MAX_BODY_BYTES = 1024 * 1024
MAX_EXTERNAL_ID = Entry._meta.get_field("external_id").max_length
MAX_TITLE = Entry._meta.get_field("title").max_length
KINDS = frozenset(Kind.values)
KIND_HINT = "use experience, manual or document"


@dataclass(slots=True)
class Row:
    number: int
    kind: str
    external_id: str
    title: str
    body: str
    tags: list[str]
    metadata: dict
    content_hash: str
    key: int  # hash((kind, external_id)): compact, and stable for the life of one import


def row_clean(number: int, values: tuple, *, text: bool) -> Row:
    """Return the row as stored, or raise RowRejected with a sentence; `text` means CSV cells."""
    kind, external_id, title, body, tags, metadata = values
    if kind is None or kind == "":
        raise RowRejected(f"The kind is missing; {KIND_HINT}.")
    if not isinstance(kind, str) or kind not in KINDS:
        raise RowRejected(f"Unknown kind {_shown(kind)}; {KIND_HINT}.")
    external_id = _external_id(external_id)
    title = _text("title", title)
    if len(title) > MAX_TITLE:
        raise RowRejected(f"The title is longer than {MAX_TITLE} characters.")
    body = _text("body", body)
    # A character is 1 to 4 bytes: encode only the bodies whose length leaves a doubt.
    if len(body) * 4 > MAX_BODY_BYTES and (
        len(body) > MAX_BODY_BYTES or len(body.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES
    ):
        raise RowRejected("The body is larger than 1 MB (1,048,576 bytes); split it into several entries.")
    tags = _tags(tags)
    metadata = _metadata_from_text(metadata) if text else _metadata(metadata)
    if (
        "\x00" in external_id
        or "\x00" in title
        or "\x00" in body
        or _holds_nul(tags)
        or (metadata and _holds_nul(metadata))
    ):
        # PostgreSQL cannot store it in text or jsonb; refusing it everywhere keeps both databases alike.
        raise RowRejected("This row contains a NUL character (\\x00 or \\u0000), which text cannot hold; remove it.")
    try:
        content_hash = Entry.hash_content(title=title, body=body, tags=tags, metadata=metadata)
        if not external_id.isascii():
            external_id.encode()
    except UnicodeEncodeError:
        raise RowRejected(
            "This row holds bytes that are not UTF-8 text; save the file as UTF-8 and import it again."
        ) from None
    return Row(number, kind, external_id, title, body, tags, metadata, content_hash, hash((kind, external_id)))


def _external_id(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise RowRejected("The external_id is empty; every entry needs one, unique within its kind.")
    if not isinstance(value, str):
        raise RowRejected(f"The external_id must be text, not {_json_type(value)}.")
    if len(value) > MAX_EXTERNAL_ID:
        raise RowRejected(f"The external_id is longer than {MAX_EXTERNAL_ID} characters.")
    return value


def _text(name: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RowRejected(f"The {name} must be text, not {_json_type(value)}.")
    return value


def _tags(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [tag for tag in (part.strip() for part in value.split(",")) if tag]
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise RowRejected('The tags must be a list of text, like ["faiss", "ops"].')
    tags = [tag for tag in (tag.strip() for tag in value) if tag]
    # Tags travel comma-separated in CSV; one holding a comma would come back as two.
    with_comma = next((tag for tag in tags if "," in tag), None)
    if with_comma is not None:
        raise RowRejected(f"The tag {with_comma!r} contains a comma; tags cannot.")
    return tags


def _metadata_from_text(value: str | None) -> dict:
    if value is None or not value.strip():
        return {}
    try:
        parsed = json.loads(value, parse_constant=_refuse_constant)
    except ValueError as exc:
        where = f" at character {exc.pos + 1}" if isinstance(exc, json.JSONDecodeError) else ""
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise RowRejected(
            f'The metadata is not valid JSON ({reason}{where}); write an object like {{"source": "wiki"}}.'
        ) from None
    return _metadata(parsed)


def _metadata(value: Any) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RowRejected(f'The metadata must be a JSON object like {{"source": "wiki"}}, not {_json_type(value)}.')
    return value


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _json_type(value: Any) -> str:
    names = {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)


def _shown(value: Any) -> str:
    return repr(value[:40]) if isinstance(value, str) else _json_type(value)
