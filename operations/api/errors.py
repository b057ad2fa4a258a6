"""Every API error is JSON `{"error": "<sentence>"}`, plus `fields` or `conflict` where useful."""

from __future__ import annotations

from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from chlops.exceptions import ChlopsError
from operations.api.serializers import error_body

MESSAGES = {
    exceptions.NotAuthenticated: "Log in, or send 'Authorization: Bearer <token>'.",
    exceptions.PermissionDenied: "You do not have permission to do this; ask an administrator to add you to the right group.",
    Http404: "Not found: there is nothing with this id.",
}


def exception_handler(exc, context):
    if isinstance(exc, ChlopsError):
        return Response(error_body(exc), status=exc.status)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = getattr(exc, "detail", None)
    if isinstance(exc, exceptions.ParseError):
        message = f"The request body is not valid JSON: {detail}"
    elif isinstance(exc, exceptions.PermissionDenied) and "CSRF" in str(detail):
        message = f"{detail} Reload the page, or send the X-CSRFToken header."
    else:
        message = next((m for cls, m in MESSAGES.items() if isinstance(exc, cls)), None) or str(detail)
    if isinstance(exc, exceptions.NotAuthenticated) or response.status_code == status.HTTP_401_UNAUTHORIZED:
        message = (
            str(detail) if isinstance(exc, exceptions.AuthenticationFailed) else MESSAGES[exceptions.NotAuthenticated]
        )
    response.data = {"error": message}
    return response
