"""`tokens create|revoke|list`: API tokens, shown once and stored hashed."""

from __future__ import annotations

import json as json_module

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from operations import tokens
from operations.models import ApiToken


class Command(BaseCommand):
    help = "Create, revoke and list API tokens for `Authorization: Bearer <token>`."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
        create = sub.add_parser("create", help="Create a token and print it once.")
        create.add_argument("username")
        create.add_argument("--name", default="", help="What the token is for.")
        revoke = sub.add_parser("revoke", help="Revoke a token by its prefix (see `tokens list`).")
        revoke.add_argument("prefix")
        listing = sub.add_parser("list", help="List tokens (prefixes only).")
        listing.add_argument("--json", action="store_true")

    def handle(self, *args, action: str, **options) -> None:
        getattr(self, f"do_{action}")(**options)

    def do_create(self, *, username: str, name: str, **_) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"There is no user {username!r}; create it in the admin first.", returncode=2)
        token, raw = tokens.token_create(user=user, name=name, source="cli")
        self.stdout.write(raw)
        self.stderr.write(f"Token {token.prefix}… for {username}. It is shown only now; store it safely.")

    def do_revoke(self, *, prefix: str, **_) -> None:
        matches = list(ApiToken.objects.select_related("user").filter(prefix__startswith=prefix, revoked_at__isnull=True))
        if len(matches) != 1:
            found = "no active token" if not matches else f"{len(matches)} active tokens"
            raise CommandError(f"{found} match {prefix!r}; give a longer prefix from `tokens list`.", returncode=2)
        tokens.token_revoke(token=matches[0], source="cli")
        self.stdout.write(f"Revoked {matches[0]}.")

    def do_list(self, *, json: bool, **_) -> None:
        rows = [
            {"prefix": t.prefix, "user": t.user.get_username(), "name": t.name, "created_at": t.created_at.isoformat(),
             "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None, "revoked": bool(t.revoked_at)}
            for t in ApiToken.objects.select_related("user")
        ]
        if json:
            self.stdout.write(json_module.dumps(rows, indent=2))
            return
        for row in rows:
            state = "revoked" if row["revoked"] else "active"
            self.stdout.write(f"{row['prefix']}…  {row['user']:<20} {state:<8} {row['name']}")
