"""A page script uploads through the API with the session and the CSRF token of the page it runs in."""

from __future__ import annotations

import pytest

from operations.models import Upload
from tests.browser.test_dashboard import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSV = "kind,external_id,title\nmanual,m1,One\n"

# Runs in the page: the token is the one the page hands htmx, the session is the browser's cookie.
UPLOAD = """async ({csv, withToken}) => {
    const token = JSON.parse(document.querySelector("[hx-headers]").getAttribute("hx-headers"))["X-CSRFToken"];
    const form = new FormData();
    form.append("file", new Blob([csv], {type: "text/csv"}), "entries.csv");
    const headers = withToken ? {"X-CSRFToken": token} : {};
    const response = await fetch("/api/uploads", {method: "POST", body: form, headers, credentials: "same-origin"});
    return {status: response.status, body: await response.json()};
}"""


class PageScriptUploadTests:
    def test_the_page_uploads_a_file_through_the_api_with_its_own_token(self, page, operator):
        log_in(page, operator)
        page.goto("/admin/ops/")
        answer = page.evaluate(UPLOAD, {"csv": CSV, "withToken": True})
        assert answer["status"] == 201, answer
        upload = Upload.objects.get(pk=answer["body"]["id"])
        assert answer["body"] == {"id": str(upload.pk), "name": "entries.csv", "size": len(CSV)}
        assert upload.uploaded_by == operator
        assert upload.path.read_text() == CSV

    def test_without_the_token_the_same_script_is_refused(self, page, operator):
        log_in(page, operator)
        page.goto("/admin/ops/")
        answer = page.evaluate(UPLOAD, {"csv": CSV, "withToken": False})
        assert answer["status"] == 403
        assert "CSRF" in answer["body"]["error"]
        assert not Upload.objects.exists()
