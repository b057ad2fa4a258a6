"""A test client that holds a session the way a browser gets one: through the admin's login form, CSRF enforced."""

from __future__ import annotations

import re

from django.conf import settings
from django.test import Client

from tests.conftest import PASSWORD


def browser_login(user, *, password: str = PASSWORD) -> Client:
    """Log `user` in through /admin/login/ with the form's own CSRF token; CSRF stays enforced afterwards."""
    client = Client(enforce_csrf_checks=True)
    form = client.get("/admin/login/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    response = client.post(
        "/admin/login/", {"username": user.get_username(), "password": password, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302, f"the login form refused {user}: {response.status_code}"
    return client


def csrf_header(client: Client) -> dict[str, str]:
    """The X-CSRFToken header a page script builds from the csrftoken cookie (rotated at login)."""
    return {"HTTP_X_CSRFTOKEN": client.cookies[settings.CSRF_COOKIE_NAME].value}
