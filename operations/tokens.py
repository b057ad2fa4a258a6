"""Create, find and revoke API tokens; only their digests are stored."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.utils import timezone

from audit.services import audit_record
from operations.models import ApiToken

PREFIX = "chl_"


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def token_create(*, user: Any, name: str = "", actor: Any = None, source: str) -> tuple[ApiToken, str]:
    """Create a token for user; return it with the raw value, which is shown once and never again."""
    raw = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=raw[:12], digest=_digest(raw))
    audit_record(action="token.create", actor=actor, source=source, target=user.get_username(), details={"token": token.prefix, "name": name})
    return token, raw


def token_find(*, raw: str) -> ApiToken | None:
    return ApiToken.objects.select_related("user").filter(digest=_digest(raw), revoked_at__isnull=True).first()


def token_revoke(*, token: ApiToken, actor: Any = None, source: str) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    audit_record(action="token.revoke", actor=actor, source=source, target=token.user.get_username(), details={"token": token.prefix})
