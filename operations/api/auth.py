"""`Authorization: Bearer <token>` authentication; tokens are stored as SHA-256 digests."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from operations import tokens

# How stale a token's "last used" may get: writing it on every call would add a write and a commit to
# every scripted request (a read included), for a time people read to the minute at best.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != b"bearer":
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the header as 'Authorization: Bearer <token>'.")
        token = tokens.token_find(raw=header[1].decode("latin-1"))
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed(
                "This API token is unknown or revoked; create one with `manage.py tokens create`."
            )
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
            type(token).objects.filter(pk=token.pk).update(last_used_at=now)
        return (token.user, token)

    def authenticate_header(self, request) -> str:
        return self.keyword
