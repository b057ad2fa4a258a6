"""The verify job's parameters and the Settings page's two forms; a secret is never rendered back."""

from __future__ import annotations

from django import forms

from indexes.models import Credential, CredentialKind, Peer


class VerifyParamsForm(forms.Form):
    """Verify one peer or one credential: exactly one of the two names."""

    peer = forms.CharField(required=False, max_length=64)
    credential = forms.CharField(required=False, max_length=64)

    def clean(self) -> dict:
        cleaned = super().clean()
        peer, credential = cleaned.get("peer"), cleaned.get("credential")
        if bool(peer) == bool(credential):
            raise forms.ValidationError("Name either a peer or a credential to verify, not both and not neither.")
        if peer and not Peer.objects.filter(name=peer).exists():
            self.add_error("peer", f"There is no peer named {peer}; `peers list` shows them.")
        if credential and not Credential.objects.filter(name=credential).exists():
            self.add_error("credential", f"There is no credential named {credential}.")
        return cleaned


# The secret fields: typed once, never rendered back (render_value=False), never offered to a password manager.
SECRET_WIDGET = forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"})


class CredentialForm(forms.Form):
    prefix = "credential"  # both forms share a page: their fields' ids must differ
    name = forms.CharField(max_length=64, help_text="Lowercase letters, digits, '-', '_' or '.'; e.g. github-ci.")
    kind = forms.ChoiceField(choices=CredentialKind.choices, initial=CredentialKind.GIT_TOKEN)
    secret = forms.CharField(
        label="Token", max_length=4096, strip=False, widget=SECRET_WIDGET,
        help_text="Stored in a file readable by CHL Ops only; it is never shown again.",
    )  # fmt: skip


class PeerForm(forms.Form):
    prefix = "peer"
    name = forms.CharField(max_length=59, help_text="How this instance calls it; e.g. laptop.")
    base_url = forms.CharField(label="Base URL", max_length=500, help_text="e.g. https://kb.example.org")
    token = forms.CharField(
        max_length=4096, strip=False, widget=SECRET_WIDGET,
        help_text="A token of a user in the Peers group of that instance (`manage.py tokens create` there).",
    )  # fmt: skip
