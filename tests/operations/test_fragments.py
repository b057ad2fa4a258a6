from __future__ import annotations

import re

import pytest

from operations import broadcasts, fragments
from operations.fragments import JobFilters
from operations.models import Job, JobState

pytestmark = pytest.mark.django_db(transaction=True)


class SnapshotSharedTests:
    def test_clients_asking_at_the_same_sequence_share_one_rendering(self):
        broadcasts.next_seq()
        # Workers of other tests push cards too; take two askings between which nothing was pushed.
        for _ in range(50):
            seq = broadcasts.current_seq()
            first = fragments.snapshot_shared(can_run=True, filters=JobFilters())
            second = fragments.snapshot_shared(can_run=True, filters=JobFilters())
            if broadcasts.current_seq() == seq:
                break
        assert second is first

    def test_rights_filters_and_pages_each_have_their_own(self):
        broadcasts.next_seq()
        operator = fragments.snapshot_shared(can_run=True, filters=JobFilters())
        assert fragments.snapshot_shared(can_run=False, filters=JobFilters()) is not operator
        assert fragments.snapshot_shared(can_run=True, filters=JobFilters(state="failed")) is not operator
        job = Job.objects.create(type="canary", state=JobState.FAILED, error="boom")
        page = fragments.snapshot_shared(can_run=True, filters=JobFilters(), job_id=job.pk)
        assert f'id="job-{job.pk}-detail"' in page and "boom" in page

    def test_a_change_pushed_since_is_in_the_next_snapshot(self):
        broadcasts.next_seq()
        before = fragments.snapshot_shared(can_run=True, filters=JobFilters())
        job = Job.objects.create(type="canary", state=JobState.RUNNING)
        change = broadcasts.next_seq()  # what publishing the job's change does, before anyone can ask again
        after = fragments.snapshot_shared(can_run=True, filters=JobFilters())
        assert f'<tr id="job-{job.pk}"' in after and f'<tr id="job-{job.pk}"' not in before
        # Other processes of the run (workers' cards, alert banners) may push meanwhile: the snapshot
        # carries the change's number or a later one, never an earlier.
        assert int(re.search(r'data-seq="(\d+)"', after).group(1)) >= change
