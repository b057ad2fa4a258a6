from __future__ import annotations

from django.urls import path

from operations.api import views, workers

urlpatterns = [
    path("jobs", views.JobListView.as_view(), name="api-jobs"),
    path("jobs/<int:job_id>", views.JobDetailView.as_view(), name="api-job"),
    path("jobs/<int:job_id>/cancel", views.JobCancelView.as_view(), name="api-job-cancel"),
    path("jobs/<int:job_id>/retry", views.JobRetryView.as_view(), name="api-job-retry"),
    path("uploads", views.UploadView.as_view(), name="api-uploads"),
    path("workers", workers.WorkerListView.as_view(), name="api-workers"),
    path("workers/pause", workers.WorkerControlView.as_view(action="pause"), name="api-workers-pause"),
    path("workers/resume", workers.WorkerControlView.as_view(action="resume"), name="api-workers-resume"),
    path("queues", workers.QueuesView.as_view(), name="api-queues"),
]
