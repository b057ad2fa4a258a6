"""`Authorization: Bearer <token>` authentication; tokens are stored as SHA-256 digests."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import authentication, exceptions

from operations import tokens


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
            raise exceptions.AuthenticationFailed("This API token is unknown or revoked; create one with `manage.py tokens create`.")
        type(token).objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        return (token.user, token)

    def authenticate_header(self, request) -> str:
        return self.keyword
