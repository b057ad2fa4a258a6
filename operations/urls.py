"""The dashboard's URLs, mounted at /admin/ops/."""

from __future__ import annotations

from django.urls import path

from operations import views

app_name = "ops"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("partials/jobs-table/", views.jobs_table, name="jobs-table"),
    path("partials/latest-runs/", views.latest_runs, name="latest-runs"),
    path("partials/system-status/", views.system_status, name="system-status"),
    path("partials/card/<slug:name>/", views.card, name="card"),
    path("run/<slug:operation>/", views.job_start, name="run"),
    path("jobs/<int:job_id>/", views.job_detail, name="job-detail"),
    path("jobs/<int:job_id>/partial/", views.job_detail_partial, name="job-detail-partial"),
    path("jobs/<int:job_id>/cancel/", views.job_cancel, name="job-cancel"),
    path("jobs/<int:job_id>/retry/", views.job_retry, name="job-retry"),
    path("workers/<slug:action>/", views.workers_control, name="workers-control"),
]
