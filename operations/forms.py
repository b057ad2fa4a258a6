"""The dashboard's own forms; the run card shows each job type's parameter form (operations.registry)."""

from __future__ import annotations

from django import forms

from operations import registry
from operations.models import JobState


class JobFilterForm(forms.Form):
    state = forms.ChoiceField(label="State", required=False)
    type = forms.ChoiceField(label="Type", required=False)
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("auto_id", "filter-%s")
        super().__init__(*args, **kwargs)
        self.fields["state"].choices = [("", "All states"), *JobState.choices]
        self.fields["type"].choices = [("", "All types")] + [(t.name, t.label) for t in registry.all_types()]
