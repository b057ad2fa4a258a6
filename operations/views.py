"""The dashboard: custom admin views that parse, call one service and answer with a card."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from chlops.exceptions import ChlopsError
from operations import cards, fragments, services, toasts, uploads, workers
from operations.access import DENIED, RUN, VIEW, access_check, can_run, denied, ops_view
from operations.forms import JobFilterForm
from operations.models import Job, JobState
from operations.registry import Operation, operation_get, operations_available

SOURCE = "web"


# --- Pages and the partials they poll -----------------------------------------------------


@ops_view(VIEW)
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    filters = fragments.JobFilters.from_query(request.GET)
    context = {
        **admin.site.each_context(request),
        "title": "Operations",
        **fragments.tabs_context("operations"),
        "filter_form": JobFilterForm(initial={"state": filters.state, "type": filters.type}),
        "ws_query": filters.query(),
        **fragments.jobs_table_context(filters=filters, can_run=can_run(request.user)),
        **fragments.latest_runs_context(),
        **fragments.system_status_context(),
        **fragments.cards_context(can_run=can_run(request.user)),
        **run_card_context(),
    }
    return render(request, fragments.DASHBOARD, context)


@ops_view(VIEW)
@require_GET
def card(request: HttpRequest, name: str) -> HttpResponse:
    try:
        found = cards.get(name)
    except cards.UnknownCard as exc:
        raise Http404(exc.message) from None
    perm = cards.page_perm(found.page)  # a card is seen by whoever may open its page, and nobody else
    if perm != VIEW and not access_check(request, perm, source=SOURCE):
        return denied(request, DENIED[perm])
    return HttpResponse(cards.card_render(found, can_run=can_run(request.user)))


@ops_view(VIEW)
@require_GET
def system_status(request: HttpRequest) -> HttpResponse:
    return render(request, f"{fragments.STATUS}#system-status", fragments.system_status_context())


@ops_view(VIEW)
@require_GET
def jobs_table(request: HttpRequest) -> HttpResponse:
    filters = fragments.JobFilters.from_query(request.GET)
    context = fragments.jobs_table_context(filters=filters, can_run=can_run(request.user))
    return render(request, f"{fragments.DASHBOARD}#jobs-table", context)


@ops_view(VIEW)
@require_GET
def latest_runs(request: HttpRequest) -> HttpResponse:
    return render(request, f"{fragments.DASHBOARD}#latest-runs", fragments.latest_runs_context())


@ops_view(VIEW)
@require_GET
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(Job.objects.select_related("requested_by", "retry_of"), pk=job_id)
    context = {
        **admin.site.each_context(request),
        "title": str(job),
        **fragments.tabs_context("operations"),
        **fragments.job_detail_context(job=job, can_run=can_run(request.user)),
        **fragments.system_status_context(),
    }
    return render(request, fragments.DETAIL, context)


@ops_view(VIEW)
@require_GET
def job_detail_partial(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(Job.objects.select_related("requested_by", "retry_of"), pk=job_id)
    return render(
        request, f"{fragments.DETAIL}#job-detail", fragments.job_detail_context(job=job, can_run=can_run(request.user))
    )


# --- Run an operation ---------------------------------------------------------------------


def run_card_context(*, bound: tuple[Operation, object] | None = None, started: Job | None = None) -> dict:
    forms = []
    for op in operations_available():
        form = bound[1] if bound and bound[0] is op else op.make_form()
        forms.append({"op": op, "form": form, "conflict": getattr(form, "conflict", None)})
    return {"operations": forms, "started": started, "upload_cap": settings.CHLOPS_UPLOAD_MAX_BYTES}


def run_card(request: HttpRequest, *, bound=None, started: Job | None = None, status: int = 200) -> HttpResponse:
    response = render(
        request, f"{fragments.DASHBOARD}#run-card", run_card_context(bound=bound, started=started), status=status
    )
    if started is not None:
        trigger_client_event(response, "ops:jobs-changed", {"id": started.pk})
        toasts.toast(response, f"Started {started}.")
    elif bound is not None and status >= 400:
        toasts.toast(response, toasts.form_failure(bound[0].title, bound[1]))
    return response


def start(request: HttpRequest, op: Operation, form, params: dict) -> HttpResponse:
    """Start the operation's job; put any error on the form, where the user typed."""
    try:
        job = services.job_start(type=op.job_type, params=op.params(params), actor=request.user, source=SOURCE)
    except services.JobParamsInvalid as exc:
        for param, messages in exc.fields.items():
            field = op.field_for(param)
            for message in messages:
                form.add_error(field if field in form.fields else None, message)
        if not exc.fields:
            form.add_error(None, exc.message)
        return run_card(request, bound=(op, form), status=400)
    except services.LockHeld as exc:
        form.add_error(None, exc.message)
        form.conflict = exc.conflict if exc.conflict.pk else None
        return run_card(request, bound=(op, form), status=409)
    except ChlopsError as exc:
        form.add_error(None, exc.message)
        return run_card(request, bound=(op, form), status=exc.status)
    return run_card(request, started=job)


@ops_view(RUN)
@uploads.upload_view()
@require_POST
def job_start(request: HttpRequest, operation: str) -> HttpResponse:
    op = operation_get(operation)
    if op is None:
        raise Http404("No such operation.")
    try:
        files = uploads.upload_files(request)
    except uploads.UploadTooLarge as exc:
        return upload_too_large(request, op, exc.message)
    form = op.make_form(data=request.POST, files=files)
    if not form.is_valid():
        return run_card(request, bound=(op, form), status=400)
    params = form.cleaned_data
    if op.upload:
        field, param = op.upload
        upload = uploads.upload_store(file=form.cleaned_data[field], actor=request.user, source=SOURCE)
        params = {param: str(upload.pk)}
    return start(request, op, form, params)


def upload_too_large(request: HttpRequest, op: Operation, message: str) -> HttpResponse:
    form = op.make_form(data={}, files={})
    form.is_valid()
    form.errors.clear()
    form.add_error(None, message)
    return run_card(request, bound=(op, form), status=413)


# --- Cancel and retry ---------------------------------------------------------------------


def job_card(request: HttpRequest, job: Job, *, status: int = 200, **extra) -> HttpResponse:
    """Answer with the card the button sat in: the job's detail block or its table row."""
    job = Job.objects.select_related("requested_by", "retry_of").get(pk=job.pk)
    if request.htmx.target == f"job-{job.pk}-detail":
        context = {**fragments.job_detail_context(job=job, can_run=True), **extra}
        response = render(request, f"{fragments.DETAIL}#job-detail", context, status=status)
    else:
        response = render(request, f"{fragments.DASHBOARD}#job-row", {"job": job, "can_run": True, **extra}, status=status)
    return toasts.toast_answer(response, extra)


@ops_view(RUN)
@require_POST
def job_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(Job, pk=job_id)
    try:
        job = services.job_cancel(job=job, actor=request.user, source=SOURCE)
    except ChlopsError as exc:
        return job_card(request, job, status=exc.status, action_error=exc.message)
    # No card in the answer: the job is still moving, and the pushed update is newer than any we could render.
    response = trigger_client_event(HttpResponse(status=204), "ops:jobs-changed", {"id": job.pk})
    if job.state == JobState.CANCELLED:
        return toasts.toast(response, f"Cancelled {job}.")
    return toasts.toast(response, f"Asked {job} to stop; it stops at its next checkpoint.")


@ops_view(RUN)
@require_POST
def job_retry(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(Job, pk=job_id)
    try:
        retry = services.job_retry(job=job, actor=request.user, source=SOURCE)
    except services.LockHeld as exc:
        return job_card(request, job, status=exc.status, action_error=exc.message, conflict=exc.conflict)
    except ChlopsError as exc:
        return job_card(request, job, status=exc.status, action_error=exc.message)
    response = job_card(request, job, retried_as=retry)
    trigger_client_event(response, "ops:jobs-changed", {"id": retry.pk})
    return response


# --- Workers: pause, resume, drain (the workers card itself is monitoring's) -------------


@ops_view(RUN)
@require_POST
def workers_control(request: HttpRequest, action: str) -> HttpResponse:
    names = [name for name in request.POST.getlist("worker") if name] or None
    status, error = 200, False
    try:
        if action == "drain":
            job = services.job_start(type="drain", params={"timeout": request.POST.get("timeout") or 300}, actor=request.user, source=SOURCE)
            notice = f"Started {job}: workers are paused when the queues are empty or the timeout is reached."
        elif action in ("pause", "resume"):
            control = workers.workers_pause if action == "pause" else workers.workers_resume
            notice = control(workers=names, actor=request.user, source=SOURCE).sentence()
        else:
            raise Http404("No such worker action.")
    except ChlopsError as exc:
        # An unknown worker is 404 in the API; here the card must swap in to show the sentence.
        notice, status, error = exc.message, 400 if exc.status == 404 else exc.status, True
    return cards.card_response("workers-card", status=status, notice=notice, notice_error=error)
