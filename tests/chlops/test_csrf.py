"""Every state-changing endpoint, called as a browser calls it: a session from the login form, CSRF enforced.

The routes are read from the resolver; a route that takes POST, PUT, PATCH or DELETE and has no entry in
CALLS fails the coverage test, so a new endpoint cannot arrive without its CSRF test.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from django.http import HttpResponse
from django.urls import URLPattern, URLResolver, get_resolver, path
from django.views.decorators.http import require_POST
from rest_framework.views import APIView

from alerts.models import AlertRule
from indexes.models import IndexSnapshot
from operations.models import Job, JobState, Upload
from tests.sessions import browser_login, csrf_header

pytestmark = pytest.mark.django_db

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
EVERY_METHOD = frozenset({"GET", "HEAD", "OPTIONS", *UNSAFE})


# --- Which routes change state ------------------------------------------------------------


def routes(patterns: list, prefix: str = "/") -> Iterator[tuple[str, URLPattern]]:
    """(route, pattern) for every URL pattern, without Django's own admin views (ours are mounted beside them)."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.app_name != "admin":
                yield from routes(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def view_methods(callback: Callable) -> frozenset[str]:
    """The HTTP methods a view answers: a class view's handlers, or a function view's require_http_methods."""
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)  # DRF, Django
    if view_class is not None:
        return frozenset(m.upper() for m in view_class.http_method_names if hasattr(view_class, m))
    function = callback
    while function is not None:  # down the decorators, each made with functools.wraps
        cells = zip(function.__code__.co_freevars, function.__closure__ or (), strict=True)
        for name, cell in cells:
            if name == "request_method_list":  # require_POST, require_GET, require_http_methods
                return frozenset(m.upper() for m in cell.cell_contents)
        function = getattr(function, "__wrapped__", None)
    # No restriction found: the view answers every method, so every unsafe one needs its entry.
    return EVERY_METHOD


def state_changing(patterns: list) -> set[tuple[str, str]]:
    return {
        (route, method)
        for route, pattern in routes(patterns)
        for method in sorted(view_methods(pattern.callback) & set(UNSAFE))
    }


# --- How a browser calls each of them -----------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One browser call: the status it gets with the CSRF header, the URL and the body."""

    status: int
    url: str | Callable[[], str]
    data: dict | Callable[[], dict] = field(default_factory=dict)
    as_json: bool = False
    user: str = "operator"  # the fixture that logs in: superuser for what only superusers may do

    def prepare(self) -> tuple[str, dict]:
        """The URL and body, with whatever objects they name created now."""
        return (self.url() if callable(self.url) else self.url), (self.data() if callable(self.data) else self.data)

    def send(self, client, method: str, url: str, data: dict, **headers) -> HttpResponse:
        send = getattr(client, method.lower())
        if self.as_json:
            return send(url, json.dumps(data), content_type="application/json", **headers)
        if method == "POST":
            return send(url, data, **headers)
        return send(url, **headers)  # the redirects take no body


def named(data: bytes, name: str) -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def a_csv() -> dict:
    return {"file": named(b"kind,external_id,title\nmanual,m1,One\n", "entries.csv")}


def a_job(state: str) -> Job:
    return Job.objects.create(type="canary", params={"seconds": 1}, state=state)


def running_job_url(template: str) -> Callable[[], str]:
    return lambda: template.format(id=a_job(JobState.RUNNING).pk)


def failed_job_url(template: str) -> Callable[[], str]:
    return lambda: template.format(id=a_job(JobState.FAILED).pk)




def not_a_zip() -> dict:
    return {"file": named(b"this is not a zip", "snap.zip")}


NO_SNAPSHOT = 987654  # a missing snapshot: the call reaches the view, which says so
NO_ALERT = 987654  # likewise a missing alert
NO_SILENCE = 987654  # and a missing silence


def a_rule_url() -> str:
    return f"/admin/ops/alerts/rules/{AlertRule.objects.get(name='Error rate above 5 %').pk}/"

CALLS: dict[tuple[str, str], Call] = {
    # The ops pages' controls (htmx posts with the page's token in the header).
    # Every operation posts here; the one with a file is the call whose body the CSRF check must not read first.
    ("/admin/ops/run/<slug:operation>/", "POST"): Call(
        200, "/admin/ops/run/import-upload/", lambda: {"import-upload-file": a_csv()["file"]}
    ),
    ("/admin/ops/jobs/<int:job_id>/cancel/", "POST"): Call(204, running_job_url("/admin/ops/jobs/{id}/cancel/")),
    ("/admin/ops/jobs/<int:job_id>/retry/", "POST"): Call(200, failed_job_url("/admin/ops/jobs/{id}/retry/")),
    ("/admin/ops/workers/<slug:action>/", "POST"): Call(400, "/admin/ops/workers/pause/", {"worker": "ghost@nowhere"}),
    ("/admin/ops/embedding/retry/", "POST"): Call(400, "/admin/ops/embedding/retry/"),
    ("/admin/ops/embedding/run/", "POST"): Call(200, "/admin/ops/embedding/run/"),
    ("/admin/ops/index/reindex/", "POST"): Call(200, "/admin/ops/index/reindex/"),
    ("/admin/ops/index/snapshots/create/", "POST"): Call(200, "/admin/ops/index/snapshots/create/"),
    ("/admin/ops/index/snapshots/upload/", "POST"): Call(400, "/admin/ops/index/snapshots/upload/", not_a_zip),
    ("/admin/ops/index/snapshots/<int:snapshot_id>/restore/", "POST"): Call(
        404, f"/admin/ops/index/snapshots/{NO_SNAPSHOT}/restore/", {"confirm": "snap"}
    ),
    ("/admin/ops/index/snapshots/<int:snapshot_id>/delete/", "POST"): Call(
        404, f"/admin/ops/index/snapshots/{NO_SNAPSHOT}/delete/"
    ),
    # The Settings page (superusers only): the forms answer with their card.
    ("/admin/ops/settings/credentials/", "POST"): Call(
        200, "/admin/ops/settings/credentials/",
        {"credential-name": "csrf-probe", "credential-kind": "git_token", "credential-secret": "t0ken"}, user="superuser",
    ),  # fmt: skip
    ("/admin/ops/settings/credentials/<str:name>/remove/", "POST"): Call(
        404, "/admin/ops/settings/credentials/ghost/remove/", user="superuser"
    ),
    ("/admin/ops/settings/credentials/<str:name>/verify/", "POST"): Call(
        404, "/admin/ops/settings/credentials/ghost/verify/", user="superuser"
    ),
    ("/admin/ops/settings/peers/", "POST"): Call(
        400, "/admin/ops/settings/peers/", {"peer-name": "p", "peer-base_url": "ftp://x", "peer-token": "t"}, user="superuser"
    ),
    ("/admin/ops/settings/peers/<str:name>/remove/", "POST"): Call(404, "/admin/ops/settings/peers/ghost/remove/", user="superuser"),
    ("/admin/ops/settings/peers/<str:name>/verify/", "POST"): Call(404, "/admin/ops/settings/peers/ghost/verify/", user="superuser"),
    # The Monitoring page's Cache card: Clear cache answers with the card.
    ("/admin/ops/monitoring/cache/clear/", "POST"): Call(200, "/admin/ops/monitoring/cache/clear/"),
    # The Alerts page: a banner's acknowledge button (htmx) and a rule's form (superusers).
    ("/admin/ops/alerts/<int:alert_id>/ack/", "POST"): Call(404, f"/admin/ops/alerts/{NO_ALERT}/ack/", {"page": "alerts"}),
    ("/admin/ops/alerts/rules/<int:rule_id>/", "POST"): Call(
        400, a_rule_url, {"threshold": "not a number"}, user="superuser"
    ),
    # Each viewer's alert preferences (a form of the Alerts page).
    ("/admin/ops/alerts/preferences/", "POST"): Call(400, "/admin/ops/alerts/preferences/", {"metrics": "mood"}),
    # Silences: the page's form (whoever may run jobs) and ending one early.
    ("/admin/ops/alerts/silences/", "POST"): Call(400, "/admin/ops/alerts/silences/", {"minutes": "5"}),
    ("/admin/ops/alerts/silences/<int:silence_id>/end/", "POST"): Call(404, f"/admin/ops/alerts/silences/{NO_SILENCE}/end/"),
    # The JSON API (a page script, or requests.Session after logging in).
    ("/api/jobs", "POST"): Call(201, "/api/jobs", {"type": "canary", "params": {"seconds": 1}}, as_json=True),
    ("/api/jobs/<int:job_id>/cancel", "POST"): Call(202, running_job_url("/api/jobs/{id}/cancel"), as_json=True),
    ("/api/jobs/<int:job_id>/retry", "POST"): Call(201, failed_job_url("/api/jobs/{id}/retry"), as_json=True),
    ("/api/uploads", "POST"): Call(201, "/api/uploads", a_csv),
    ("/api/workers/pause", "POST"): Call(400, "/api/workers/pause", {"workers": "all"}, as_json=True),
    ("/api/workers/resume", "POST"): Call(400, "/api/workers/resume", {"workers": "all"}, as_json=True),
    ("/api/snapshots", "POST"): Call(201, "/api/snapshots", as_json=True),
    ("/api/snapshots/upload", "POST"): Call(400, "/api/snapshots/upload", not_a_zip),
    ("/api/snapshots/<int:snapshot_id>", "DELETE"): Call(404, f"/api/snapshots/{NO_SNAPSHOT}"),
    ("/api/snapshots/<int:snapshot_id>/restore", "POST"): Call(
        404, f"/api/snapshots/{NO_SNAPSHOT}/restore", {"confirm": "snap"}, as_json=True
    ),
    ("/api/monitoring/cache/clear", "POST"): Call(200, "/api/monitoring/cache/clear", as_json=True),
    ("/api/peers", "POST"): Call(
        400, "/api/peers", {"name": "p", "base_url": "ftp://x", "token": "t"}, as_json=True, user="superuser"
    ),
    ("/api/peers/<str:name>", "DELETE"): Call(404, "/api/peers/ghost", user="superuser"),
    ("/api/peers/<str:name>/verify", "POST"): Call(404, "/api/peers/ghost/verify", as_json=True),
    ("/api/alerts/<int:alert_id>/ack", "POST"): Call(404, f"/api/alerts/{NO_ALERT}/ack", {}, as_json=True),
    ("/api/alerts/silences", "POST"): Call(201, "/api/alerts/silences", {"module": "web", "minutes": 5}, as_json=True),
    ("/api/alerts/silences/<int:silence_id>/end", "POST"): Call(404, f"/api/alerts/silences/{NO_SILENCE}/end", {}, as_json=True),
    # The redirects to the dashboard answer every method; they change nothing, and CSRF still applies.
    **{("/ops/", method): Call(302, "/ops/") for method in UNSAFE},
    **{("/", method): Call(302, "/") for method in UNSAFE},
}


def call_id(key: tuple[str, str]) -> str:
    return f"{key[1]} {key[0]}"


# --- The tests ----------------------------------------------------------------------------


class CsrfCoverageTests:
    def test_every_state_changing_endpoint_has_a_browser_call(self):
        found = state_changing(get_resolver().url_patterns)
        missing = sorted(found - set(CALLS))
        assert not missing, (
            "These endpoints take a state-changing method but have no entry in CALLS "
            f"(tests/chlops/test_csrf.py); add how a browser calls them: {missing}"
        )
        assert not sorted(set(CALLS) - found), "CALLS names endpoints that no longer exist; remove them."

    def test_a_new_post_endpoint_without_an_entry_is_caught(self):
        @require_POST
        def new_form_view(request):
            return HttpResponse()

        def any_method_view(request):
            return HttpResponse()

        class NewApiView(APIView):
            def put(self, request):
                return HttpResponse()

        extra = [
            path("new/form/", new_form_view),
            path("new/anything/", any_method_view),
            path("new/api", NewApiView.as_view()),
        ]
        missing = state_changing([*get_resolver().url_patterns, *extra]) - set(CALLS)
        assert missing == {
            ("/new/form/", "POST"),
            ("/new/api", "PUT"),
            *(("/new/anything/", method) for method in UNSAFE),
        }

    def test_read_only_views_are_not_counted(self):
        assert ("/admin/ops/", "POST") not in state_changing(get_resolver().url_patterns)
        assert ("/api/jobs/<int:job_id>", "POST") not in state_changing(get_resolver().url_patterns)


class CsrfEnforcementTests:
    @pytest.mark.parametrize("key", sorted(CALLS), ids=call_id)
    def test_a_session_with_the_csrf_header_gets_through(self, key, request):
        call = CALLS[key]
        client = browser_login(request.getfixturevalue(call.user))
        response = call.send(client, key[1], *call.prepare(), HTTP_HX_REQUEST="true", **csrf_header(client))
        assert response.status_code == call.status, response.content[:500]

    @pytest.mark.parametrize("key", sorted(CALLS), ids=call_id)
    def test_a_session_without_the_csrf_header_is_refused(self, key, request):
        call = CALLS[key]
        client = browser_login(request.getfixturevalue(call.user))
        url, data = call.prepare()
        jobs, uploads, snapshots = Job.objects.count(), Upload.objects.count(), IndexSnapshot.objects.count()
        response = call.send(client, key[1], url, data, HTTP_HX_REQUEST="true")
        assert response.status_code == 403
        assert b"CSRF" in response.content
        assert (Job.objects.count(), Upload.objects.count(), IndexSnapshot.objects.count()) == (jobs, uploads, snapshots)
