"""The corpus."""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.db import models


class Kind(models.TextChoices):
    EXPERIENCE = "experience"
    MANUAL = "manual"
    DOCUMENT = "document"


class EmbeddingState(models.TextChoices):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


class Entry(models.Model):
    kind = models.CharField(max_length=16, choices=Kind.choices)
    external_id = models.CharField(max_length=255)
    title = models.CharField(max_length=500, blank=True)
    body = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64)
    embedding_state = models.CharField(max_length=16, choices=EmbeddingState.choices, default=EmbeddingState.PENDING)
    embedding_error = models.TextField(blank=True)
    # The vector itself: float32 bytes, normalised, of the dimension of `embedding_model`.
    embedding = models.BinaryField(null=True, blank=True, editable=False)
    # Database defaults too: the import writes new rows with one raw prepared INSERT.
    embedding_model = models.CharField(
        max_length=128, blank=True, default="", db_default="", help_text="Embedder name and dimension."
    )
    embedded_at = models.DateTimeField(null=True, blank=True)
    # Where an ingested entry came from (a repository); empty for entries written by people.
    origin = models.CharField(max_length=512, blank=True, default="", db_default="", db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "external_id"]
        verbose_name_plural = "entries"
        constraints = [models.UniqueConstraint(fields=["kind", "external_id"], name="entry_kind_external_id")]
        indexes = [
            models.Index(fields=["embedding_state", "kind"], name="entry_embedding_state_kind"),
            # The embedding card's stale counts by embedder, read from the index alone.
            models.Index(fields=["embedding_state", "embedding_model"], name="entry_embedding_state_model"),
            # The newest changes, and whether the index misses any (the settings diagnostics), by a probe.
            models.Index(fields=["updated_at"], name="entry_updated_at"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.external_id}"

    @staticmethod
    def hash_content(*, title: str, body: str, tags: list[str], metadata: dict) -> str:
        payload = json.dumps([title, body, tags, metadata], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()


class SnapshotSource(models.TextChoices):
    JOB = "job"
    UPLOAD = "upload"
    RESTORE_BACKUP = "restore-backup"


class IndexSnapshot(models.Model):
    """A saved copy of a served index set: its files and manifest in one ZIP under DATA_DIR/snapshots."""

    name = models.CharField(max_length=128, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="index_snapshots"
    )
    source = models.CharField(max_length=16, choices=SnapshotSource.choices, default=SnapshotSource.JOB)
    correlation_id = models.UUIDField(null=True, blank=True)
    # files ({name: {"sha256", "size"}}), dimension, vectors, embedder, index_type, version, creator
    manifest = models.JSONField(default=dict)
    size_bytes = models.BigIntegerField(default=0)
    path = models.CharField(max_length=512, help_text="The stored ZIP, relative to DATA_DIR/snapshots.")

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.name


# --- Credentials and peers (DESIGN §12) ------------------------------------------------------


class CredentialKind(models.TextChoices):
    PEER_TOKEN = "peer_token", "Peer token"
    GIT_TOKEN = "git_token", "Git host token"


class Credential(models.Model):
    """A secret's metadata; the secret itself is a file of chlops.credentials and never in the database."""

    name = models.CharField(max_length=64, unique=True, help_text="Also the name of its file under the data dir.")
    kind = models.CharField(max_length=16, choices=CredentialKind.choices)
    fingerprint = models.CharField(max_length=16, help_text="A short SHA-256 of the secret, to tell secrets apart.")
    set_at = models.DateTimeField()
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_verified_at = models.DateTimeField(null=True, blank=True)
    last_ok = models.BooleanField(null=True, blank=True, help_text="The last verification's outcome; empty: never verified.")
    last_result = models.TextField(blank=True, help_text="The last verification's answer, in a sentence.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Peer(models.Model):
    """Another CHL Ops instance that this one verifies and, later, syncs the corpus with."""

    name = models.CharField(max_length=64, unique=True)
    base_url = models.URLField(max_length=500)
    credential = models.ForeignKey(
        Credential, on_delete=models.PROTECT, related_name="peers", help_text="The token this instance calls the peer with."
    )
    # The peer's Ed25519 public key (base64 of the raw 32 bytes), recorded on first contact.
    signing_key = models.CharField(max_length=64, blank=True)
    signing_key_fingerprint = models.CharField(max_length=64, blank=True)
    signing_key_recorded_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    # Where the last complete sync in each direction ended, as the side that produced it counts.
    push_watermark = models.CharField(max_length=64, blank=True)
    pull_watermark = models.CharField(max_length=64, blank=True)
    pushed_at = models.DateTimeField(null=True, blank=True)
    pulled_at = models.DateTimeField(null=True, blank=True)
    last_verified_at = models.DateTimeField(null=True, blank=True)
    last_ok = models.BooleanField(null=True, blank=True)
    last_result = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        permissions = [("sync_peers", "Can call /api/sync/* as another CHL Ops instance")]

    def __str__(self) -> str:
        return self.name
