"""Parameters of the snapshot and restore jobs."""

from __future__ import annotations

from django import forms

from indexes.models import IndexSnapshot


class SnapshotParamsForm(forms.Form):
    """The snapshot job takes no parameters: it saves the served index."""


class RestoreParamsForm(forms.Form):
    snapshot = forms.IntegerField(min_value=1, help_text="The id of the snapshot to restore.")

    def clean_snapshot(self) -> int:
        snapshot_id = self.cleaned_data["snapshot"]
        if not IndexSnapshot.objects.filter(pk=snapshot_id).exists():
            raise forms.ValidationError(f"There is no snapshot with id {snapshot_id}; list them with `snapshots list`.")
        return snapshot_id
